import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for OData reads:
 * - the default order (key, case-sensitive code-point order, then id) as a plain btree, so a page —
 *   first or `$skiptoken`-continued — is an index range scan, never a sort of the whole scope;
 * - trigram GIN indexes for `$search` (case-insensitive substring on each text field), led by the
 *   scope columns (btree_gin) so one tenant's search never visits another tenant's rows.
 */
export class QueryIndexes1764129600000 implements MigrationInterface {
  name = 'QueryIndexes1764129600000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    await db.query('CREATE EXTENSION IF NOT EXISTS btree_gin');
    await db.query(`CREATE INDEX ix_groups_scope_key_order ON groups (tenant_key, org_key, group_key COLLATE "C", id)`);
    await db.query(`CREATE INDEX ix_users_scope_key_order ON users (tenant_key, org_key, user_key COLLATE "C", id)`);
    for (const [table, columns] of SEARCHED) {
      for (const column of columns) {
        await db.query(
          `CREATE INDEX ix_${table}_search_${column} ON ${table} USING gin (tenant_key, org_key, lower(${column}) gin_trgm_ops)`,
        );
      }
    }
  }

  async down(db: QueryRunner): Promise<void> {
    for (const [table, columns] of SEARCHED) {
      for (const column of columns) await db.query(`DROP INDEX ix_${table}_search_${column}`);
    }
    await db.query('DROP INDEX ix_users_scope_key_order');
    await db.query('DROP INDEX ix_groups_scope_key_order');
  }
}

/** The text columns `$search` looks in (see the OData entity models' searchProperties). */
export const SEARCHED: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['groups', ['group_key', 'name', 'email', 'notes']],
  ['users', ['user_key', 'name', 'email']],
];
