import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { UnitOfWork } from '../../src/database/unit-of-work.js';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';

/*
 * Plan shapes of the hot statements, as PostgreSQL runs them once they are reused: the generic plan
 * of a named statement (from its sixth execution on; forced here with plan_cache_mode =
 * force_generic_plan). Never timings: which index serves which statement.
 *
 * The statements are the service's own, captured while it answers real requests (the unit of work
 * is the one place every statement passes), then PREPAREd and EXPLAINed with their captured values on
 * a database seeded as a busy tenant's would be: rows written by ordinary transactions and analysed,
 * not vacuumed, next to a second scope of the same size.
 *
 * On the schema of migration 2 (a trigram index per column on lower(column), led by the scope
 * columns) the key lookups of every membership call were planned through the trigram index of the
 * key, which walks the scope's whole posting list for each key: the `resolveKeys` case failed there.
 */
jest.setTimeout(180_000);

const USERS = 3_000;
const GROUPS = 4_000;

interface Captured {
  sql: string;
  params: readonly unknown[];
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Recheck Cond'?: string;
  'Conflict Arbiter Indexes'?: string[];
  Plans?: PlanNode[];
}

let target: TestApp;
let pool: Pool;
let captured: Captured[] = [];
let ginIndexes: Set<string>;
const home = newScope('plans');
const other = newScope('plans');

beforeAll(async () => {
  // The seed below is bulk SQL through the app's own pool, on tables not analyzed yet: no query budget.
  target = await startTestApp({ DB_STATEMENT_TIMEOUT_MS: '0' });
  const dataSource = target.app.get(DataSource);
  pool = (dataSource.driver as unknown as { master: Pool }).master;
  for (const scope of [other, home]) await seed(scope.tenantKey, scope.orgKey);
  await run((client) => client.query('ANALYZE groups; ANALYZE users; ANALYZE memberships'));
  const { rows } = await run((client) =>
    client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
        WHERE a.amname = 'gin' AND i.indrelid IN ('groups'::regclass, 'users'::regclass, 'memberships'::regclass)`,
    ),
  );
  ginIndexes = new Set(rows.map((row) => row.name));

  const uow = target.app.get(UnitOfWork);
  const query = uow.query.bind(uow);
  jest.spyOn(uow, 'query').mockImplementation((scope, sql, params) => {
    captured.push({ sql, params });
    return query(scope, sql, params);
  });
});

afterAll(async () => {
  await target?.close();
});

/** One scope's rows, inserted in ordinary transactions (as the API writes them). */
async function seed(tenant: string, org: string): Promise<void> {
  await run(async (client) => {
    await client.query(
      `INSERT INTO users (tenant_key, org_key, user_key, name, email)
       SELECT $1, $2, 'user-' || lpad(i::text, 6, '0'), 'User ' || i, 'user' || i || '@example.com' FROM generate_series(1, ${USERS}) i`,
      [tenant, org],
    );
    await client.query(
      `INSERT INTO groups (tenant_key, org_key, group_key, name, notes)
       SELECT $1, $2, 'group-' || lpad(i::text, 6, '0'),
              (ARRAY['Alpha', 'Bravo', 'Charlie', 'Delta'])[1 + i % 4] || ' team ' || i,
              CASE WHEN i % 3 = 0 THEN 'notes of group ' || i END
         FROM generate_series(1, ${GROUPS}) i`,
      [tenant, org],
    );
    // Every user in three groups; the first group has 100 members.
    await client.query(
      `INSERT INTO memberships (tenant_key, org_key, group_id, user_id)
       SELECT DISTINCT u.tenant_key, u.org_key, g.id, u.id
         FROM users u CROSS JOIN generate_series(0, 2) k
         JOIN groups g ON g.tenant_key = u.tenant_key AND g.org_key = u.org_key
          AND g.group_key = 'group-' || lpad((2 + (substr(u.user_key, 6)::int * 7 + k * 1231) % ${GROUPS - 1})::text, 6, '0')
        WHERE u.tenant_key = $1 AND u.org_key = $2
       UNION
       SELECT u.tenant_key, u.org_key, g.id, u.id FROM users u JOIN groups g ON g.tenant_key = u.tenant_key AND g.org_key = u.org_key
        WHERE u.tenant_key = $1 AND u.org_key = $2 AND g.group_key = 'group-000001' AND substr(u.user_key, 6)::int <= 100`,
      [tenant, org],
    );
  });
}

async function run<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await work(client);
  } finally {
    client.release();
  }
}

/** The statements the service ran to answer `send()` (which must succeed). */
async function statementsOf(send: () => PromiseLike<{ status: number; text: string }>, expected = 200): Promise<Captured[]> {
  captured = [];
  const response = await send();
  expect({ status: response.status, body: response.status === expected ? '' : response.text }).toEqual({ status: expected, body: '' });
  return captured.filter((statement) => !/^(BEGIN|COMMIT|ROLLBACK)\b/.test(statement.sql));
}

/** The one captured statement matching `pattern`. */
function statement(statements: Captured[], pattern: RegExp): Captured {
  const matching = statements.filter((candidate) => pattern.test(candidate.sql));
  expect(matching.map((candidate) => candidate.sql)).toHaveLength(1);
  return matching[0]!;
}

/** The generic plan of a statement with its captured values (a literal per value, as EXECUTE takes them). */
async function genericPlan(captured: Captured): Promise<PlanNode> {
  return run(async (client) => {
    await client.query('SET plan_cache_mode = force_generic_plan');
    try {
      await client.query(`PREPARE plan_under_test AS ${captured.sql}`);
      const values = captured.params.map((value) => literal(client, value)).join(', ');
      const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) EXECUTE plan_under_test(${values})`);
      return rows[0]!['QUERY PLAN'][0].Plan;
    } finally {
      // Only this one: the connection is the app's, and pg remembers which of its statements it prepared there.
      await client.query('DEALLOCATE plan_under_test');
      await client.query('RESET plan_cache_mode');
    }
  });
}

