import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import type { Scope } from '../tenancy/scope.js';
import { DatabaseAvailability } from './database-availability.js';
import { PreparedStatements } from './prepared-statements.js';
import { TenantGate } from './tenant-gate.js';

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
 *
 * Being the one way to the database, it is also where the tenant's share of the connections is
 * taken (TenantGate: a transaction, or a statement outside one, holds one slot of its tenant) and
 * where a database that went away becomes a 503 (DatabaseAvailability) instead of a 500.
 */
@Injectable()
export class UnitOfWork {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(PreparedStatements) private readonly statements: PreparedStatements,
    @Inject(TenantGate) private readonly gate: TenantGate,
    @Inject(DatabaseAvailability) private readonly availability: DatabaseAvailability,
  ) {}

  /**
   * Runs `work` in a READ COMMITTED transaction, with `scope` bound to it; commits, or rolls back on
   * throw. Given a scope already bound to a transaction, joins it.
   */
  async transaction<T>(scope: Scope, work: (scope: Scope) => Promise<T>): Promise<T> {
    if (connectionOf(scope)) return work(scope);
    const leave = await this.gate.enter(scope.tenantKey);
    const epoch = this.availability.epoch;
    try {
      const client = await this.pool.connect().catch((error: unknown) => Promise.reject(this.failure(error)));
      let broken = false;
      try {
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        const bound: TransactionScope = Object.freeze({ tenantKey: scope.tenantKey, orgKey: scope.orgKey, [TRANSACTION]: client });
        const result = await work(bound);
        await client.query('COMMIT');
        this.availability.reachable(epoch);
        return result;
      } catch (error) {
        // A connection that cannot even roll back is not handed to the next request. A COMMIT that
        // failed with the connection leaves the outcome to the database: it committed whole or not at all.
        await client.query('ROLLBACK').catch(() => (broken = true));
        throw this.failure(error);
      } finally {
        client.release(broken);
      }
    } finally {
      leave();
    }
  }

  /** Runs one parameterised statement in the scope's transaction, or — outside one — on the pool. */
  async query<T>(scope: Scope, sql: string, params: readonly unknown[]): Promise<QueryRows<T>> {
    const client = connectionOf(scope);
    if (client) return this.run<T>(client, sql, params);
    const leave = await this.gate.enter(scope.tenantKey);
    try {
      return await this.run<T>(this.pool, sql, params);
    } finally {
      leave();
    }
  }

  private async run<T>(executor: Pool | PoolClient, sql: string, params: readonly unknown[]): Promise<QueryRows<T>> {
    const epoch = this.availability.epoch;
    try {
      const result = await executor.query({ text: sql, values: params as unknown[], name: this.statements.nameFor(sql) });
      this.availability.reachable(epoch);
      return { rows: result.rows as T[], rowCount: result.rowCount ?? result.rows.length };
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** A failure that means the database is away becomes the 503 to answer; any other stays as it is. */
  private failure(error: unknown): unknown {
    return this.availability.explains(error) ? this.availability.unavailable(error) : error;
  }

  /** The pg pool TypeORM's Postgres driver created (its `master`). */
  private get pool(): Pool {
    return (this.dataSource.driver as unknown as { master: Pool }).master;
  }
}
