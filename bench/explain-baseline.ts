/**
 * Prints the plans of the baseline's statements on a bench database (its schema `ref`), with the
 * parameters the bench uses, once as a custom plan and once as the generic plan a named statement
 * settles on after five executions (`plan_cache_mode = force_generic_plan`), each with
 * EXPLAIN (ANALYZE, BUFFERS). Writes run inside a transaction that is rolled back.
 *
 *   node --import tsx bench/explain-baseline.ts postgres://postgres@127.0.0.1:5432/igs_bench_s [statement…]
 */
import pg from 'pg';
import { STATEMENTS, Statement } from './baseline-sql.js';
import { userKey } from './dataset.js';

const url = process.argv[2];
if (!url) throw new Error('usage: explain-baseline.ts DATABASE_URL [statement-name…]');
const wanted = new Set(process.argv.slice(3));

const client = new pg.Client({ connectionString: url });
await client.connect();
try {
  const scope = ['t1', 'o1'];
  const { rows: depthRows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ref.groups WHERE tenant_key = 't1' AND org_key = 'o1'`);
  const depth = Number(depthRows[0]!.n) > 10_000 ? 50_000 : 4_000;
  const { rows: after } = await client.query<{ group_key: string; id: string }>(
    `SELECT group_key, id FROM ref.groups WHERE tenant_key = 't1' AND org_key = 'o1' ORDER BY group_key COLLATE "C", id OFFSET $1 - 1 LIMIT 1`,
    [depth],
  );
  const { rows: users } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ref.users WHERE tenant_key = 't1' AND org_key = 'o1'`);
  const keys = Array.from({ length: Math.min(10_000, Number(users[0]!.n)) }, (_, index) => userKey(index));
  const parameters: Record<string, unknown[]> = {
    ref_group_by_key: [...scope, 'core-100-a'],
    ref_search_name_count: [...scope, '%alpha%', 20],
    ref_search_name: [...scope, '%alpha%', 20],
    ref_group_key_eq_expand: [...scope, 'core-100-a'],
    ref_groups_by_key_first: [...scope, 20],
    ref_groups_by_key_after: [...scope, after[0]!.group_key, after[0]!.id, 20],
    ref_groups_by_key_offset: [...scope, depth, 20],
    ref_insert_group: [...scope, 'w5-explain', 'Explain', null, null, true, 'bench'],
    ref_add_members_by_key: [...scope, 'core-100-b', keys, 'bench'],
    ref_user_groups: [...scope, 'user-000002', 101],
  };
  for (const statement of STATEMENTS) {
    if (wanted.size > 0 && !wanted.has(statement.name)) continue;
    for (const mode of ['force_custom_plan', 'force_generic_plan']) {
      console.log(`\n=== ${statement.name} (${mode}) ===`);
      console.log(await explain(statement, parameters[statement.name]!, mode));
    }
  }
} finally {
  await client.end();
}

async function explain(statement: Statement, values: unknown[], mode: string): Promise<string> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL plan_cache_mode = ${mode}`);
    await client.query(`PREPARE explained AS ${statement.text}`);
    const literals = values.map((value) => (value === null ? 'NULL' : client.escapeLiteral(Array.isArray(value) ? `{${value.join(',')}}` : String(value))));
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) EXECUTE explained(${literals.join(', ')})`);
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  } finally {
    await client.query('ROLLBACK');
    await client.query('DEALLOCATE explained'); // PREPARE is not transactional
  }
}