function literal(client: PoolClient, value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Array.isArray(value)) return client.escapeLiteral(`{${value.map((item) => `"${String(item).replace(/["\\]/g, '\\$&')}"`).join(',')}}`);
  return client.escapeLiteral(String(value));
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

/** "index on table" for every index the plan reads, and "seq table" for every sequential scan. */
function accessPaths(plan: PlanNode): string[] {
  return nodesOf(plan)
    .map((node) => (node['Index Name'] ? node['Index Name'] : node['Node Type'] === 'Seq Scan' ? `seq ${node['Relation Name']}` : ''))
    .filter(Boolean);
}

/** What a plan must not do, whatever the statement: read a table in full, or find rows by equality through a GIN index. */
function expectNoCliff(plan: PlanNode): void {
  for (const node of nodesOf(plan)) {
    expect(node['Node Type'] === 'Seq Scan' ? `seq scan on ${node['Relation Name']}` : 'ok').toBe('ok');
    const index = node['Index Name'];
    if (index && ginIndexes.has(index)) expect(`${index}: ${node['Index Cond']}`).toMatch(/~~/);
  }
}

/**
 * A bulk membership change reads memberships through one of the two membership indexes, by the
 * owner's id or by the array of member ids, and checks the other in the index condition or as a
 * (hashed) filter: PostgreSQL 15 reads the owner's memberships and filters them by the array; 18
 * may probe the member index once per array element. Either is bounded by the owner's memberships
 * or by the array, never by the scope.
 */
function expectMembershipProbe(plan: PlanNode & { Filter?: string }): void {
  const reads = nodesOf(plan).filter((node) => node['Index Name']) as Array<PlanNode & { Filter?: string }>;
  expect(reads.map((node) => node['Index Name']).filter((name) => name !== 'pk_memberships' && name !== 'ix_memberships_member')).toEqual([]);
  expect(reads).toHaveLength(1);
  const read = reads[0]!;
  expect(read['Index Cond']).toMatch(/(group_id|user_id) = (\$3|ANY \(\$4\))/);
  expect(`${read['Index Cond']} ${read.Filter ?? ''}`).toMatch(/(group_id|user_id) = \$3/);
  expect(`${read['Index Cond']} ${read.Filter ?? ''}`).toMatch(/(group_id|user_id) = ANY \(\$4\)/);
}

const groupsPath = () => `${home.base}/groups`;
const usersPath = () => `${home.base}/users`;
const keys = (from: number, count: number, prefix = 'user-') => Array.from({ length: count }, (_, i) => `${prefix}${String(from + i).padStart(6, '0')}`);

