/**
 * Which failures of a statement mean "the database is not there" rather than "this statement is
 * wrong". The first kind is the client's to retry (503 `DatabaseUnavailable` with `Retry-After`),
 * never a 500 with a stack: a server stopped, restarted or failed over, a connection cut in the middle
 * of a request, a pool that has no connection to give within `DB_POOL_WAIT_MS`, the embedded database
 * closed under load.
 */

/** What a 503 from the database tells the client to wait before retrying, in seconds. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/**
 * SQLSTATEs of a database that is going away or cannot take the connection:
 * 08 connection exception, 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now
 * (starting up, shutting down, in recovery), 53300 too_many_connections, 53100/53200 disk full and
 * out of memory (insufficient resources).
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-5]|53[1-3]00)$/;

/** Socket-level errors of the connection to the server. */
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * node-postgres and PGlite say these in plain messages, without a code: the connection ended under a
 * query, the pool timed out waiting for or opening a connection, a client that lost its connection or
 * a pool or embedded database that was closed.
 */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Cannot use a pool after calling end|PGlite is closed|Client was closed/i;

/** True when `error` says the database (or the connection to it) is unavailable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const candidate = driverErrorOf(error);
  if (!candidate || typeof candidate !== 'object') return false;
  const { code, message } = candidate as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))) return true;
  // AggregateError (a host with several addresses, all refusing) carries the causes in `errors`.
  const causes = (candidate as { errors?: unknown }).errors;
  if (Array.isArray(causes) && causes.length > 0 && causes.every((cause) => isDatabaseUnavailable(cause))) return true;
  return typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message);
}

/** True when Postgres cancelled the statement because it ran past `statement_timeout`. */
export function isStatementTimeout(error: unknown): boolean {
  const candidate = driverErrorOf(error) as { code?: unknown; message?: unknown } | undefined;
  return candidate?.code === '57014' && typeof candidate.message === 'string' && /statement timeout/i.test(candidate.message);
}

/** A short, single-line description for the log (never a stack per request). */
export function describeDatabaseError(error: unknown): string {
  const candidate = driverErrorOf(error) as { code?: unknown; message?: unknown } | undefined;
  const message = typeof candidate?.message === 'string' && candidate.message !== '' ? candidate.message : String(error);
  const code = typeof candidate?.code === 'string' ? ` (${candidate.code})` : '';
  return `${message.split('\n')[0]}${code}`;
}

function driverErrorOf(error: unknown): unknown {
  // TypeORM wraps driver errors in QueryFailedError and keeps the driver's error on `driverError`.
  return (error as { driverError?: unknown } | undefined)?.driverError ?? error;
}
