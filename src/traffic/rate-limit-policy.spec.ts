import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { describePolicy, rateLimitHeaders, rateLimitPolicy, retryAfterSeconds } from './rate-limit-policy.js';

describe('rateLimitPolicy', () => {
  it.each([
    // rps, burst → quota, window
    [10, 10, 10, 1],
    [10, 50, 50, 5],
    [0.05, 3, 3, 60],
    [0.5, 1, 1, 2],
    [2, 3, 3, 2], // 1.5 s rounds to 2: 1.5 requests per second sustained
    [100, 149, 149, 1],
    [0.00001, 100, 100, 86_400], // capped at a day
  ])('RPS %d with BURST %d is %d requests per %d s', (rps, burst, quota, windowSeconds) => {
    expect(rateLimitPolicy(rps, burst)).toEqual({ quota, windowSeconds, requestsPerSecond: rps });
  });

  it('property: the window is a whole number of seconds from 1 to a day, and the sustained rate is within half a second of RPS × window', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 10_000, noNaN: true }), fc.integer({ min: 1, max: 1_000_000 }), (rps, burst) => {
        fc.pre(burst >= rps && burst / rps <= 86_400);
        const { quota, windowSeconds } = rateLimitPolicy(rps, burst);
        expect(quota).toBe(burst);
        expect(Number.isInteger(windowSeconds)).toBe(true);
        expect(windowSeconds).toBeGreaterThanOrEqual(1);
        expect(Math.abs(windowSeconds - burst / rps)).toBeLessThanOrEqual(0.5);
      }),
    );
  });

  it('refuses what configuration validation refuses', () => {
    expect(() => rateLimitPolicy(0, 1)).toThrow();
    expect(() => rateLimitPolicy(1, 0)).toThrow();
    expect(() => rateLimitPolicy(1, 1.5)).toThrow();
  });

  it('describes itself for messages', () => {
    expect(describePolicy(rateLimitPolicy(0.05, 3))).toBe('3 requests per 60 s');
    expect(describePolicy(rateLimitPolicy(1, 1))).toBe('1 request per 1 s');
  });
});

describe('rateLimitHeaders (draft-ietf-httpapi-ratelimit-headers-11)', () => {
  const policy = rateLimitPolicy(10, 100);

  it('gives the policy as q and w, and the current limit as r and t (seconds rounded up)', () => {
    expect(rateLimitHeaders(policy, 42, 6_200)).toEqual({
      'RateLimit-Policy': '"tenant";q=100;w=10',
      RateLimit: '"tenant";r=42;t=7',
    });
  });

  it('never sends a negative, fractional or unknown value', () => {
    expect(rateLimitHeaders(policy, -3, -1).RateLimit).toBe('"tenant";r=0;t=0');
    expect(rateLimitHeaders(policy, 2.7, Number.NaN).RateLimit).toBe('"tenant";r=2;t=0');
    expect(rateLimitHeaders(policy, 0, 1).RateLimit).toBe('"tenant";r=0;t=1');
  });

  it('is a Structured Field List of one String item with Integer parameters', () => {
    const item = /^"[a-z]+"(;[a-z]+=\d+)+$/;
    fc.assert(
      fc.property(fc.integer({ min: -10, max: 10_000 }), fc.integer({ min: -1, max: 86_400_000 }), (remaining, ms) => {
        const headers = rateLimitHeaders(policy, remaining, ms);
        expect(headers['RateLimit-Policy']).toMatch(item);
        expect(headers.RateLimit).toMatch(item);
      }),
    );
  });
});

describe('retryAfterSeconds', () => {
  it('is whole seconds rounded up, at least 1', () => {
    expect(retryAfterSeconds(59_001)).toBe(60);
    expect(retryAfterSeconds(60_000)).toBe(60);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(-5)).toBe(1);
  });
});
