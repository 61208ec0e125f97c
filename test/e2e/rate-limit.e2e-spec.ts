import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import type { Response } from 'supertest';
import { LogCapture } from '../support/log-capture.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';
import { signToken } from '../support/tokens.js';

/*
 * Per-tenant request rate limits (issue 16), over HTTP. Every limited app uses a window far longer
 * than the test (RATE_LIMIT_RPS=0.05: BURST requests per BURST × 20 s), so no budget refills while
 * a test counts it, and nothing here measures time.
 *
 * The Redis tests need a Redis (REDIS_TEST_URL, default redis://127.0.0.1:6379, which this project's
 * machines run). Without one they are reported as skipped, by name and with a warning, never passed.
 */

const REDIS_TEST_URL = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';
const REDIS_WHERE = (() => {
  const url = new URL(REDIS_TEST_URL);
  return `${url.hostname}:${url.port || '6379'}`;
})();
const redisAvailable = await redisAnswers(REDIS_TEST_URL);
if (!redisAvailable) {
  console.warn(`Rate-limit tests with Redis SKIPPED: no Redis at ${REDIS_WHERE} (set REDIS_TEST_URL to use another)`);
}
const describeWithRedis = redisAvailable ? describe : describe.skip;

/** A window of 60 s holding 3 requests. */
const THREE_PER_MINUTE = { RATE_LIMIT_RPS: '0.05', RATE_LIMIT_BURST: '3' };

describe('rate limits are off by default', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_RPS: undefined, RATE_LIMIT_BURST: undefined, REDIS_URL: undefined });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers every request, with no RateLimit headers', async () => {
    const { base } = newScope();
    for (let i = 0; i < 12; i++) {
      const response = await t.http.get(`${base}/groups`).expect(200);
      expect(response.headers['ratelimit']).toBeUndefined();
      expect(response.headers['ratelimit-policy']).toBeUndefined();
    }
  });
});

describe('rate limits in memory', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...THREE_PER_MINUTE, REDIS_URL: undefined });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("refuses a tenant's requests beyond its burst with 429, Retry-After, the RateLimit fields and the error body", async () => {
    const { base, tenantKey } = newScope();
    for (const remaining of [2, 1, 0]) {
      const response = await t.http.get(`${base}/groups`).expect(200);
      expectPolicy(response, 3, 60);
      expect(limitOf(response).remaining).toBe(remaining);
    }
    const refused = await t.http.post(`${base}/groups`).send({ groupKey: 'late', name: 'Late' }).expect(429);
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(refused.body).toEqual({
      error: {
        code: 'RateLimitExceeded',
        message: expect.stringMatching(new RegExp(`^Tenant '${tenantKey}' exceeded its rate limit of 3 requests per 60 s \\(RATE_LIMIT_RPS, RATE_LIMIT_BURST\\); retry after \\d+ s$`)),
      },
    });
    const retryAfter = retryAfterOf(refused);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.body.error.message).toContain(`retry after ${retryAfter} s`);
    expectPolicy(refused, 3, 60);
    // The effective window ends when Retry-After says (the draft: Retry-After no earlier than it).
    expect(limitOf(refused)).toEqual({ remaining: 0, reset: retryAfter });
  });

  it("counts the tenant's requests across all its orgs", async () => {
    const { tenantKey } = newScope();
    const org = (name: string) => `/api/${tenantKey}/${name}/identity`;
    await t.http.get(`${org('north')}/groups`).expect(200);
    await t.http.get(`${org('south')}/users`).expect(200);
    await t.http.get(`${org('east')}/$metadata`).expect(200);
    await t.http.get(`${org('west')}/groups`).expect(429);
  });

  it("leaves another tenant's budget alone", async () => {
    const spent = newScope();
    for (let i = 0; i < 3; i++) await t.http.get(`${spent.base}/groups`).expect(200);
    await t.http.get(`${spent.base}/groups`).expect(429);
    const other = newScope();
    const response = await t.http.get(`${other.base}/groups`).expect(200);
    expect(limitOf(response).remaining).toBe(2);
  });

  it('does not count requests refused before the tenant let them in (no token, another tenant, a missing scope)', async () => {
    const { base, tenantKey } = newScope();
    for (let i = 0; i < 4; i++) {
      const anonymous = await t.anonymous.get(`${base}/groups`).expect(401);
      expect(anonymous.headers['ratelimit']).toBeUndefined();
      await t.anonymous.get(`${base}/groups`).set('Authorization', 'Bearer not.a.token').expect(401);
      const intruder = await t.anonymous.get(`${base}/groups`).set('Authorization', `Bearer ${signToken({ tenant: 'someone-else' })}`).expect(403);
      expect(intruder.headers['ratelimit']).toBeUndefined();
      await t.anonymous
        .get(`${base}/groups`)
        .set('Authorization', `Bearer ${signToken({ tenant: tenantKey, scope: 'identity.users.read' })}`)
        .expect(403);
    }
    const first = await t.http.get(`${base}/groups`).expect(200);
    expect(limitOf(first).remaining).toBe(2);
  });

  it("sends the RateLimit fields on an admitted request's errors too", async () => {
    const { base } = newScope();
    const missing = await t.http.get(`${base}/groups/no-such-group`).expect(404);
    expectPolicy(missing, 3, 60);
    expect(limitOf(missing).remaining).toBe(2);
    const invalid = await t.http.post(`${base}/groups`).send({ name: 'no key' }).expect(400);
    expect(limitOf(invalid).remaining).toBe(1);
  });

  it('does not limit probes, metrics or docs, and counts the 429s in /metrics', async () => {
    const { base } = newScope();
    for (let i = 0; i < 3; i++) await t.http.get(`${base}/groups`).expect(200);
    await t.http.get(`${base}/groups`).expect(429);
    for (const path of ['/health', '/ready', '/api/docs-json']) {
      const response = await t.anonymous.get(path).expect(200);
      expect(response.headers['ratelimit']).toBeUndefined();
    }
    const metrics = await t.anonymous.get('/metrics').expect(200);
    expect(metrics.headers['ratelimit']).toBeUndefined();
    const throttled = /^http_requests_throttled_total\{reason="tenant_rate_limit"\} (\d+)$/m.exec(metrics.text);
    expect(Number(throttled?.[1])).toBeGreaterThanOrEqual(1);
    expect(metrics.text).not.toContain('rate_limit_redis_up');
  });
});

