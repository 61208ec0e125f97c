/**
 * The per-tenant request budget and the IETF RateLimit header fields that describe it. Pure: no Nest,
 * no store; the limiter (TenantRateLimiter) and its tests share these.
 *
 * The budget is a window of `windowSeconds` holding `quota` requests: the tenant's bucket of
 * RATE_LIMIT_BURST requests, refilled whole every BURST ÷ RPS seconds. This is the fixed-window
 * counter that rate-limiter-flexible implements atomically in memory and in Redis (one key, one
 * INCR script per request); see TenantRateLimiter for why it is preferred to a continuously refilled
 * bucket. Its sustained rate is quota ÷ window = RPS, and its burst is BURST at once (at most twice
 * that across the boundary of two windows).
 */
export interface RateLimitPolicy {
  /** Requests per window (RATE_LIMIT_BURST). */
  readonly quota: number;
  /** Whole seconds: the IETF fields (and Redis expiry) have no sub-second windows. */
  readonly windowSeconds: number;
  /** What was configured, for messages. */
  readonly requestsPerSecond: number;
}

/** The longest window accepted: a day (RATE_LIMIT_BURST ÷ RATE_LIMIT_RPS). */
export const MAX_WINDOW_SECONDS = 86_400;

/** The burst when RATE_LIMIT_BURST is unset: one second's worth of requests (at least 1). */
export function defaultBurst(requestsPerSecond: number): number {
  return Math.max(1, Math.ceil(requestsPerSecond));
}

/**
 * The window that holds `burst` requests at `requestsPerSecond`, rounded to a whole second (at
 * least 1). When BURST is a whole multiple of RPS the sustained rate is exactly RPS; otherwise it is
 * burst ÷ window (e.g. RPS 2, BURST 3 → 3 requests per 2 s).
 */
export function rateLimitPolicy(requestsPerSecond: number, burst: number): RateLimitPolicy {
  if (!(requestsPerSecond > 0) || !Number.isInteger(burst) || burst < 1) {
    throw new Error(`A rate limit needs a positive rate and a whole burst ≥ 1 (got ${requestsPerSecond}, ${burst})`);
  }
  const windowSeconds = Math.min(MAX_WINDOW_SECONDS, Math.max(1, Math.round(burst / requestsPerSecond)));
  return { quota: burst, windowSeconds, requestsPerSecond };
}

/** The name of the one policy in the RateLimit fields: the budget is the tenant's (all its orgs). */
export const POLICY_NAME = 'tenant';

/**
 * `RateLimit-Policy` and `RateLimit` as draft-ietf-httpapi-ratelimit-headers-11 (May 2026) defines
 * them: Structured Field Lists whose items are the policy name as a String, with `q` (quota) and
 * `w` (window, whole seconds) on the policy, `r` (remaining) and `t` (seconds until the quota
 * resets) on the current limit. For example `RateLimit-Policy: "tenant";q=100;w=10` and
 * `RateLimit: "tenant";r=42;t=7`.
 */
export function rateLimitHeaders(policy: RateLimitPolicy, remaining: number, msBeforeReset: number): Record<string, string> {
  const r = Math.max(0, Math.floor(remaining));
  const t = secondsUntil(msBeforeReset);
  return {
    'RateLimit-Policy': `"${POLICY_NAME}";q=${policy.quota};w=${policy.windowSeconds}`,
    RateLimit: `"${POLICY_NAME}";r=${r};t=${t}`,
  };
}

/**
 * `Retry-After` in whole seconds, at least 1: never earlier than the end of the effective window the
 * RateLimit field names (the draft's §6), and never 0, which a client would take as "now".
 */
export function retryAfterSeconds(msBeforeReset: number): number {
  return Math.max(1, secondsUntil(msBeforeReset));
}

function secondsUntil(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? Math.ceil(ms / 1000) : 0;
}

/** "3 requests per 60 s" */
export function describePolicy(policy: RateLimitPolicy): string {
  return `${policy.quota} request${policy.quota === 1 ? '' : 's'} per ${policy.windowSeconds} s`;
}
