import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { Gauge } from 'prom-client';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../observability/metrics.service.js';
import { describePolicy, rateLimitHeaders, RateLimitPolicy, rateLimitPolicy, retryAfterSeconds } from './rate-limit-policy.js';

/** How long start-up waits for Redis before serving on the per-process fallback. */
const REDIS_READY_WAIT_MS = 2000;
/** A rate-limit round trip to Redis answers within this, or the request falls back to the process's budget. */
const REDIS_COMMAND_TIMEOUT_MS = 500;

/**
 * Per-tenant request budgets (issue 16), counted with rate-limiter-flexible: in this process's
 * memory, or in Redis when REDIS_URL is set, so that every replica spends the same budget.
 *
 * **Which limiter.** rate-limiter-flexible has no continuously refilled token bucket: its limiters
 * are fixed windows that start with a key's first request. The tenant's bucket is therefore one
 * window of RATE_LIMIT_BURST requests, refilled whole every BURST ÷ RPS seconds (`rateLimitPolicy`):
 * - sustained rate RPS, burst BURST, one key per tenant and one atomic INCR script per request;
 * - it is exactly what the IETF RateLimit fields express (quota `q` per window `w`, remaining `r`,
 *   reset `t`), so the headers are the truth, not an estimate.
 * `BurstyRateLimiter` (a one-second window of RPS plus a second limiter for the burst) was the
 * alternative: it needs two keys and, once the first is spent, two round trips per request; its
 * long-run rate is RPS plus the burst pool's refill, above RPS; and its result reports only the first
 * limiter's points, so `RateLimit: r=0` would be sent while burst requests were still allowed. The
 * cost of the fixed window: once a tenant spent its bucket it waits for the window's end (at most
 * BURST ÷ RPS seconds) rather than getting a request back every 1/RPS s, and a client timing the
 * boundary can send 2 × BURST in a short span.
 *
 * **What is counted**: requests that passed authentication and the scope check (ScopeGuard calls
 * `admit`), so a flood without a valid token for the tenant cannot spend its budget.
 *
 * **Redis outages never fail a request.** The shared limiter falls back to a per-process limiter of
 * the same policy (fail open to per-replica budgets) when Redis cannot answer: not connected
 * (ioredis's offline queue is off and `rejectIfRedisNotReady` is on, so nothing waits for a
 * reconnect), a command past REDIS_COMMAND_TIMEOUT_MS, or any Redis error. The fallback is done here
 * rather than with the library's `insuranceLimiter`, which swallows the error: a Redis that answers
 * errors while connected (a read-only replica after a failover, an ACL refusing EVALSHA, OOM) would
 * silently split the budget with nothing in the log. Transitions are logged once each (down, back),
 * never once per request; `rate_limit_redis_up` shows the state.
 *
 * Once a tenant's window is spent, the shared limiter also remembers it in memory until the window
 * ends (`inMemoryBlockOnConsumed`), so a flood of refused requests costs no Redis round trip.
 */
@Injectable()
export class TenantRateLimiter implements OnModuleInit, OnApplicationShutdown {
  private static readonly logger = new Logger('RateLimits');

  /** undefined: rate limits are off (RATE_LIMIT_RPS=0). */
  readonly policy?: RateLimitPolicy;
  private readonly local?: RateLimiterMemory;
  private readonly shared?: { client: Redis; limiter: RateLimiterRedis; where: string; up: Gauge };
  /** Whether Redis answered last time (undefined until it first did or did not). */
  private redisUp: boolean | undefined;
  private readonly settingsText: string = '';

