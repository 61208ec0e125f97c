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

  protected run<T>(scope: Scope, sql: string, params: readonly unknown[] = []): Promise<QueryRows<T>> {
    return this.uow.query<T>(sql, [scope.tenantKey, scope.orgKey, ...params]);
  }
}
