import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { defaultBurst } from '../traffic/rate-limit-policy.js';
import type { Environment } from './environment.js';

export type JwtSettings = { issuer?: string; audience?: string; clockToleranceSeconds: number } & (
  | { kind: 'secret'; secret: string }
  | { kind: 'public-key'; pem: string }
  | { kind: 'jwks'; url: string }
  | { kind: 'dev' }
);

/** Per-tenant request rate limits (issue 16); see src/traffic/. */
export interface RateLimitSettings {
  /** Sustained requests per second per tenant (> 0). */
  requestsPerSecond: number;
  /** The bucket: requests a tenant may send at once. */
  burst: number;
  /** Where the budgets live: Redis (shared by every replica), or this process's memory. */
  redisUrl?: string;
  keyPrefix: string;
}

/** Typed, already-validated configuration for the rest of the service. */
@Injectable()
export class AppConfig {
  constructor(private readonly config: ConfigService<Environment, true>) {}

  get port(): number {
    return this.config.get('PORT', { infer: true });
  }
  get databaseUrl(): string | undefined {
    return this.config.get('DATABASE_URL', { infer: true });
  }
  get dataDir(): string {
    return this.config.get('DATA_DIR', { infer: true });
  }
  get dbPoolSize(): number {
    return this.config.get('DB_POOL_SIZE', { infer: true });
  }
  get dbPreparedStatements(): number {
    return this.config.get('DB_PREPARED_STATEMENTS', { infer: true });
  }
  get dbStatementTimeoutMs(): number {
    return this.config.get('DB_STATEMENT_TIMEOUT_MS', { infer: true });
  }
  get dbPoolWaitMs(): number {
    return this.config.get('DB_POOL_WAIT_MS', { infer: true });
  }
  /**
   * A tenant's share of the connections: TENANT_MAX_CONCURRENCY, else a quarter of the pool (at
   * least 1; the embedded database has one connection). The fairness drill decided it: on the 2-core
   * bench machine one tenant's heavy queries saturate the database's CPU with 2 connections as with
   * 5 (its throughput stayed ~31 req/s), but the other tenant's p99 was 26 ms with 2, 43 ms with 3 and
   * 99 ms with 5 (6 ms quiet).
   */
  get tenantMaxConcurrency(): number {
    const configured = this.config.get('TENANT_MAX_CONCURRENCY', { infer: true }) as number | undefined;
    if (configured !== undefined) return configured;
    return this.databaseUrl ? Math.max(1, Math.floor(this.dbPoolSize / 4)) : 1;
  }
  get tenantQueueWaitMs(): number {
    return this.config.get('TENANT_QUEUE_WAIT_MS', { infer: true });
  }
  get maxResponseRows(): number {
    return this.config.get('MAX_RESPONSE_ROWS', { infer: true });
  }
  get maxBodyBytes(): number {
    return this.config.get('MAX_BODY', { infer: true });
  }
  /** How bearer tokens are verified; `dev` when nothing is configured (local default). */
  get jwt(): JwtSettings {
    const get = <K extends keyof Environment>(key: K) => this.config.get(key, { infer: true }) as Environment[K];
    const common = {
      issuer: get('JWT_ISSUER'),
      audience: get('JWT_AUDIENCE'),
      clockToleranceSeconds: get('JWT_CLOCK_TOLERANCE'),
    };
    const secret = get('JWT_SECRET');
    if (secret) return { kind: 'secret', secret, ...common };
    const publicKey = get('JWT_PUBLIC_KEY');
    if (publicKey) return { kind: 'public-key', pem: publicKey.replaceAll('\\n', '\n'), ...common };
    const jwksUrl = get('JWT_JWKS_URL');
    if (jwksUrl) return { kind: 'jwks', url: jwksUrl, ...common };
    return { kind: 'dev', ...common };
  }

  // Rate limits (issue 16)
  /** undefined when RATE_LIMIT_RPS is 0 (the default): no rate limit. */
  get rateLimit(): RateLimitSettings | undefined {
    const requestsPerSecond = this.config.get('RATE_LIMIT_RPS', { infer: true });
    if (!(requestsPerSecond > 0)) return undefined;
    return {
      requestsPerSecond,
      burst: this.config.get('RATE_LIMIT_BURST', { infer: true }) ?? defaultBurst(requestsPerSecond),
      redisUrl: this.config.get('REDIS_URL', { infer: true }),
      keyPrefix: this.config.get('RATE_LIMIT_KEY_PREFIX', { infer: true }),
    };
  }

  get logLevel(): string {
    return this.config.get('LOG_LEVEL', { infer: true });
  }
}
