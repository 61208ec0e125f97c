import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { AppLogger } from '../observability/logging.js';
import { createPublicKey, KeyObject, randomBytes, webcrypto as crypto } from 'node:crypto';
import { createRemoteJWKSet, CryptoKey, errors, importSPKI, JWTPayload, jwtVerify, JWTVerifyGetKey, SignJWT } from 'jose';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { AppConfig, JwtSettings } from '../config/app-config.js';
import { SCOPE_KEY_PATTERN } from '../tenancy/scope.js';
import { AccessToken, IDENTITY_SCOPES } from './access-token.js';

const REALM = 'identity';

/** The scope a dev token is minted for (SPEC §5: "a ready dev token for a demo scope"). */
export const DEV_SCOPE = { tenantKey: 'demo', orgKey: 'main' } as const;

/**
 * Verifies bearer tokens with jose: HS256 with JWT_SECRET, RS256/ES256 with JWT_PUBLIC_KEY or a
 * cached JWKS (JWT_JWKS_URL); `exp`/`nbf` with a small clock tolerance; `iss`/`aud` when configured.
 * With nothing configured it makes a random secret at start-up and logs a ready dev token.
 */
@Injectable()
export class TokenVerifier implements OnApplicationBootstrap {
  private readonly settings: JwtSettings;
  /**
   * A fixed key is imported once (jose would re-import a raw secret or PEM on every verify: 15 % of
   * a request's CPU); a JWKS is a lookup function.
   */
  private readonly key: Promise<CryptoKey> | JWTVerifyGetKey;
  private readonly algorithms: string[];

