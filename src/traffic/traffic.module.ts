import { Global, Module } from '@nestjs/common';
import { TenantRateLimiter } from './tenant-rate-limiter.js';

/**
 * Traffic control (issue 16): the per-tenant request rate limits. Global, because ScopeGuard — which
 * counts each admitted request — is instantiated in every module whose controllers use it.
 */
@Global()
@Module({ providers: [TenantRateLimiter], exports: [TenantRateLimiter] })
export class TrafficModule {}