describe(`generic plans of the hot statements (${process.env['DATABASE_URL'] ? 'server' : 'embedded'})`, () => {
  it('the seeded scopes are what the plans are judged on', async () => {
    const { rows } = await run((client) =>
      client.query<{ users: string; groups: string; memberships: string }>(
        `SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM groups) AS groups, (SELECT count(*) FROM memberships) AS memberships`,
      ),
    );
    expect(Number(rows[0]!.users)).toBe(2 * USERS);
    expect(Number(rows[0]!.groups)).toBe(2 * GROUPS);
    expect(Number(rows[0]!.memberships)).toBeGreaterThan(2 * USERS * 2);
  });

  it('a group by key: the unique key index, with its member count and first members by the membership key', async () => {
    const find = statement(await statementsOf(() => target.http.get(`${groupsPath()}/group-000001`)), /FROM groups o WHERE/);
    const plan = await genericPlan(find);
    expectNoCliff(plan);
    const paths = accessPaths(plan);
    expect(paths).toContain('uq_groups_scope_group_key');
    expect(paths).toContain('pk_memberships');
    expect(paths).not.toContain('ix_users_scope_key_order');
  });

  it('a group by id: the primary key', async () => {
    const { rows } = await run((client) => client.query<{ id: string }>(`SELECT id FROM groups WHERE tenant_key = $1 AND group_key = 'group-000002'`, [home.tenantKey]));
    const statements = await statementsOf(() => target.http.get(`${groupsPath()}/${rows[0]!.id}`));
    const plan = await genericPlan(statement(statements, /FROM groups o WHERE .* o\.id = \$3/));
    expectNoCliff(plan);
    expect(accessPaths(plan)).toContain('pk_groups');
  });

  it('resolving 1,000 userKeys (users/add): the unique key index, never the trigram index', async () => {
    await target.http.post(groupsPath()).send({ groupKey: 'bulk-keys', name: 'Bulk by key' }).expect(201);
    const statements = await statementsOf(() => target.http.post(`${groupsPath()}/bulk-keys/users/add`).send(keys(1, 1000)));
    const resolve = await genericPlan(statement(statements, /unnest\(\$3::text\[\]\)/));
    expectNoCliff(resolve);
    expect(accessPaths(resolve)).toEqual(['uq_users_scope_user_key']);

    const add = await genericPlan(statement(statements, /^\s*INSERT INTO memberships/));
    expectNoCliff(add);
    expect(accessPaths(add)).toEqual([]);
  });

  it('creating a group with 1,000 members by key: one statement, the keys by the unique key index', async () => {
    const statements = await statementsOf(
      () => target.http.post(groupsPath()).send({ groupKey: 'created-with-members', name: 'Created with members', users: keys(2001, 1000) }),
      201,
    );
    const create = statement(statements, /^\s*WITH k AS/);
    expect(statements.filter((candidate) => /INSERT INTO/.test(candidate.sql))).toEqual([create]);
    const plan = await genericPlan(create);
    expectNoCliff(plan);
    expect([...new Set(accessPaths(plan))]).toEqual(['uq_users_scope_user_key']);
  });

  it('resolving 1,000 user ids (users/addById) by primary key, and removing them through a membership index', async () => {
    const { rows } = await run((client) =>
      client.query<{ id: string }>(`SELECT id FROM users WHERE tenant_key = $1 AND org_key = $2 ORDER BY user_key LIMIT 1000`, [home.tenantKey, home.orgKey]),
    );
    const ids = rows.map((row) => row.id);
    await target.http.post(groupsPath()).send({ groupKey: 'bulk-ids', name: 'Bulk by id' }).expect(201);
    const added = await statementsOf(() => target.http.post(`${groupsPath()}/bulk-ids/users/addById`).send(ids));
    const resolve = await genericPlan(statement(added, /unnest\(\$3::uuid\[\]\)/));
    expectNoCliff(resolve);
    expect(accessPaths(resolve)).toEqual(['pk_users']);

    const removed = await statementsOf(() => target.http.post(`${groupsPath()}/bulk-ids/users/removeById`).send(ids));
    const remove = await genericPlan(statement(removed, /^\s*DELETE FROM memberships/));
    expectNoCliff(remove);
    expectMembershipProbe(remove);
  });

  it("removing a user's groups by key (user side): the member index of memberships", async () => {
    const statements = await statementsOf(() => target.http.post(`${usersPath()}/user-000005/groups/remove`).send(keys(2, 50, 'group-')));
    const resolve = await genericPlan(statement(statements, /unnest\(\$3::text\[\]\)/));
    expect(accessPaths(resolve)).toEqual(['uq_groups_scope_group_key']);
    const remove = await genericPlan(statement(statements, /^\s*DELETE FROM memberships/));
    expectNoCliff(remove);
    expectMembershipProbe(remove);
  });

  it("a group's member page: the group's memberships, then each member by primary key", async () => {
    const statements = await statementsOf(() => target.http.get(`${groupsPath()}/group-000001/users?$top=20`));
    const page = await genericPlan(statement(statements, /FROM users r WHERE/));
    expectNoCliff(page);
    const paths = accessPaths(page);
    expect(paths).toContain('pk_memberships');
    expect(paths).not.toContain('ix_users_scope_key_order');
  });

  it("a user's groups (the authorization hot path): the member index, then each group by primary key", async () => {
    const statements = await statementsOf(() => target.http.get(`${usersPath()}/user-000007/groups`));
    const page = await genericPlan(statement(statements, /FROM groups r WHERE/));
    expectNoCliff(page);
    const paths = accessPaths(page);
    expect(paths).toContain('ix_memberships_member');
    expect(paths).not.toContain('ix_groups_scope_key_order');
  });

  it("contains(name,…) with $count: one read of the table's search index by scope and pattern, for the page and the count", async () => {
    const statements = await statementsOf(() => target.http.get(`${groupsPath()}/odata?$filter=contains(name,'alpha')&$orderby=name&$top=20&$count=true`));
    const plan = await genericPlan(statement(statements, /FROM groups r WHERE/));
    expectNoCliff(plan);
    expect(accessPaths(plan)).toEqual(['ix_groups_search']);
    const [search] = nodesOf(plan).filter((node) => node['Index Name'] === 'ix_groups_search');
    // The scope and the name pattern, never the scope alone.
    expect(search!['Index Cond']).toMatch(/tenant_key.*org_key.*\(name\)::text ~~ \$3/);
  });

  it('$search: every searched column through the one search index', async () => {
    const statements = await statementsOf(() => target.http.get(`${groupsPath()}/odata?$search=notes`));
    const plan = await genericPlan(statement(statements, /FROM groups r WHERE/));
    expectNoCliff(plan);
    const conditions = nodesOf(plan)
      .filter((node) => node['Index Name'] === 'ix_groups_search')
      .map((node) => node['Index Cond']);
    expect(conditions).toHaveLength(4);
    for (const column of ['group_key', 'name', 'email', 'notes']) expect(conditions.some((condition) => condition?.includes(`(${column})::text ~~*`))).toBe(true);
  });

  it('a deep $skip: the skipped rows only on the key-order index, then the page by primary key', async () => {
    // As autovacuum leaves a server's table, and TableStatistics the embedded database's: all-visible.
    await run((client) => client.query('VACUUM (ANALYZE) groups'));
    const statements = await statementsOf(() => target.http.get(`${groupsPath()}/odata?$orderby=groupKey&$skip=3000&$top=20`));
    const plan = await genericPlan(statement(statements, /FROM groups r WHERE/));
    expectNoCliff(plan);
    expect(accessPaths(plan).sort()).toEqual(['ix_groups_scope_key_order', 'pk_groups']);
    const ordered = nodesOf(plan).find((node) => node['Index Name'] === 'ix_groups_scope_key_order');
    expect(ordered!['Node Type']).toBe('Index Only Scan');
  });

  it('groupKey eq in OData: the key-order index, not the search index', async () => {
    const statements = await statementsOf(() => target.http.get(`${groupsPath()}/odata?$filter=groupKey eq 'group-000003'`));
    const plan = await genericPlan(statement(statements, /FROM groups r WHERE/));
    expectNoCliff(plan);
    expect(accessPaths(plan)).toEqual(['ix_groups_scope_key_order']);
  });
});
