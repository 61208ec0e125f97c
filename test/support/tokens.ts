import { createHmac, sign as cryptoSign } from 'node:crypto';

/** The HS256 secret every test app is configured with. */
export const TEST_JWT_SECRET = 'test-secret-for-the-identity-groups-service-0123456789';

export const ALL_SCOPES = 'identity.groups.read identity.groups.write identity.users.read identity.users.write';

export interface TokenClaims {
  sub?: string;
  tenant?: unknown;
  orgs?: unknown;
  scope?: unknown;
  scp?: unknown;
  exp?: number;
  nbf?: number;
  iat?: number;
  iss?: string;
  aud?: string | string[];
  [claim: string]: unknown;
}

/**
 * Signs a JWT here, independently of the service's own library (jose), so the tests check the
 * service against the format, not against itself. Defaults: a valid one-hour token with all scopes.
 */
export function signToken(claims: TokenClaims, options: { secret?: string; alg?: string } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub: 'tester', scope: ALL_SCOPES, iat: now, exp: now + 3600, ...claims };
  for (const [key, value] of Object.entries(payload)) if (value === undefined) delete (payload as Record<string, unknown>)[key];
  const header = { alg: options.alg ?? 'HS256', typ: 'JWT' };
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = createHmac('sha256', options.secret ?? TEST_JWT_SECRET).update(unsigned).digest('base64url');
  return `${unsigned}.${signature}`;
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** A token for the tenant a URL names (`/api/{tenant}/…`), all orgs, all scopes. */
export function tokenForUrl(url: string): string {
  const segment = /^\/api\/([^/?]*)/.exec(url)?.[1] ?? 'none';
  let tenant = segment;
  try {
    tenant = decodeURIComponent(segment);
  } catch {
    // keep the raw segment: the service will reject the path anyway
  }
  // A URL with a malformed tenantKey gets a token for some valid tenant: the service must answer 400.
  return signToken({ tenant: /^[A-Za-z0-9_-]{1,64}$/.test(tenant) ? tenant : 'malformed-tenant' });
}

/** Signs with an RSA (RS256) or EC P-256 (ES256) private key, for the public-key and JWKS modes. */
export function signAsymmetric(
  claims: TokenClaims,
  privateKey: import('node:crypto').KeyObject,
  options: { alg: 'RS256' | 'ES256'; kid?: string },
): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub: 'tester', scope: ALL_SCOPES, iat: now, exp: now + 3600, ...claims };
  const header = { alg: options.alg, typ: 'JWT', ...(options.kid ? { kid: options.kid } : {}) };
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = cryptoSign('sha256', Buffer.from(unsigned), {
    key: privateKey,
    ...(options.alg === 'ES256' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
  });
  return `${unsigned}.${signature.toString('base64url')}`;
}
