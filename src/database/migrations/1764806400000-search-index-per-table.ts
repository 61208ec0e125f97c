import type { MigrationInterface, QueryRunner } from 'typeorm';
import { SEARCHED } from './1764129600000-query-indexes.js';

/** The scope as the search indexes hold it; `ScopedRepository.searchScoped` writes the same expression. */
const SEARCH_SCOPE_KEY = "tenant_key || '/' || org_key";

/**
 * One trigram search index per table, on the columns as stored and keyed by the scope expression,
 * instead of one per column on `lower(column)` led by the scope columns.
 *
 * The indexes of migration 2 were `(tenant_key, org_key, lower(column) gin_trgm_ops)`, one per text
 * column. Three planner traps came with them, all seen in generic plans (a named statement from its
 * sixth execution on):
 * - pg_trgm (1.6+) indexes serve `=` as well, so `lower(user_key) = lower($k)` — the key lookups of
 *   every membership call — could be planned as a probe of the trigram index, which walks the
 *   tenant's whole posting list (~0.6 ms a key instead of ~5 µs through the unique btree);
 * - a GIN index on the scope columns answers "every row of the scope" at a guessed, far too low
 *   cost: a search on `name` was served by the `notes` index through its scope columns alone, and
 *   a deep `$skip` read the whole scope through it and sorted, instead of walking the key-order index;
 * - (below) the pending list.
 *
 * Now each table has one GIN index over every searched column as stored, with `gin_trgm_ops`:
 * trigram extraction is case-insensitive, so it serves case-sensitive `LIKE` (`contains`,
 * `startswith`, `endswith`) and `ILIKE` (`$search`) alike, and no statement compares these columns
 * with `=` in their own collation (keys are looked up as `lower(key)`, OData `eq` compares
 * `COLLATE "C"`). It leads with the scope as the expression `tenant_key || '/' || org_key` (keys
 * cannot contain `/`; btree_gin), so a scope's search does not visit other scopes' rows; only text
 * searches name that expression (`ScopedRepository.searchScoped`), so only they can use the index.
 * One index instead of four leaves the planner no wrong index to pick, and a write one to update.
 *
 * `fastupdate = off`: with GIN's default pending list, new rows' entries wait in an unordered list
 * that every search reads in full until a VACUUM merges it — which the embedded database never ran
 * (no autovacuum), and which on a server lags a busy table. Seen here: after 40,000 inserted groups
 * the list held 307 pages and the planner rightly preferred a sequential scan of the table to the
 * index. Without the list an insert updates the index directly (more work per write, no 4 MB flush
 * landing on one unlucky insert) and a search always reads an ordered index.
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
