import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { AppLogger } from '../observability/logging.js';
import { signToken } from '../../test/support/tokens.js';
import { AppError } from '../common/errors/app-error.js';
import type { AppConfig } from '../config/app-config.js';
import { TokenVerifier } from './token-verifier.js';

const SECRET = 'a-secret-for-the-token-verifier-unit-test-0123';

function verifier(): TokenVerifier {
  const config = { jwt: { kind: 'secret', secret: SECRET, clockToleranceSeconds: 0 } } as unknown as AppConfig;
  return new TokenVerifier(config, { log: () => undefined, warn: () => undefined } as unknown as AppLogger);
}

/** Only `Date` is faked: WebCrypto and promises keep running. */
function freezeClockAt(ms: number): void {
  jest.useFakeTimers({ now: ms, doNotFake: ['nextTick', 'setImmediate', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'clearImmediate', 'queueMicrotask', 'hrtime', 'performance'] });
}

describe('TokenVerifier cache of verified tokens', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('serves a token again without re-verifying, but never past its exp', async () => {
    const start = Date.UTC(2030, 0, 1, 12, 0, 0);
    freezeClockAt(start);
    const tokens = verifier();
    const token = signToken({ tenant: 'acme', iat: start / 1000, exp: start / 1000 + 60 }, { secret: SECRET });
    expect((await tokens.verify(token)).tenant).toBe('acme');
    jest.setSystemTime(start + 59_000);
    expect((await tokens.verify(token)).tenant).toBe('acme');
    jest.setSystemTime(start + 61_000);
    await expect(tokens.verify(token)).rejects.toBeInstanceOf(AppError);
  });

  it('does not cache a token that is not valid yet', async () => {
    const start = Date.UTC(2030, 0, 1, 12, 0, 0);
    freezeClockAt(start);
    const tokens = verifier();
    const early = signToken({ tenant: 'acme', nbf: start / 1000 + 30, exp: start / 1000 + 600 }, { secret: SECRET });
    await expect(tokens.verify(early)).rejects.toMatchObject({ status: 401 });
    jest.setSystemTime(start + 31_000);
    expect((await tokens.verify(early)).tenant).toBe('acme');
  });

  it('never caches a failure: a forged token stays forged', async () => {
    const tokens = verifier();
    const forged = signToken({ tenant: 'acme' }, { secret: 'another-secret-of-sufficient-length-000000' });
    await expect(tokens.verify(forged)).rejects.toMatchObject({ status: 401 });
    await expect(tokens.verify(forged)).rejects.toMatchObject({ status: 401 });
  });
});
