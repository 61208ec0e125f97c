import { plainToInstance, Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  registerDecorator,
  validateSync,
} from 'class-validator';

/**
 * The environment the service reads, validated once at start-up: a bad value stops the process with
 * one line naming the variable instead of surfacing later as a confusing failure.
 */
export class Environment {
  @IsInt({ message: 'PORT must be an integer between 0 and 65535' })
  @Min(0, { message: 'PORT must be an integer between 0 and 65535' })
  @Max(65535, { message: 'PORT must be an integer between 0 and 65535' })
  @Transform(({ value }) => toInteger(value))
  PORT = 3000;

  /** postgres://user:pass@host:port/db — when absent, the embedded Postgres (PGlite) is used. */
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/[^\s]+$/, { message: 'DATABASE_URL must be a postgres:// or postgresql:// URL' })
  DATABASE_URL?: string;

  /** Where the embedded Postgres keeps its files (ignored with DATABASE_URL). */
  @IsString()
  @MinLength(1, { message: 'DATA_DIR must not be empty' })
  DATA_DIR = './data';

  /** Connections in the pool to the Postgres server (the embedded database always uses one). */
  @IsInt({ message: 'DB_POOL_SIZE must be an integer between 1 and 200' })
  @Min(1, { message: 'DB_POOL_SIZE must be an integer between 1 and 200' })
  @Max(200, { message: 'DB_POOL_SIZE must be an integer between 1 and 200' })
  @Transform(({ value }) => toInteger(value))
  DB_POOL_SIZE = 10;

  /**
   * How many distinct statements each database connection keeps prepared (parsed and planned once,
   * reused); 0 prepares none, for a pooler in transaction mode (PgBouncer before 1.21).
   */
  @IsInt({ message: 'DB_PREPARED_STATEMENTS must be an integer between 0 and 10000' })
  @Min(0, { message: 'DB_PREPARED_STATEMENTS must be an integer between 0 and 10000' })
  @Max(10_000, { message: 'DB_PREPARED_STATEMENTS must be an integer between 0 and 10000' })
  @Transform(({ value }) => toInteger(value))
  DB_PREPARED_STATEMENTS = 200;

  // Query budget, pool waits, tenant fairness and response size (issue 16)

  /** Time limit of every statement on a PostgreSQL server, in ms; a query past it is cancelled (0: none). */
  @IsInt({ message: 'DB_STATEMENT_TIMEOUT_MS must be an integer between 0 and 3600000 (ms; 0 = no limit)' })
  @Min(0, { message: 'DB_STATEMENT_TIMEOUT_MS must be an integer between 0 and 3600000 (ms; 0 = no limit)' })
  @Max(3_600_000, { message: 'DB_STATEMENT_TIMEOUT_MS must be an integer between 0 and 3600000 (ms; 0 = no limit)' })
  @Transform(({ value }) => toInteger(value))
  DB_STATEMENT_TIMEOUT_MS = 5000;

  /** How long a statement waits for a pool connection (or for one to open) before the request is a 503. */
  @IsInt({ message: 'DB_POOL_WAIT_MS must be an integer between 1 and 600000 (ms)' })
  @Min(1, { message: 'DB_POOL_WAIT_MS must be an integer between 1 and 600000 (ms)' })
  @Max(600_000, { message: 'DB_POOL_WAIT_MS must be an integer between 1 and 600000 (ms)' })
  @Transform(({ value }) => toInteger(value))
  DB_POOL_WAIT_MS = 2000;

  /** Database connections one tenant may hold at once; absent: a quarter of the pool (at least 1). */
  @IsOptional()
  @IsInt({ message: 'TENANT_MAX_CONCURRENCY must be an integer between 1 and 200' })
  @Min(1, { message: 'TENANT_MAX_CONCURRENCY must be an integer between 1 and 200' })
  @Max(200, { message: 'TENANT_MAX_CONCURRENCY must be an integer between 1 and 200' })
  @Transform(({ value }) => toInteger(value))
  TENANT_MAX_CONCURRENCY?: number;

  /** How long a tenant's statement beyond its share waits for a slot before the request is a 429. */
  @IsInt({ message: 'TENANT_QUEUE_WAIT_MS must be an integer between 0 and 600000 (ms)' })
  @Min(0, { message: 'TENANT_QUEUE_WAIT_MS must be an integer between 0 and 600000 (ms)' })
  @Max(600_000, { message: 'TENANT_QUEUE_WAIT_MS must be an integer between 0 and 600000 (ms)' })
  @Transform(({ value }) => toInteger(value))
  TENANT_QUEUE_WAIT_MS = 1000;

  /** Most records one OData response holds, expanded ones included; larger pages are split (server-driven paging). */
  @IsInt({ message: 'MAX_RESPONSE_ROWS must be an integer between 1000 and 10000000' })
  @Min(1000, { message: 'MAX_RESPONSE_ROWS must be an integer between 1000 and 10000000' })
  @Max(10_000_000, { message: 'MAX_RESPONSE_ROWS must be an integer between 1000 and 10000000' })
  @Transform(({ value }) => toInteger(value))
  MAX_RESPONSE_ROWS = 50_000;

  /** Largest accepted request body, in bytes; larger bodies get 413. Accepts `1mb`, `512kb` or bytes. */
  @IsInt({ message: 'MAX_BODY must be a size such as 1mb, 512kb or a number of bytes (1kb–64mb)' })
  @Min(1024, { message: 'MAX_BODY must be a size such as 1mb, 512kb or a number of bytes (1kb–64mb)' })
  @Max(64 * 1024 * 1024, { message: 'MAX_BODY must be a size such as 1mb, 512kb or a number of bytes (1kb–64mb)' })
  @Transform(({ value }) => toByteSize(value))
  MAX_BODY = 1024 * 1024;

  /** HS256 shared secret (at least 32 characters). */
  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'JWT_SECRET must be at least 32 characters' })
  JWT_SECRET?: string;

  /** RS256/ES256 public key, PEM (SPKI `-----BEGIN PUBLIC KEY-----`); `\n` escapes are accepted. */
  @IsOptional()
  @Matches(/-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----/, {
    message: 'JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY----- …)',
  })
  JWT_PUBLIC_KEY?: string;

  /** A JWKS endpoint of the token issuer (RS256/ES256 keys, fetched and cached). */
  @IsOptional()
  @Matches(/^https?:\/\/[^\s]+$/, { message: 'JWT_JWKS_URL must be an http(s) URL' })
  JWT_JWKS_URL?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  JWT_ISSUER?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  JWT_AUDIENCE?: string;

  /** Allowed clock difference for exp/nbf, in seconds. */
  @IsInt({ message: 'JWT_CLOCK_TOLERANCE must be an integer between 0 and 300 (seconds)' })
  @Min(0, { message: 'JWT_CLOCK_TOLERANCE must be an integer between 0 and 300 (seconds)' })
  @Max(300, { message: 'JWT_CLOCK_TOLERANCE must be an integer between 0 and 300 (seconds)' })
  @Transform(({ value }) => toInteger(value))
  JWT_CLOCK_TOLERANCE = 30;

  // Rate limits (issue 16)
  /**
   * Sustained requests per second per tenant (decimals allowed: 0.5 = one request every 2 s);
   * 0 = no rate limit (the default).
   */
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'RATE_LIMIT_RPS must be a number between 0 and 1000000 (requests per second per tenant, 0 = off)' })
  @Min(0, { message: 'RATE_LIMIT_RPS must be a number between 0 and 1000000 (requests per second per tenant, 0 = off)' })
  @Max(1_000_000, { message: 'RATE_LIMIT_RPS must be a number between 0 and 1000000 (requests per second per tenant, 0 = off)' })
  @Transform(({ value }) => (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value))
  RATE_LIMIT_RPS = 0;

  /**
   * How many requests a tenant may send at once (its bucket, refilled whole every BURST ÷ RPS
   * seconds); unset = RATE_LIMIT_RPS rounded up (at least 1). Ignored while RATE_LIMIT_RPS is 0.
   */
  @IsOptional()
  @IsInt({ message: 'RATE_LIMIT_BURST must be an integer between 1 and 10000000' })
  @Min(1, { message: 'RATE_LIMIT_BURST must be an integer between 1 and 10000000' })
  @Max(10_000_000, { message: 'RATE_LIMIT_BURST must be an integer between 1 and 10000000' })
  @BurstFitsRate()
  @Transform(({ value }) => toInteger(value))
  RATE_LIMIT_BURST?: number;

  /** redis:// or rediss:// — when set, the tenants' budgets live in Redis, shared by every replica. */
  @IsOptional()
  @Matches(/^rediss?:\/\/[^\s]+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  /** Prefix of the rate-limit keys in Redis (`<prefix>:<tenantKey>`): deployments and tests sharing a Redis keep apart. */
  @Matches(/^[A-Za-z0-9:._-]{1,100}$/, { message: 'RATE_LIMIT_KEY_PREFIX must be 1–100 characters of A–Z, a–z, 0–9, ":", ".", "_" or "-"' })
  RATE_LIMIT_KEY_PREFIX = 'igs:ratelimit';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    message: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
  })
  LOG_LEVEL = 'info';
}

