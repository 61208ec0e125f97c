import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { Scope, SCOPE_KEY_PATTERN } from './scope.js';

/** What the tenancy layer attaches to a request once it has been let in. */
export interface ScopedRequest extends Request {
  scope: Scope;
  /** The token subject acting (`createdBy`/`modifiedBy`); null until authentication is configured. */
  actor: string | null;
}

/**
 * Validates `{tenantKey}/{orgKey}` from the URL (400 when malformed) and hands the request its Scope.
 * This is the one place a request gets its scope: handlers receive it through `@RequestScope()` and
 * never read the path parameters themselves. Authentication (401) and the check that the token covers
 * this scope (403) belong in front of this guard.
 */
@Injectable()
export class ScopeGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<ScopedRequest>();
    const tenantKey: unknown = request.params['tenantKey'];
    const orgKey: unknown = request.params['orgKey'];
    for (const [name, value] of [['tenantKey', tenantKey], ['orgKey', orgKey]] as const) {
      if (typeof value !== 'string' || !SCOPE_KEY_PATTERN.test(value)) {
        throw new AppError(ErrorCode.InvalidScope, `${name} must be 1–64 characters of A–Z, a–z, 0–9, '_' or '-'`, name);
      }
    }
    request.scope = Object.freeze({ tenantKey: tenantKey as string, orgKey: orgKey as string });
    request.actor ??= null;
    return true;
  }
}