  constructor(
    config: AppConfig,
    // This app's own logger (not Nest's process-wide static one): the dev token must reach the
    // log of the instance that accepts it.
    private readonly logger: AppLogger,
  ) {
    this.settings = config.jwt;
    switch (this.settings.kind) {
      case 'secret':
      case 'dev': {
        const secret = this.settings.kind === 'secret' ? this.settings.secret : randomBytes(32).toString('base64url');
        this.devSecret = this.settings.kind === 'dev' ? secret : undefined;
        this.key = settled(crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']));
        this.algorithms = ['HS256'];
        break;
      }
      case 'public-key': {
        const key = createPublicKey(this.settings.pem);
        this.algorithms = algorithmsFor(key);
        this.key = settled(importSPKI(key.export({ type: 'spki', format: 'pem' }).toString(), this.algorithms[0]!));
        break;
      }
      case 'jwks': {
        const remote = createRemoteJWKSet(new URL(this.settings.url), {
          timeoutDuration: 5_000,
          cooldownDuration: 30_000,
          cacheMaxAge: 10 * 60_000,
        });
        // Tell "no such key in the set" (the token's fault: 401) from "the set could not be
        // fetched" (ours: 503).
        this.key = async (header, token) => {
          try {
            return await remote(header, token);
          } catch (error) {
            if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
            throw new IssuerKeysUnavailable(error);
          }
        };
        this.algorithms = ['RS256', 'ES256'];
        break;
      }
    }
  }

  /** Set only in dev mode: the random secret of this process. */
  private readonly devSecret?: string;

  async onApplicationBootstrap(): Promise<void> {
    if (this.settings.kind !== 'dev') {
      this.logger.log(`Bearer tokens verified with ${this.settings.kind} (${this.algorithms.join(', ')})`, 'Auth');
      return;
    }
    const token = await mintHs256Token(this.devSecret!, {
      sub: 'dev-admin',
      tenant: DEV_SCOPE.tenantKey,
      orgs: [DEV_SCOPE.orgKey],
      scope: IDENTITY_SCOPES.join(' '),
      expiresIn: '12h',
      issuer: this.settings.issuer,
      audience: this.settings.audience,
    });
    this.logger.warn(
      `No JWT configuration: using a random development secret. Dev token for ` +
        `/api/${DEV_SCOPE.tenantKey}/${DEV_SCOPE.orgKey}/identity (all scopes, 12 h): ${token}`,
      'Auth',
    );
  }

  /**
   * Tokens verified recently, until they expire: clients send the same token many times, and an
   * HMAC/RSA check through WebCrypto was the largest single CPU cost of a read. Bounded; the oldest
   * entries go first.
   */
  private readonly verified = new Map<string, { access: AccessToken; expiresAtMs: number }>();
  private static readonly VERIFIED_CACHE_SIZE = 10_000;

  /** The token's grants, or a 401 AppError saying what is wrong with it. */
  async verify(token: string): Promise<AccessToken> {
    const cached = this.verified.get(token);
    if (cached) {
      if (Date.now() < cached.expiresAtMs) return cached.access;
      this.verified.delete(token);
    }
    const { access, payload } = await this.verifyUncached(token);
    // Cached until `exp` (without the tolerance: a cached token never outlives its stated expiry),
    // and only once valid (`nbf` within the tolerance would make a later reuse valid too early).
    const now = Date.now();
    if (payload.nbf === undefined || payload.nbf * 1000 <= now) {
      if (this.verified.size >= TokenVerifier.VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, { access, expiresAtMs: payload.exp! * 1000 });
    }
    return access;
  }

  private async verifyUncached(token: string): Promise<{ access: AccessToken; payload: JWTPayload }> {
    let payload: JWTPayload;
    try {
      const key = typeof this.key === 'function' ? this.key : await this.key;
      ({ payload } = await jwtVerify(token, key as CryptoKey, {
        algorithms: this.algorithms,
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        clockTolerance: this.settings.clockToleranceSeconds,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      throw verificationError(error);
    }
    return { access: accessFromClaims(payload), payload };
  }
}

/** The promise, with its rejection also observed here (it is awaited later, per request). */
function settled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** A 401 with the RFC 6750 challenge. */
export function unauthorized(description: string, withError = true): AppError {
  const challenge = withError
    ? `Bearer realm="${REALM}", error="invalid_token", error_description="${description.replace(/"/g, "'")}"`
    : `Bearer realm="${REALM}"`;
  return new AppError(ErrorCode.Unauthorized, description, undefined, undefined, { 'WWW-Authenticate': challenge });
}

/** A 403 for a token that is valid but does not cover the request. */
export function forbidden(description: string, missingScope?: string): AppError {
  const challenge = missingScope
    ? `Bearer realm="${REALM}", error="insufficient_scope", scope="${missingScope}", error_description="${description.replace(/"/g, "'")}"`
    : undefined;
  return new AppError(ErrorCode.Forbidden, description, undefined, undefined, challenge ? { 'WWW-Authenticate': challenge } : undefined);
}

function verificationError(error: unknown): AppError {
  if (error instanceof errors.JWTExpired) return unauthorized('The token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return unauthorized('The token is not valid yet');
    return unauthorized(`The token's "${error.claim}" claim is not accepted`);
  }
  if (error instanceof IssuerKeysUnavailable) {
    // The issuer's keys are unreachable: the client's token may be fine; this is our problem.
    return new AppError(ErrorCode.ServiceUnavailable, 'The token issuer keys could not be fetched; retry later');
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return unauthorized('The token is signed with an algorithm that is not accepted');
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey) {
    return unauthorized('The token signature is not valid');
  }
  if (error instanceof errors.JOSEError) return unauthorized('The token is malformed');
  if (error instanceof TypeError || error instanceof SyntaxError) return unauthorized('The token is malformed');
  // A JWKS fetch that failed at the network level surfaces as a plain Error.
  return new AppError(ErrorCode.ServiceUnavailable, 'The token could not be verified; retry later');
}

/** The issuer's key set could not be fetched or read. */
class IssuerKeysUnavailable extends Error {
  constructor(readonly reason: unknown) {
    super('The token issuer keys could not be fetched');
  }
}

function accessFromClaims(payload: JWTPayload): AccessToken {
  const { sub, tenant, orgs } = payload as JWTPayload & { tenant?: unknown; orgs?: unknown };
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 255) {
    throw unauthorized('The token has no usable "sub" claim');
  }
  if (typeof tenant !== 'string' || !SCOPE_KEY_PATTERN.test(tenant)) {
    throw unauthorized('The token has no usable "tenant" claim');
  }
  if (orgs !== undefined && !(Array.isArray(orgs) && orgs.every((org) => typeof org === 'string'))) {
    throw unauthorized('The token\'s "orgs" claim must be an array of orgKeys');
  }
  return { subject: sub, tenant, orgs: orgs as string[] | undefined, scopes: scopesOf(payload) };
}

function scopesOf(payload: JWTPayload): Set<string> {
  const raw = (payload as { scope?: unknown; scp?: unknown }).scope ?? (payload as { scp?: unknown }).scp;
  const list = typeof raw === 'string' ? raw.split(/\s+/) : Array.isArray(raw) ? raw.filter((s) => typeof s === 'string') : [];
  return new Set(list.filter((scope) => scope.length > 0));
}

function algorithmsFor(key: KeyObject): string[] {
  if (key.asymmetricKeyType === 'rsa') return ['RS256'];
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return ['ES256'];
  throw new Error('JWT_PUBLIC_KEY must be an RSA or an EC P-256 public key');
}

export interface MintOptions {
  sub: string;
  tenant: string;
  orgs?: string[];
  scope: string;
  expiresIn: string;
  issuer?: string;
  audience?: string;
}

/** Signs an HS256 token (dev token, `npm run token`). */
export function mintHs256Token(secret: string, options: MintOptions): Promise<string> {
  const jwt = new SignJWT({ tenant: options.tenant, scope: options.scope, ...(options.orgs ? { orgs: options.orgs } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn);
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
