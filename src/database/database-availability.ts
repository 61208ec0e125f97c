import { Logger } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { DATABASE_RETRY_AFTER_SECONDS, describeDatabaseError, isDatabaseUnavailable } from './database-failures.js';

const LOST_CONNECTION_LOG_INTERVAL_MS = 10_000;

/**
 * Whether the database answers, as the requests see it, logged once per transition: one warning when
 * it goes away (with the first failure's reason), one line when it is back (how long it was away and
 * how many statements failed meanwhile). During an outage every request fails the same way; a stack
 * per request would bury everything else in the log.
 */
export class DatabaseAvailability {
  private readonly logger = new Logger('Database');
  private downSince: number | undefined;
  private failuresWhileDown = 0;
  /** Counts outages; a statement notes it when it starts (see `reachable`). */
  private outages = 0;
  /** Connections lost since the last line about it (they come in bursts: the whole pool at once). */
  private lostConnections = 0;
  private lostLoggedAt = Number.NEGATIVE_INFINITY;

  /** Says whether the database itself is closed (the embedded one): then every failure means "away". */
  private closedProbe: () => boolean = () => false;

  get isDown(): boolean {
    return this.downSince !== undefined;
  }

  /** Read when a statement starts, handed back to `reachable` when it succeeds. */
  get epoch(): number {
    return this.outages;
  }

  /**
   * For the embedded database: once PGlite is closed, its statements fail with whatever its torn-down
   * module throws (a TypeError), not with a connection error; the probe tells them apart.
   */
  watchClosed(probe: () => boolean): void {
    this.closedProbe = probe;
  }

  /** True when `error` (a statement's failure) means the database is away, not that the statement is wrong. */
  explains(error: unknown): boolean {
    return isDatabaseUnavailable(error) || this.closedProbe();
  }

  /** A statement failed because the database is unavailable: the 503 to answer with. */
  unavailable(error: unknown): AppError {
    if (this.downSince === undefined) {
      this.downSince = Date.now();
      this.failuresWhileDown = 0;
      this.outages += 1;
      this.logger.error(`The database is unavailable: ${describeDatabaseError(error)}; answering 503 until it is back`);
    }
    this.failuresWhileDown += 1;
    return new AppError(
      ErrorCode.DatabaseUnavailable,
      'The database is unavailable; retry the request later',
      undefined,
      undefined,
      { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) },
    );
  }

  /**
   * A pooled connection reported an error of its own (the server closed it: restart, failover,
   * `pg_terminate_backend`). Nothing fails because of it yet — the pool drops that connection — so
   * this is one line per burst (at most one per LOST_CONNECTION_LOG_INTERVAL_MS), and none while
   * the database is already known to be down.
   */
  connectionLost(error: unknown): void {
    this.lostConnections += 1;
    const now = Date.now();
    if (this.downSince !== undefined || now - this.lostLoggedAt < LOST_CONNECTION_LOG_INTERVAL_MS) return;
    this.logger.warn(`Lost ${this.lostConnections} database connection(s): ${describeDatabaseError(error)}`);
    this.lostLoggedAt = now;
    this.lostConnections = 0;
  }

  /**
   * A statement that started at `epoch` succeeded. Cheap when nothing changed: it runs after every
   * statement. Only a statement that started after the outage was noticed proves the database is
   * back: one already under way when the server began shutting down may still finish, and counting
   * it logged "back" and "away" again within milliseconds.
   */
  reachable(epoch: number): void {
    if (this.downSince === undefined || epoch !== this.outages) return;
    const seconds = ((Date.now() - this.downSince) / 1000).toFixed(1);
    this.logger.log(`The database is available again after ${seconds} s (${this.failuresWhileDown} statements failed meanwhile)`);
    this.downSince = undefined;
  }
}