  constructor(
    config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    const settings = config.rateLimit;
    if (!settings) return;
    const policy = rateLimitPolicy(settings.requestsPerSecond, settings.burst);
    this.policy = policy;
    this.settingsText = `RATE_LIMIT_RPS=${settings.requestsPerSecond}, RATE_LIMIT_BURST=${settings.burst}`;
    const options = { points: policy.quota, duration: policy.windowSeconds, keyPrefix: settings.keyPrefix };
    this.local = new RateLimiterMemory(options);
    if (settings.redisUrl) {
      const client = new Redis(settings.redisUrl, {
        connectionName: 'identity-groups-rate-limits',
        // Nothing waits for Redis: while it is down a command fails at once (→ the fallback) instead
        // of queueing until it is back, and a command lost with its connection is not resent (it
        // would count twice, and its request has long been answered).
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
        connectTimeout: REDIS_READY_WAIT_MS,
        // disconnect() arms this timer even for a socket already closed (Redis down): it would hold
        // the process's exit for ioredis's default 2 s.
        disconnectTimeout: 500,
        // Reconnect forever, backing off to one attempt every 5 s.
        retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 6), 5000),
      });
      const where = redisLocation(settings.redisUrl);
      // Every 'error' has a listener (an unhandled one would be printed per reconnect attempt).
      client.on('error', (error: Error) => this.redisAnswered(false, error.message));
      client.on('ready', () => this.redisAnswered(true));
      const limiter = new RateLimiterRedis({
        ...options,
        storeClient: client,
        rejectIfRedisNotReady: true,
        inMemoryBlockOnConsumed: policy.quota,
      });
      const up = new Gauge({
        name: 'rate_limit_redis_up',
        help: '1 while the rate-limit budgets are shared through Redis, 0 while each replica counts on its own',
        registers: [metrics.registry],
      });
      this.shared = { client, limiter, where, up };
    }
  }

  get enabled(): boolean {
    return this.policy !== undefined;
  }

  async onModuleInit(): Promise<void> {
    if (!this.policy) return;
    const store = this.shared ? `shared through Redis at ${this.shared.where}` : "in this process's memory";
    TenantRateLimiter.logger.log(`Rate limits: ${describePolicy(this.policy)} per tenant (${this.settingsText}), ${store}`);
    if (!this.shared || this.shared.client.status === 'ready') return;
    // Serve from the first request with the shared budget when Redis is there; when it is not, the
    // 'error' listener has logged it and requests use the per-process fallback meanwhile.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      once(this.shared.client, 'ready').catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, REDIS_READY_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  async onApplicationShutdown(): Promise<void> {
    const client = this.shared?.client;
    if (!client) return;
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
    else client.disconnect();
  }

  /**
   * Counts one request of `tenantKey`. Resolves with the RateLimit headers its response carries;
   * rejects with a 429 `RateLimitExceeded` (with `Retry-After` and the same headers) when the tenant's
   * window is spent. Only call it when `enabled`.
   */
  async admit(tenantKey: string): Promise<Record<string, string>> {
    const policy = this.policy!;
    let result: RateLimiterRes;
    try {
      result = await this.consume(tenantKey);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) {
        // Not expected of the in-memory limiter; a limiter fault must not refuse a request.
        TenantRateLimiter.logger.error(`Rate limit check failed, request let through: ${String(rejection)}`);
        return {};
      }
      this.metrics.countThrottled('tenant_rate_limit');
      const retryAfter = retryAfterSeconds(rejection.msBeforeNext);
      throw new AppError(
        ErrorCode.RateLimitExceeded,
        `Tenant '${tenantKey}' exceeded its rate limit of ${describePolicy(policy)} (RATE_LIMIT_RPS, RATE_LIMIT_BURST); retry after ${retryAfter} s`,
        undefined,
        undefined,
        // t = Retry-After: the draft wants Retry-After no earlier than the effective window's end.
        { 'Retry-After': String(retryAfter), ...rateLimitHeaders(policy, 0, retryAfter * 1000) },
      );
    }
    return rateLimitHeaders(policy, result.remainingPoints, result.msBeforeNext);
  }

  private async consume(tenantKey: string): Promise<RateLimiterRes> {
    if (!this.shared) return this.local!.consume(tenantKey);
    try {
      const result = await this.shared.limiter.consume(tenantKey);
      this.redisAnswered(true);
      return result;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) throw rejection; // spent (Redis said so, or remembered)
      this.redisAnswered(false, rejection instanceof Error ? rejection.message : String(rejection));
      return this.local!.consume(tenantKey);
    }
  }

  /** Logs when Redis goes away or comes back, once per transition. */
  private redisAnswered(up: boolean, reason?: string): void {
    if (this.redisUp === up || !this.shared) return;
    const before = this.redisUp;
    this.redisUp = up;
    this.shared.up.set(up ? 1 : 0);
    const where = this.shared.where;
    if (!up) {
      TenantRateLimiter.logger.warn(
        `Redis at ${where} is unreachable (${reason ?? 'unknown error'}): each replica enforces the tenant rate limits on its own until it is back`,
      );
    } else if (before === false) {
      TenantRateLimiter.logger.log(`Redis at ${where} is reachable again: the tenant rate limits are shared again`);
    }
  }
}

/** host:port of a Redis URL, for logs: never its password. */
function redisLocation(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return 'REDIS_URL';
  }
}
