import { createHmac } from 'node:crypto';

/**
 * HS256 bearer tokens for the benchmark (dependency-free, like test/support/tokens.ts): the service
 * and the baseline server are both started with BENCH_JWT_SECRET.
 */
export const BENCH_JWT_SECRET = 'bench-secret-for-the-identity-groups-service-0123456789';

export const ALL_SCOPES = 'identity.groups.read identity.groups.write identity.users.read identity.users.write';

export function signToken(claims: { tenant: string; orgs?: string[]; sub?: string; scope?: string }, secret = BENCH_JWT_SECRET): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub: claims.sub ?? 'bench', scope: claims.scope ?? ALL_SCOPES, iat: now, exp: now + 6 * 3600, tenant: claims.tenant, ...(claims.orgs ? { orgs: claims.orgs } : {}) };
  const unsigned = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(JSON.stringify(payload))}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
