import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** The tables whose statistics the planner needs (all of ours). */
export type StatisticsTable = 'groups' | 'users' | 'memberships';
const TABLES: readonly StatisticsTable[] = ['groups', 'users', 'memberships'];

/** Rows written since the last ANALYZE before a table is analyzed again: autovacuum's rule, 50 + 10 %. */
const BASE_THRESHOLD = 50;
const SCALE_FACTOR = 0.1;

/**
 * Keeps the planner's table statistics fresh, like autovacuum's ANALYZE does on a server — which the
 * embedded database (PGlite) does not run at all, and which on a server lags a fast-growing table by
 * up to a minute. Without statistics, Postgres estimates one row per tenant and checks each new
 * membership's foreign keys by scanning a whole tenant's users: adding 10,000 members took 11 s
 * instead of 0.1 s. Repositories report the rows they write; a table is analyzed in the background
 * once its writes pass the threshold, and every table once at start-up.
 */
export class TableStatistics implements OnApplicationBootstrap {
  private readonly logger = new Logger('TableStatistics');
  private readonly written = new Map<StatisticsTable, number>();
  private readonly analyzedRows = new Map<StatisticsTable, number>();
  private readonly running = new Set<StatisticsTable>();

  /**
   * `maintenance`: `analyze` on a server (its autovacuum vacuums), `vacuum` on the embedded database,
   * which has no autovacuum at all: without VACUUM its dead rows are never reclaimed and its visibility
   * map stays empty, so an index-only scan (a deep `$skip` over the key order, a member count) reads
   * the table anyway.
   */
  constructor(
    private readonly dataSource: DataSource,
    private readonly maintenance: 'analyze' | 'vacuum' = 'analyze',
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const table of TABLES) await this.analyze(table);
  }

  /** Call after a statement wrote `rows` rows of `table` (inserted, updated or deleted). */
  noteWrites(table: StatisticsTable, rows: number): void {
    if (rows <= 0) return;
    const written = (this.written.get(table) ?? 0) + rows;
    this.written.set(table, written);
    if (written >= BASE_THRESHOLD + SCALE_FACTOR * (this.analyzedRows.get(table) ?? 0) && !this.running.has(table)) {
      // In the background, after the caller's transaction: a request never waits for it.
      setImmediate(() => void this.analyze(table));
    }
  }

  private async analyze(table: StatisticsTable): Promise<void> {
    if (this.running.has(table) || !this.dataSource.isInitialized) return;
    this.running.add(table);
    this.written.set(table, 0);
    try {
      await this.dataSource.query(this.maintenance === 'vacuum' ? `VACUUM (ANALYZE) ${table}` : `ANALYZE ${table}`);
      const [row] = await this.dataSource.query(`SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = $1::regclass`, [table]);
      this.analyzedRows.set(table, Math.max(0, Number(row?.rows ?? 0)));
    } catch (error) {
      // Statistics are an optimisation: a failure (e.g. during shutdown) must never fail a request.
      if (this.dataSource.isInitialized) this.logger.warn(`${this.maintenance.toUpperCase()} ${table} failed: ${String(error)}`);
    } finally {
      this.running.delete(table);
    }
  }
}
