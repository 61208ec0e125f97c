import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Scope } from './scope.js';
import type { ScopedRequest } from './scope.guard.js';

/** The validated scope of the request (set by `ScopeGuard`). */
export const RequestScope = createParamDecorator((_: unknown, context: ExecutionContext): Scope => {
  const scope = context.switchToHttp().getRequest<ScopedRequest>().scope;
  if (!scope) throw new Error('RequestScope used on a route without ScopeGuard');
  return scope;
});

/** The subject acting on the request, recorded as createdBy/modifiedBy (null without authentication). */
export const Actor = createParamDecorator(
  (_: unknown, context: ExecutionContext): string | null => context.switchToHttp().getRequest<ScopedRequest>().actor ?? null,
);
