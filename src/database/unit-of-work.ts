import { Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Pool } from 'pg';
import { DataSource, QueryRunner } from 'typeorm';

export interface QueryRows<T> {
  rows: T[];
  /** Rows inserted, updated or deleted (for SELECT: rows returned). */
  rowCount: number;
}

/**
 * Runs a service's work in one database transaction and gives repositories the connection of the
 * transaction in progress (through AsyncLocalStorage, so no handle is threaded through every call).
 * Outside a transaction, a statement runs on its own pooled connection.
 */
@Injectable()
export class UnitOfWork {
  private readonly current = new AsyncLocalStorage<QueryRunner>();

  constructor(private readonly dataSource: DataSource) {}

  /** Runs `work` in a transaction; nested calls join the outer one. Commits, or rolls back on throw. */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.within('BEGIN ISOLATION LEVEL READ COMMITTED', work);
  }

  /**
   * Runs several reads on one consistent snapshot (a read-only REPEATABLE READ transaction), e.g. a
   * page and its total count. Inside a transaction already, joins it.
   */
  snapshot<T>(work: () => Promise<T>): Promise<T> {
    return this.within('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', work);
  }

  private async within<T>(begin: string, work: () => Promise<T>): Promise<T> {
    if (this.current.getStore()) return work();
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query(begin);
      const result = await this.current.run(runner, work);
      await runner.query('COMMIT');
      return result;
    } catch (error) {
      await runner.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }

  /**
   * Runs one parameterised statement in the current transaction, or — outside one — straight on the
   * driver's pool: a TypeORM QueryRunner per statement (create, connect, broadcast, release) cost more
   * CPU than the statement's own round trip on the hot read paths.
   */
  async query<T>(sql: string, params: readonly unknown[]): Promise<QueryRows<T>> {
    const runner = this.current.getStore();
    if (runner) {
      const result = await runner.query(sql, params as unknown[], true);
      const rows = (result.records ?? []) as T[];
      return { rows, rowCount: result.affected ?? rows.length };
    }
    const result = await this.pool.query(sql, params as unknown[]);
    return { rows: result.rows as T[], rowCount: result.rowCount ?? result.rows.length };
  }

  /** The pg pool TypeORM's Postgres driver created (its `master`). */
  private get pool(): Pool {
    return (this.dataSource.driver as unknown as { master: Pool }).master;
  }
}
