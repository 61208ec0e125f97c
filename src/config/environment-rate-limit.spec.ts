import { describe, expect, it } from '@jest/globals';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from './app-config.js';
import { Environment, validateEnvironment } from './environment.js';
import { thrownBy } from '../../test/support/thrown.js';

/** The rate-limit variables of issue 16 (RATE_LIMIT_*, REDIS_URL) and AppConfig.rateLimit. */
function errorOf(raw: Record<string, unknown>): Error {
  return thrownBy(() => validateEnvironment(raw), Error);
}

function rateLimitOf(raw: Record<string, unknown>) {
  const environment: Environment = validateEnvironment(raw);
  return new AppConfig(new ConfigService<Environment, true>({ ...environment })).rateLimit;
}

describe('rate-limit configuration', () => {
  it('is off by default, with the default key prefix and no Redis', () => {
    const environment = validateEnvironment({});
    expect(environment).toMatchObject({ RATE_LIMIT_RPS: 0, RATE_LIMIT_KEY_PREFIX: 'igs:ratelimit' });
    expect(environment.RATE_LIMIT_BURST).toBeUndefined();
    expect(environment.REDIS_URL).toBeUndefined();
    expect(rateLimitOf({})).toBeUndefined();
    expect(rateLimitOf({ RATE_LIMIT_RPS: '0', RATE_LIMIT_BURST: '10', REDIS_URL: 'redis://localhost' })).toBeUndefined();
  });

  it('reads the variables, RATE_LIMIT_RPS as a decimal', () => {
    expect(
      rateLimitOf({
        RATE_LIMIT_RPS: ' 2.5 ',
        RATE_LIMIT_BURST: '10',
        REDIS_URL: 'rediss://user:secret@cache.internal:6380/2',
        RATE_LIMIT_KEY_PREFIX: 'prod:eu-1.limits',
      }),
    ).toEqual({ requestsPerSecond: 2.5, burst: 10, redisUrl: 'rediss://user:secret@cache.internal:6380/2', keyPrefix: 'prod:eu-1.limits' });
  });

  it.each([
    ['100', 100],
    ['0.5', 1],
    ['2.5', 3],
    ['0.01', 1],
  ])('defaults RATE_LIMIT_BURST to RATE_LIMIT_RPS=%s rounded up: %d', (rps, burst) => {
    expect(rateLimitOf({ RATE_LIMIT_RPS: rps })?.burst).toBe(burst);
  });

  it.each([
    ['RATE_LIMIT_RPS', '-1'],
    ['RATE_LIMIT_RPS', 'fast'],
    ['RATE_LIMIT_RPS', '1e3'],
    ['RATE_LIMIT_RPS', '1000001'],
    ['RATE_LIMIT_BURST', '0'],
    ['RATE_LIMIT_BURST', '2.5'],
    ['RATE_LIMIT_BURST', 'lots'],
    ['RATE_LIMIT_BURST', '10000001'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['REDIS_URL', 'redis://has space'],
    ['RATE_LIMIT_KEY_PREFIX', 'has space'],
    ['RATE_LIMIT_KEY_PREFIX', 'x'.repeat(101)],
    ['RATE_LIMIT_KEY_PREFIX', 'a{b}'],
  ])('refuses %s=%j with one line naming it', (name, value) => {
    const error = errorOf({ [name]: value });
    expect(error.message).toMatch(new RegExp(`^Invalid configuration: ${name} `));
    expect(error.message.split('; ')).toHaveLength(1);
  });

  it('refuses a burst smaller than one second of requests, and one that takes more than a day to refill', () => {
    expect(errorOf({ RATE_LIMIT_RPS: '10', RATE_LIMIT_BURST: '5' }).message).toBe(
      'Invalid configuration: RATE_LIMIT_BURST must be at least RATE_LIMIT_RPS (the bucket holds at least one second of requests)',
    );
    expect(errorOf({ RATE_LIMIT_RPS: '0.001', RATE_LIMIT_BURST: '100' }).message).toBe(
      'Invalid configuration: RATE_LIMIT_BURST / RATE_LIMIT_RPS must be at most 86400 (the bucket refills within a day)',
    );
    expect(rateLimitOf({ RATE_LIMIT_RPS: '10', RATE_LIMIT_BURST: '10' })?.burst).toBe(10);
    expect(rateLimitOf({ RATE_LIMIT_RPS: '0.001', RATE_LIMIT_BURST: '86' })?.burst).toBe(86);
  });

  it('does not echo the Redis password of a refused REDIS_URL', () => {
    expect(errorOf({ REDIS_URL: 'memcached://user:hunter2@host' }).message).not.toContain('hunter2');
  });
});