describe('rate limits with Redis unreachable', () => {
  let t: TestApp;
  const logs = new LogCapture();
  beforeAll(async () => {
    const closedPort = await unusedPort();
    t = await startTestApp(
      { ...THREE_PER_MINUTE, REDIS_URL: `redis://127.0.0.1:${closedPort}`, LOG_LEVEL: 'info' },
      { logDestination: logs },
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it("serves every request, and enforces each tenant's budget in the process instead (fail open, never a 5xx)", async () => {
    const { base } = newScope();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await t.http.get(`${base}/groups`);
      statuses.push(response.status);
      if (response.status === 200) expectPolicy(response, 3, 60);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it('says so once, not once per request or per reconnection attempt', async () => {
    const { base } = newScope();
    for (let i = 0; i < 3; i++) await t.http.get(`${base}/users`).expect(200);
    const down = logs.linesOf('RateLimits').filter((line) => line.msg.includes('is unreachable'));
    expect(down).toHaveLength(1);
    expect(down[0]!.level).toBe(40);
    expect(down[0]!.msg).toMatch(/^Redis at 127\.0\.0\.1:\d+ is unreachable \(.+\): each replica enforces the tenant rate limits on its own until it is back$/);
    const metrics = await t.anonymous.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^rate_limit_redis_up 0$/m);
  });
});

describeWithRedis(`rate limits shared through Redis at ${REDIS_WHERE}`, () => {
  const keyPrefix = `igs-test:ratelimit:${randomBytes(6).toString('hex')}`;
  const env = { RATE_LIMIT_RPS: '0.05', RATE_LIMIT_BURST: '4', REDIS_URL: REDIS_TEST_URL, RATE_LIMIT_KEY_PREFIX: keyPrefix };
  let one: TestApp;
  let two: TestApp;
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(REDIS_TEST_URL);
    one = await startTestApp(env);
    two = await startTestApp(env);
  });
  afterAll(async () => {
    await deleteKeys(redis, keyPrefix);
    redis?.disconnect();
    await one?.close();
    await two?.close();
  });

  it('holds across two app instances: requests spread over both spend one budget', async () => {
    const { base, tenantKey } = newScope();
    const apps = [one, two, one, two];
    for (const [i, app] of apps.entries()) {
      const response = await app.http.get(`${base}/groups`).expect(200);
      expectPolicy(response, 4, 80);
      expect(limitOf(response).remaining).toBe(3 - i);
    }
    for (const app of [one, two]) {
      const refused = await app.http.get(`${base}/groups`).expect(429);
      expect(refused.body.error.code).toBe('RateLimitExceeded');
      expect(retryAfterOf(refused)).toBeGreaterThanOrEqual(1);
    }
    // The budget is in Redis, under the tenant's key, expiring with the window.
    const ttl = await redis.pttl(`${keyPrefix}:${tenantKey}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(80_000);
    expect(Number(await redis.get(`${keyPrefix}:${tenantKey}`))).toBeGreaterThanOrEqual(4);
  });

  it('keeps one shared budget per tenant', async () => {
    const first = newScope();
    for (let i = 0; i < 4; i++) await (i % 2 ? one : two).http.get(`${first.base}/groups`).expect(200);
    await one.http.get(`${first.base}/groups`).expect(429);
    const second = newScope();
    const response = await two.http.get(`${second.base}/users`).expect(200);
    expect(limitOf(response).remaining).toBe(3);
  });
});

describeWithRedis(`rate limits when Redis at ${REDIS_WHERE} goes away and comes back`, () => {
  const keyPrefix = `igs-test:ratelimit:${randomBytes(6).toString('hex')}`;
  const logs = new LogCapture();
  let proxy: TcpProxy;
  let t: TestApp;
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(REDIS_TEST_URL);
    const target = new URL(REDIS_TEST_URL);
    proxy = await TcpProxy.start(target);
    t = await startTestApp(
      { ...THREE_PER_MINUTE, REDIS_URL: proxy.urlFor(REDIS_TEST_URL), RATE_LIMIT_KEY_PREFIX: keyPrefix, LOG_LEVEL: 'info' },
      { logDestination: logs },
    );
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await deleteKeys(redis, keyPrefix);
    redis?.disconnect();
  });

  it('falls back to the per-process budget while Redis is away, logs down and back once each, and shares again', async () => {
    const before = newScope();
    await t.http.get(`${before.base}/groups`).expect(200);
    expect(await redis.exists(`${keyPrefix}:${before.tenantKey}`)).toBe(1);

    await proxy.cut();
    await waitFor(() => logs.linesOf('RateLimits').some((line) => line.msg.includes('is unreachable')));
    const during = newScope();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await t.http.get(`${during.base}/groups`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(await redis.exists(`${keyPrefix}:${during.tenantKey}`)).toBe(0);

    await proxy.restore();
    await waitFor(() => logs.linesOf('RateLimits').some((line) => line.msg.includes('is reachable again')));
    const after = newScope();
    const response = await t.http.get(`${after.base}/groups`).expect(200);
    expect(limitOf(response).remaining).toBe(2);
    expect(await redis.exists(`${keyPrefix}:${after.tenantKey}`)).toBe(1);

    const transitions = logs.linesOf('RateLimits').filter((line) => /is unreachable|is reachable again/.test(line.msg));
    expect(transitions.map((line) => (line.msg.includes('is unreachable') ? 'down' : 'back'))).toEqual(['down', 'back']);
    expect(transitions[1]).toMatchObject({ level: 30, msg: expect.stringMatching(/^Redis at 127\.0\.0\.1:\d+ is reachable again: /) });
  });
});

if (!redisAvailable) {
  describe('rate limits with Redis', () => {
    it.skip(`across two app instances, and through a Redis outage — SKIPPED: no Redis at ${REDIS_WHERE}`, () => undefined);
  });
}

// ---------------------------------------------------------------------------------------------

function expectPolicy(response: Response, quota: number, windowSeconds: number): void {
  expect(response.headers['ratelimit-policy']).toBe(`"tenant";q=${quota};w=${windowSeconds}`);
}

/** The `RateLimit` field, parsed strictly: `"tenant";r=<remaining>;t=<seconds until reset>`. */
function limitOf(response: Response): { remaining: number; reset: number } {
  const header = response.headers['ratelimit'];
  const match = /^"tenant";r=(\d+);t=(\d+)$/.exec(header ?? '');
  if (!match) throw new Error(`no RateLimit field of the expected form on a ${response.status}: ${header}`);
  return { remaining: Number(match[1]), reset: Number(match[2]) };
}

function retryAfterOf(response: Response): number {
  const value = response.headers['retry-after'];
  expect(value).toMatch(/^\d+$/);
  return Number(value);
}

async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    // After a refused connection the client has ended; disconnect() would arm a 2 s timer for nothing.
    if (probe.status !== 'end') probe.disconnect();
  }
}

async function deleteKeys(redis: Redis | undefined, keyPrefix: string): Promise<void> {
  if (!redis) return;
  for await (const keys of redis.scanStream({ match: `${keyPrefix}:*`, count: 100 })) {
    if ((keys as string[]).length) await redis.del(...(keys as string[]));
  }
}

/** A port nothing listens on (just released by the OS). */
async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `condition` until it holds (at most `limitMs`): waits for an event, asserts no duration. */
async function waitFor(condition: () => boolean, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