/** Validates `process.env`-like input; throws one Error whose message names each bad variable. */
export function validateEnvironment(raw: Record<string, unknown>): Environment {
  const input = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== '' && value !== undefined));
  const environment = plainToInstance(Environment, input, { exposeDefaultValues: true });
  const errors = validateSync(environment, { whitelist: false, forbidUnknownValues: false });
  const keySources = ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL'].filter((name) => input[name] !== undefined);
  if (keySources.length > 1) {
    throw new Error(`Invalid configuration: set only one of ${keySources.join(', ')}`);
  }
  if (errors.length > 0) {
    const lines = errors.flatMap((error) => Object.values(error.constraints ?? {}));
    throw new Error(`Invalid configuration: ${[...new Set(lines)].join('; ')}`);
  }
  return environment;
}

function toInteger(value: unknown): unknown {
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number(value);
  return value;
}

function toByteSize(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const match = /^\s*(\d+)\s*(b|kb|mb)?\s*$/i.exec(value);
  if (!match) return value;
  const unit = { b: 1, kb: 1024, mb: 1024 * 1024 }[(match[2] ?? 'b').toLowerCase() as 'b' | 'kb' | 'mb'];
  return Number(match[1]) * unit;
}

/**
 * RATE_LIMIT_BURST against RATE_LIMIT_RPS (issue 16): the bucket holds at least one second of
 * requests, and refills within a day. A function declaration, so that the class above can use it.
 */
function BurstFitsRate(): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'burstFitsRate',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate(burst: unknown, args) {
          const rps = (args?.object as Environment | undefined)?.RATE_LIMIT_RPS;
          if (typeof burst !== 'number' || typeof rps !== 'number' || !(rps > 0)) return true;
          return burst >= rps && burst / rps <= 86_400;
        },
        defaultMessage(args) {
          const rps = (args?.object as Environment | undefined)?.RATE_LIMIT_RPS ?? 0;
          return (args?.value as number) < rps
            ? 'RATE_LIMIT_BURST must be at least RATE_LIMIT_RPS (the bucket holds at least one second of requests)'
            : 'RATE_LIMIT_BURST / RATE_LIMIT_RPS must be at most 86400 (the bucket refills within a day)';
        },
      },
    });
  };
}
