import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { AccessToken } from './access-token.js';
import { PUBLIC_ROUTE } from './auth.decorators.js';
import { TokenVerifier, unauthorized } from './token-verifier.js';

export interface AuthenticatedRequest extends Request {
  auth?: AccessToken;
}

/**
 * Global guard: every route needs a valid bearer token unless marked @Public(). It never returns
 * false (Nest would answer 403): a missing or bad token is a 401 with `WWW-Authenticate: Bearer`.
 * Whether the token covers the URL's tenant, org and scope is checked by ScopeGuard (403).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization;
    if (!header) throw unauthorized('A bearer token is required', false);
    const match = /^Bearer[ ]+([A-Za-z0-9_\-.=+/]+)\s*$/i.exec(header);
    if (!match) throw unauthorized('The Authorization header must be "Bearer <token>"');
    request.auth = await this.verifier.verify(match[1]!);
    return true;
  }
}
