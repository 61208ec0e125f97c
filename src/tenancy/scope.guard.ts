import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { missingScope, ScopedResource } from '../auth/access-token.js';
import { SCOPED_RESOURCE } from '../auth/auth.decorators.js';
import type { AuthenticatedRequest } from '../auth/auth.guard.js';
import { forbidden, unauthorized } from '../auth/token-verifier.js';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { TenantRateLimiter } from '../traffic/tenant-rate-limiter.js';
import { Scope, SCOPE_KEY_PATTERN } from './scope.js';

/** What the tenancy layer attaches to a request once it has been let in. */
export interface ScopedRequest extends AuthenticatedRequest {
  scope: Scope;
  /** The token subject acting (`createdBy`/`modifiedBy`). */
  actor: string | null;
}

/**
 * The one place a request gets its scope. Runs after the global AuthGuard (401) and:
 * 1. validates `{tenantKey}/{orgKey}` from the URL (400 when malformed);
 * 2. checks that the token covers them — its `tenant`, its `orgs` (when present) and the scope the
 *    route needs (`@ActsOn`): 403 otherwise;
 * 3. hands the request its frozen Scope and actor, which handlers receive through `@RequestScope()`
 *    and `@Actor()`; nothing else reads the path's tenant or org;
 * 4. counts the request against its tenant's rate limit (429 when it is spent; the RateLimit
 *    headers otherwise), when RATE_LIMIT_RPS is set. Only requests let in by 1–3 are counted, so
 *    nobody without a valid token for the tenant can spend its budget.
 */
@Injectable()
export class ScopeGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly rateLimiter: TenantRateLimiter,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const request = context.switchToHttp().getRequest<ScopedRequest>();
    const tenantKey: unknown = request.params['tenantKey'];
    const orgKey: unknown = request.params['orgKey'];
    for (const [name, value] of [['tenantKey', tenantKey], ['orgKey', orgKey]] as const) {
      if (typeof value !== 'string' || !SCOPE_KEY_PATTERN.test(value)) {
        throw new AppError(ErrorCode.InvalidScope, `${name} must be 1–64 characters of A–Z, a–z, 0–9, '_' or '-'`, name);
      }
    }
    const token = request.auth;
    if (!token) throw unauthorized('A bearer token is required', false);
    if (token.tenant !== tenantKey) throw forbidden(`The token is not valid for tenant '${tenantKey as string}'`);
    if (token.orgs && !token.orgs.includes(orgKey as string)) {
      throw forbidden(`The token is not valid for org '${orgKey as string}'`);
    }
    const resource = this.reflector.getAllAndOverride<ScopedResource | undefined>(SCOPED_RESOURCE, [context.getHandler(), context.getClass()]);
    if (!resource) throw new Error(`${context.getClass().name} uses ScopeGuard without @ActsOn`);
    const access = request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'write';
    const missing = missingScope(token, resource, access);
    if (missing) throw forbidden(`The token lacks the scope ${missing}`, missing);

    request.scope = Object.freeze({ tenantKey: tenantKey as string, orgKey: orgKey as string });
    request.actor = token.subject;
    if (!this.rateLimiter.enabled) return true;
    return this.rateLimiter.admit(tenantKey as string).then((headers) => {
      const response = context.switchToHttp().getResponse<Response>();
      for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
      return true;
    });
  }
}
