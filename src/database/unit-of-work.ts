import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import type { Scope } from '../tenancy/scope.js';
import { PreparedStatements } from './prepared-statements.js';

export interface QueryRows<T> {
  rows: T[];
  /** Rows inserted, updated or deleted (for SELECT: rows returned). */
  rowCount: number;
}

/** The connection of the transaction a scope is bound to (see UnitOfWork.transaction). */
const TRANSACTION = Symbol('transaction');

interface TransactionScope extends Scope {
  readonly [TRANSACTION]: PoolClient;
}

function connectionOf(scope: Scope): PoolClient | undefined {
  return (scope as Partial<TransactionScope>)[TRANSACTION];
}

/**
 * Runs a service's work in one database transaction, and every statement on the right connection.
 *
 * The transaction travels with the scope: `transaction(scope, (scope) => …)` hands its work the same
 * scope bound to the transaction's connection, and a repository given that scope runs its statement
 * there (given a plain scope, on the pool). Repositories take a scope for every statement anyway, so
 * nothing else is threaded through. The work's parameter shadows the outer scope on purpose: inside
 * it, the unbound one cannot be used by mistake. (An AsyncLocalStorage did this before: it turns on
 * a promise hook for every promise of the process, which cost a third of the throughput of reads.)
 *
 * Statements go straight to the pool TypeORM's Postgres driver created (TypeORM owns the connection
 * settings, the entities and the migrations): a TypeORM QueryRunner per statement cost more CPU than
 * the statement's own round trip on the hot read paths, and it cannot run named prepared statements,
 * which spare the database the parse and plan of every repeated statement (see PreparedStatements).
 */
@Injectable()
export class UnitOfWork {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(PreparedStatements) private readonly statements: PreparedStatements,
  ) {}

  /**
   * Runs `work` in a READ COMMITTED transaction, with `scope` bound to it; commits, or rolls back on
   * throw. Given a scope already bound to a transaction, joins it.
   */
  async transaction<T>(scope: Scope, work: (scope: Scope) => Promise<T>): Promise<T> {
    if (connectionOf(scope)) return work(scope);
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      const bound: TransactionScope = Object.freeze({ tenantKey: scope.tenantKey, orgKey: scope.orgKey, [TRANSACTION]: client });
      const result = await work(bound);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A connection that cannot even roll back is not handed to the next request.
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** Runs one parameterised statement in the scope's transaction, or — outside one — on the pool. */
  async query<T>(scope: Scope, sql: string, params: readonly unknown[]): Promise<QueryRows<T>> {
    const executor = connectionOf(scope) ?? this.pool;
    const result = await executor.query({ text: sql, values: params as unknown[], name: this.statements.nameFor(sql) });
    return { rows: result.rows as T[], rowCount: result.rowCount ?? result.rows.length };
  }

  /** The pg pool TypeORM's Postgres driver created (its `master`). */
  private get pool(): Pool {
    return (this.dataSource.driver as unknown as { master: Pool }).master;
  }
}
