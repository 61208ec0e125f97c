import type { MigrationInterface, QueryRunner } from 'typeorm';
import { SEARCHED } from './1764129600000-query-indexes.js';

/** The scope as the search indexes hold it; `ScopedRepository.searchScoped` writes the same expression. */
const SEARCH_SCOPE_KEY = "tenant_key || '/' || org_key";

/**
 * One trigram search index per table, on the columns as stored, instead of one per column on
 * `lower(column)`.
 *
 * The indexes of migration 2 were `(tenant_key, org_key, lower(column) gin_trgm_ops)`, one per text
 * column. Two planner traps came with them, both seen in generic plans (a named statement from its
 * sixth execution on):
 * - pg_trgm (1.6+) indexes serve `=` as well, so `lower(user_key) = lower($k)` — the key lookups of
 *   every membership call — could be planned as a probe of the trigram index, which walks the
 *   tenant's whole posting list (~0.6 ms a key instead of ~5 µs through the unique btree);
 * - with four indexes sharing the scope columns, a search on `name` could be served by the `notes`
 *   index through its scope columns alone, filtering the whole scope.
 *
 * Now each table has one GIN index: the scope (btree_gin, so a scope's search does not visit other
 * scopes' rows when the scope is a small part of the table) and every searched column as stored,
 * with `gin_trgm_ops`. The scope is indexed as the expression `tenant_key || '/' || org_key` (keys
 * cannot contain `/`), not as the two columns: any statement filters by the columns, and a GIN
 * index on them was a third trap — a generic plan of `$skip=3000` over the scope read the whole
 * scope through it (its cost for an unknown value is guessed very low) and sorted, instead of
 * walking the key-order index. Only text searches name the expression (ScopedRepository's
 * `searchScoped`), so only they can use this index. Trigram extraction is case-insensitive, so the same index serves
 * case-sensitive `LIKE` (`contains`, `startswith`, `endswith`) and `ILIKE` (`$search`); no
 * predicate of the service compares these columns with `=` in their own collation (keys are looked
 * up as `lower(key)`, OData `eq` compares `COLLATE "C"`), so no equality can be planned through it.
 * One index instead of four also leaves the planner no wrong index to pick, and costs a write one
 * index update instead of four.
 *
 * `fastupdate = off`: with GIN's default pending list, new rows' entries wait in an unordered list
 * that every search reads in full until a VACUUM merges it — which the embedded database never runs
 * (no autovacuum), and which on a server lags a busy table. Seen here: after 40,000 inserted groups
 * the list held 307 pages and the planner rightly preferred a sequential scan of the table to the
 * index. Without the list an insert updates the index directly (a little more work per write, no
 * 4 MB flush landing on one unlucky insert) and a search always reads an ordered index.
 */
export class SearchIndexPerTable1764806400000 implements MigrationInterface {
  name = 'SearchIndexPerTable1764806400000';

  async up(db: QueryRunner): Promise<void> {
    for (const [table, columns] of SEARCHED) {
      for (const column of columns) await db.query(`DROP INDEX IF EXISTS ix_${table}_search_${column}`);
      const searched = columns.map((column) => `${column} gin_trgm_ops`).join(', ');
      await db.query(`CREATE INDEX ix_${table}_search ON ${table} USING gin ((${SEARCH_SCOPE_KEY}), ${searched}) WITH (fastupdate = off)`);
    }
  }

  async down(db: QueryRunner): Promise<void> {
    for (const [table, columns] of SEARCHED) {
      await db.query(`DROP INDEX ix_${table}_search`);
      for (const column of columns) {
        await db.query(`CREATE INDEX ix_${table}_search_${column} ON ${table} USING gin (tenant_key, org_key, lower(${column}) gin_trgm_ops)`);
      }
    }
  }
}
