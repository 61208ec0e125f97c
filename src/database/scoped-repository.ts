import type { CompiledCollectionQuery } from '../odata/compile-query.js';
import type { Scope } from '../tenancy/scope.js';
import { QueryRows, UnitOfWork } from './unit-of-work.js';

/**
 * The base of every repository, and the one place where tenant scope reaches SQL.
 *
 * Every statement runs through `run(scope, …)`, which binds the scope as parameters $1 (tenant_key)
 * and $2 (org_key); statements refer to them only through `scoped(alias)`. A repository therefore
 * cannot run a statement without a scope, and no caller above the repositories writes the predicate.
 */
export abstract class ScopedRepository {
  /** The first parameter number free for a statement's own values. */
  protected static readonly FIRST_PARAM = 3;

  constructor(protected readonly uow: UnitOfWork) {}

  /** `alias.tenant_key = $1 AND alias.org_key = $2` */
  protected scoped(alias: string): string {
    return `${alias}.tenant_key = $1 AND ${alias}.org_key = $2`;
  }

  /**
   * The scope for a text search of the table: `scoped(alias)`, and the same scope as the key the
   * table's trigram search index leads with (`tenant_key || '/' || org_key`, see the search-index
   * migration), which lets that index yield only the scope's candidates. Only statements that search
   * text use it: no other statement names the expression, so no other can be planned through that
   * index (a GIN index on the scope columns themselves was chosen to read whole scopes).
   */
  protected searchScoped(alias: string): string {
    return `${this.scoped(alias)} AND (${alias}.tenant_key || '/' || ${alias}.org_key) = ($1 || '/' || $2)`;
  }

  protected run<T>(scope: Scope, sql: string, params: readonly unknown[] = []): Promise<QueryRows<T>> {
    return this.uow.query<T>(scope, sql, [scope.tenantKey, scope.orgKey, ...params]);
  }

  /**
   * Runs a compiled OData collection query (alias `r`) under `predicate` — the scope, plus whatever
   * narrows the collection (e.g. "members of group $3", with `extraParams` = [group id]) — and its
   * count when asked: in the same statement, so page and count come from one snapshot in one round
   * trip (a separate count needed a REPEATABLE READ transaction: four round trips instead of one).
   */
  protected async runCollection(
    scope: Scope,
    query: CompiledCollectionQuery,
    predicate: string,
    extraParams: readonly unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; count?: number }> {
    const params = [...extraParams, ...query.params];
    if (!query.count) {
      const { rows } = await this.run<Record<string, unknown>>(scope, query.selectStatement(predicate), params);
      return { rows };
    }
    const { rows } = await this.run<Record<string, unknown>>(scope, query.selectWithCountStatement(predicate), params);
    if (rows.length > 0) return { rows, count: Number(rows[0]![query.countColumn]) };
    // No row to carry the count: nothing matches, unless the page started past the end.
    if (query.offset === 0 && query.keyset === undefined) return { rows, count: 0 };
    const counted = await this.run<{ count: string }>(scope, query.countStatement(predicate), [...extraParams, ...query.countParams]);
    return { rows, count: Number(counted.rows[0]!.count) };
  }
}
