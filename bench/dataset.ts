import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { Random } from './random.js';

/**
 * The benchmark dataset: deterministic (seeded), generated in this process and loaded into a fresh
 * database whose schema comes from the service's own migrations.
 *
 * Scopes are `t<n>/o<m>` (two orgs per tenant). In each scope:
 * - users `user-000000` … (name from a word list, email, 97% active);
 * - groups: first the "special" groups of the scale with fixed keys and exact member counts
 *   (`core-100-a` — the W3 group —, `core-100-b`, `core-2000`, `core-10000-a` …), then ordinary groups
 *   `<word>-<word>-<base36 index>` named "<Word> <word> <word> <index>" (so about 7.5% of names
 *   contain the lower-case word `alpha`, which W2 searches for), 60% with an email, 30% with notes;
 * - memberships: every user is in a few ordinary groups (`membershipsPerUser`), picked with
 *   `index = floor(n · u^tailExponent)`: exponent 1 is uniform (S); 3 is heavy-tailed (M: the first
 *   hundred groups hold ~10% of all memberships).
 */
export interface ScaleSpec {
  readonly name: 'S' | 'M';
  readonly scopes: number;
  readonly groupsPerScope: number;
  readonly usersPerScope: number;
  readonly membershipsPerUser: readonly [number, number];
  readonly tailExponent: number;
  /** Groups with exactly `members` members (a random sample of the scope's users). */
  readonly special: ReadonlyArray<{ readonly key: string; readonly members: number }>;
  /** W4: how deep the page is ($skip / rows walked for the $skiptoken). Not part of the data. */
  readonly deepOffset: number;
}

export const SCALES: Record<'S' | 'M', ScaleSpec> = {
  S: {
    name: 'S',
    scopes: 2,
    groupsPerScope: 5_000,
    usersPerScope: 2_000,
    membershipsPerUser: [1, 5],
    tailExponent: 1,
    special: [
      { key: 'core-100-a', members: 100 },
      { key: 'core-100-b', members: 100 },
      { key: 'core-2000', members: 2_000 },
    ],
    deepOffset: 4_000,
  },
  M: {
    name: 'M',
    scopes: 10,
    groupsPerScope: 100_000,
    usersPerScope: 20_000,
    membershipsPerUser: [1, 8],
    tailExponent: 3,
    special: [
      { key: 'core-100-a', members: 100 },
      { key: 'core-100-b', members: 100 },
      { key: 'core-10000-a', members: 10_000 },
      { key: 'core-10000-b', members: 10_000 },
      { key: 'core-10000-c', members: 10_000 },
    ],
    deepOffset: 50_000,
  },
};

/** The group W3 reads (100 members). */
export const W3_GROUP_KEY = 'core-100-a';

export interface BenchScope {
  readonly tenantKey: string;
  readonly orgKey: string;
}

export function scopesOf(spec: ScaleSpec): BenchScope[] {
  return Array.from({ length: spec.scopes }, (_, index) => ({ tenantKey: `t${Math.floor(index / 2) + 1}`, orgKey: `o${(index % 2) + 1}` }));
}

export function userKey(index: number): string {
  return `user-${String(index).padStart(6, '0')}`;
}

/** Bump when the generated data changes: a kept database with another marker is reloaded. */
const GENERATOR_VERSION = 1;

const WORDS = [
  'alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliett', 'kilo', 'lima', 'mike',
  'november', 'oscar', 'papa', 'quebec', 'romeo', 'sierra', 'tango', 'uniform', 'victor', 'whiskey', 'xray', 'yankee', 'zulu',
];
const FIRST_NAMES = ['Ada', 'Alan', 'Barbara', 'Claude', 'Donald', 'Edsger', 'Frances', 'Grace', 'Hedy', 'Ivan', 'John', 'Katherine', 'Linus', 'Margaret', 'Niklaus', 'Radia', 'Tim', 'Whitfield'];
const LAST_NAMES = ['Lovelace', 'Turing', 'Liskov', 'Shannon', 'Knuth', 'Dijkstra', 'Allen', 'Hopper', 'Lamarr', 'Sutherland', 'Backus', 'Johnson', 'Torvalds', 'Hamilton', 'Wirth', 'Perlman', 'Berners-Lee', 'Diffie'];
const NOTES = ['on call rotation', 'quarterly review', 'legacy import', 'managed by HR sync', 'temporary project team', 'do not delete'];

const EPOCH = Date.UTC(2025, 0, 1);
const LOADER = 'bench-loader';
const BATCH = 20_000;

function cap(word: string): string {
  return word[0]!.toUpperCase() + word.slice(1);
}

function timestamp(random: Random): string {
  return new Date(EPOCH + random.int(300 * 86_400) * 1000).toISOString();
}

/** One scope's generated rows: what the SQL loader inserts and the API loader posts. */
export interface ScopeDataset {
  readonly users: ReadonlyArray<{ id: string; key: string; name: string; email: string; isActive: boolean; createdOn: string }>;
  readonly groups: ReadonlyArray<{ id: string; key: string; name: string; email: string | null; notes: string | null; isActive: boolean; createdOn: string }>;
  /** Pairs of indexes into `groups` and `users`, in generation order. */
  readonly memberships: ReadonlyArray<readonly [group: number, user: number]>;
}

/**
 * Generates one scope's rows. Each table has its own random stream (seed, scope, table), so the
 * rows do not depend on how they are loaded.
 */
export function generateScope(spec: ScaleSpec, seed: number, scopeIndex: number, scope: BenchScope): ScopeDataset {
  const users: Array<ScopeDataset['users'][number]> = [];
  {
    const random = new Random(seed, scopeIndex, 1);
    for (let i = 0; i < spec.usersPerScope; i++) {
      const id = random.uuid();
      const name = `${random.pick(FIRST_NAMES)} ${random.pick(LAST_NAMES)}`;
      const isActive = random.chance(0.97);
      users.push({ id, key: userKey(i), name, email: `${userKey(i)}@${scope.tenantKey}.example`, isActive, createdOn: timestamp(random) });
    }
  }
  const groups: Array<ScopeDataset['groups'][number]> = [];
  {
    const random = new Random(seed, scopeIndex, 2);
    for (let i = 0; i < spec.groupsPerScope; i++) {
      const id = random.uuid();
      const special = spec.special[i];
      const [w1, w2, w3] = [random.pick(WORDS), random.pick(WORDS), random.pick(WORDS)];
      const key = special ? special.key : `${w1}-${w2}-${i.toString(36)}`;
      const name = special ? `Core team ${special.key}` : `${cap(w1)} ${w2} ${w3} ${i}`;
      const email = random.chance(0.6) ? `${key}@${scope.tenantKey}.example` : null;
      const notes = random.chance(0.3) ? `${random.pick(NOTES)} (${w3})` : null;
      const isActive = random.chance(0.95);
      groups.push({ id, key, name, email, notes, isActive, createdOn: timestamp(random) });
    }
  }
  const memberships: Array<readonly [number, number]> = [];
  const random = new Random(seed, scopeIndex, 3);
  for (const [index, special] of spec.special.entries()) {
    for (const member of random.sample(spec.usersPerScope, special.members)) memberships.push([index, member]);
  }
  const ordinary = spec.groupsPerScope - spec.special.length;
  for (let user = 0; user < spec.usersPerScope; user++) {
    const picked = new Set<number>();
    const wanted = random.between(spec.membershipsPerUser[0], spec.membershipsPerUser[1]);
    for (let attempt = 0; picked.size < wanted && attempt < wanted * 4; attempt++) {
      picked.add(spec.special.length + Math.floor(ordinary * random.next() ** spec.tailExponent));
    }
    for (const group of picked) memberships.push([group, user]);
  }
  return { users, groups, memberships };
}

/** Inserts one scope's generated rows (users, groups, memberships) in batches; `createdBy` marks them. */
async function loadScope(
  client: pg.ClientBase,
  spec: ScaleSpec,
  seed: number,
  scopeIndex: number,
  scope: BenchScope,
  createdBy = LOADER,
): Promise<{ memberships: number }> {
  const data = generateScope(spec, seed, scopeIndex, scope);
  const scopeParams = [scope.tenantKey, scope.orgKey];
  for (let start = 0; start < data.users.length; start += BATCH) {
    const batch = data.users.slice(start, start + BATCH);
    await client.query(
      `INSERT INTO users (tenant_key, org_key, id, user_key, name, email, is_active, created_on, modified_on, created_by, modified_by)
       SELECT $1, $2, t.id, t.k, t.n, t.e, t.a, t.c, t.c, '${createdBy}', '${createdBy}'
         FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::timestamptz[]) AS t(id, k, n, e, a, c)`,
      [...scopeParams, ...columns(batch, ['id', 'key', 'name', 'email', 'isActive', 'createdOn'])],
    );
  }
  for (let start = 0; start < data.groups.length; start += BATCH) {
    const batch = data.groups.slice(start, start + BATCH);
    await client.query(
      `INSERT INTO groups (tenant_key, org_key, id, group_key, name, email, notes, is_active, created_on, modified_on, created_by, modified_by)
       SELECT $1, $2, t.id, t.k, t.n, t.e, t.notes, t.a, t.c, t.c, '${createdBy}', '${createdBy}'
         FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::timestamptz[]) AS t(id, k, n, e, notes, a, c)`,
      [...scopeParams, ...columns(batch, ['id', 'key', 'name', 'email', 'notes', 'isActive', 'createdOn'])],
    );
  }
  for (let start = 0; start < data.memberships.length; start += BATCH) {
    const batch = data.memberships.slice(start, start + BATCH);
    await client.query(
      `INSERT INTO memberships (tenant_key, org_key, group_id, user_id, created_on)
       SELECT $1, $2, t.g, t.u, $5::timestamptz FROM unnest($3::uuid[], $4::uuid[]) AS t(g, u)`,
      [...scopeParams, batch.map(([group]) => data.groups[group]!.id), batch.map(([, user]) => data.users[user]!.id), new Date(EPOCH).toISOString()],
    );
  }
  return { memberships: data.memberships.length };
}

/** Column arrays (for `unnest`) of some rows' fields. */
function columns<Row, Key extends keyof Row>(rows: readonly Row[], keys: readonly Key[]): unknown[][] {
  return keys.map((key) => rows.map((row) => row[key]));
}

export interface PreparedDatabase {
  readonly url: string;
  readonly name: string;
  readonly reused: boolean;
  /** The dataset marker (generator version, scale, seed): the baseline's schema is tagged with it. */
  readonly marker: string;
  /** Wall time of create + migrate + load + index + analyze (0 when reused). */
  readonly loadMs: number;
  readonly counts: { groups: number; users: number; memberships: number };
}

export function benchDatabaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function markerOf(spec: ScaleSpec, seed: number): string {
  // What the rows depend on (not how the workloads read them).
  const { deepOffset: _deepOffset, ...data } = spec;
  const digest = createHash('sha256').update(JSON.stringify({ spec: data, seed, GENERATOR_VERSION })).digest('hex').slice(0, 12);
  return `igs-bench dataset v${GENERATOR_VERSION} scale=${spec.name} seed=${seed} ${digest}`;
}

/** Rows the bench itself writes (W5, W6, W8, the outage drill): removed when a kept database is reused. */
export const BENCH_WRITE_PREFIXES = ['w5-', 'w6-', 'w8-', 'drill-'];

/**
 * The fairness drill needs two tenants. At M the dataset has five (`t1` … `t5`); at S its two scopes
 * are one tenant's (`t1/o1`, `t1/o2`), so the drill adds `t2/o1` — the scope M has at that index,
 * generated by the same generator at the scale's size, its rows marked `created_by = 'bench-drill'`
 * — and removes it afterwards ({@link removeExtraScope}; a kept database left with it by an
 * interrupted drill is cleaned when reused).
 */
export function extraScopeOf(spec: ScaleSpec): { scope: BenchScope; index: number } | undefined {
  const scopes = scopesOf(spec);
  if (new Set(scopes.map((scope) => scope.tenantKey)).size > 1) return undefined;
  const index = scopes.length;
  return { scope: { tenantKey: `t${Math.floor(index / 2) + 1}`, orgKey: `o${(index % 2) + 1}` }, index };
}

const DRILL_LOADER = 'bench-drill';

/** Loads the extra scope of {@link extraScopeOf} (none at M) unless it is there; returns it. */
export async function addExtraScope(url: string, spec: ScaleSpec, seed: number, log: (line: string) => void): Promise<BenchScope | undefined> {
  const extra = extraScopeOf(spec);
  if (!extra) return undefined;
  await withClient(url, async (client) => {
    await removeScope(client, extra.scope);
    const started = performance.now();
    await client.query('BEGIN');
    const { memberships } = await loadScope(client, spec, seed, extra.index, extra.scope, DRILL_LOADER);
    await client.query('COMMIT');
    await client.query('VACUUM (ANALYZE) groups, users, memberships');
    log(`  added scope ${extra.scope.tenantKey}/${extra.scope.orgKey} (${spec.groupsPerScope} groups, ${spec.usersPerScope} users, ${memberships} memberships) for the drill in ${ms(started)}`);
  });
  return extra.scope;
}

/** Removes the extra scope of {@link extraScopeOf} again (the dataset is as loaded). */
export async function removeExtraScope(url: string, spec: ScaleSpec): Promise<void> {
  const extra = extraScopeOf(spec);
  if (!extra) return;
  await withClient(url, async (client) => {
    if ((await removeScope(client, extra.scope)) > 0) await client.query('VACUUM (ANALYZE) groups, users, memberships');
  });
}

async function removeScope(client: pg.ClientBase, scope: BenchScope): Promise<number> {
  const params = [scope.tenantKey, scope.orgKey];
  await client.query('DELETE FROM memberships WHERE tenant_key = $1 AND org_key = $2', params);
  const groups = await client.query('DELETE FROM groups WHERE tenant_key = $1 AND org_key = $2', params);
  const users = await client.query('DELETE FROM users WHERE tenant_key = $1 AND org_key = $2', params);
  return (groups.rowCount ?? 0) + (users.rowCount ?? 0);
}

/**
 * A database `igs_bench_<scale>` holding the dataset: reused when a complete one with the same marker
 * exists (and `fresh` is false), else dropped, created, migrated with the service's migrations and loaded.
 */
export async function prepareDatabase(options: {
  adminUrl: string;
  spec: ScaleSpec;
  seed: number;
  fresh: boolean;
  /** Default `igs_bench_<scale>`; must start with `igs_bench_` (the bench drops it). */
  name?: string;
  log: (line: string) => void;
}): Promise<PreparedDatabase> {
  const { adminUrl, spec, seed, log } = options;
  const name = options.name ?? `igs_bench_${spec.name.toLowerCase()}`;
  if (!/^igs_bench_[a-z0-9_]+$/.test(name)) throw new Error(`database name ${name}: must be igs_bench_ followed by [a-z0-9_]`);
  const url = benchDatabaseUrl(adminUrl, name);
  const marker = markerOf(spec, seed);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const existing = await admin.query<{ comment: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
      [name],
    );
    if (existing.rows[0] && existing.rows[0].comment === marker && !options.fresh) {
      log(`Reusing database ${name} (${marker})`);
      const counts = await withClient(url, async (client) => {
        const removed = await client.query(
          `DELETE FROM groups WHERE ${BENCH_WRITE_PREFIXES.map((prefix) => `group_key LIKE '${prefix}%'`).join(' OR ')}`,
        );
        const extra = extraScopeOf(spec);
        const extraRows = extra ? await removeScope(client, extra.scope) : 0;
        if ((removed.rowCount ?? 0) > 0 || extraRows > 0) {
          log(`  removed ${removed.rowCount} groups left by earlier bench writes` + (extraRows > 0 ? ` and the scope ${extra!.scope.tenantKey}/${extra!.scope.orgKey} an interrupted drill left` : ''));
          await client.query('VACUUM (ANALYZE) groups, users, memberships');
        }
        return countRows(client);
      });
      return { url, name, reused: true, marker, loadMs: 0, counts };
    }
    const started = performance.now();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    await migrate(url);
    log(`  created ${name} and ran the service's migrations in ${ms(started)}`);
    const counts = await load(url, spec, seed, log);
    await admin.query(`COMMENT ON DATABASE ${name} IS '${marker}'`);
    const loadMs = performance.now() - started;
    log(`  dataset ready in ${(loadMs / 1000).toFixed(1)} s`);
    return { url, name, reused: false, marker, loadMs, counts };
  } finally {
    await admin.end();
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  if (!name.startsWith('igs_bench_')) throw new Error(`refusing to drop ${name}: not a bench database`);
  await withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** The service's own migrations, run by its own Database class from the build. */
export async function migrate(url: string): Promise<void> {
  const built = resolve(import.meta.dirname, '../dist/database/database.js');
  if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`);
  const { Database } = (await import(pathToFileURL(built).href)) as {
    Database: { open(settings: { databaseUrl: string; dataDir: string; poolSize: number }): Promise<{ close(): Promise<void> }> };
  };
  const database = await Database.open({ databaseUrl: url, dataDir: 'memory://', poolSize: 2 });
  await database.close();
}

/**
 * Loads every scope (two at a time: this machine has two cores). The secondary indexes and the foreign
 * keys the migrations created are dropped first and rebuilt afterwards from their exact definitions
 * (`pg_get_indexdef` / `pg_get_constraintdef`), which is much faster than maintaining trigram GIN
 * indexes row by row; the schema afterwards is the migrations' schema.
 */
async function load(url: string, spec: ScaleSpec, seed: number, log: (line: string) => void): Promise<PreparedDatabase['counts']> {
  // Room for the index builds. (Not synchronous_commit=off: rows of a commit not yet flushed get no
  // hint bits, and VACUUM then leaves their pages out of the visibility map — no index-only scans.)
  const pool = new pg.Pool({ connectionString: url, max: 2, options: '-c maintenance_work_mem=512MB' });
  try {

    const { rows: indexes } = await pool.query<{ name: string; def: string }>(
      `SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename IN ('groups', 'users', 'memberships')
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)
        ORDER BY i.indexname`,
    );
    const { rows: foreignKeys } = await pool.query<{ name: string; table: string; def: string }>(
      `SELECT conname AS name, conrelid::regclass::text AS table, pg_get_constraintdef(oid) AS def
         FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace ORDER BY conname`,
    );
    for (const fk of foreignKeys) await pool.query(`ALTER TABLE ${fk.table} DROP CONSTRAINT ${fk.name}`);
    for (const index of indexes) await pool.query(`DROP INDEX ${index.name}`);

    let started = performance.now();
    const scopes = scopesOf(spec);
    let next = 0;
    let memberships = 0;
    const worker = async () => {
      const client = await pool.connect();
      try {
        while (next < scopes.length) {
          const index = next++;
          const loaded = await loadScope(client, spec, seed, index, scopes[index]!);
          memberships += loaded.memberships;
        }
      } finally {
        client.release();
      }
    };
    await Promise.all([worker(), worker()]);
    log(`  inserted ${scopes.length} scopes (${memberships} memberships) in ${ms(started)}`);

    started = performance.now();
    const queue = [...indexes.map((index) => index.def)];
    const builder = async () => {
      const client = await pool.connect();
      try {
        for (let def = queue.shift(); def !== undefined; def = queue.shift()) await client.query(def);
      } finally {
        client.release();
      }
    };
    await Promise.all([builder(), builder()]);
    log(`  rebuilt ${indexes.length} indexes in ${ms(started)}`);

    // Statistics first: without them the foreign keys' validation join can be planned as a nested loop.
    started = performance.now();
    await pool.query('VACUUM (ANALYZE) groups, users, memberships');
    const { rows: visibility } = await pool.query<{ relname: string; relpages: number; relallvisible: number }>(
      `SELECT relname, relpages, relallvisible FROM pg_class WHERE relname IN ('groups', 'users', 'memberships') ORDER BY relname`,
    );
    const partly = visibility.filter((table) => table.relallvisible < table.relpages);
    log(
      `  vacuum analyze in ${ms(started)}` +
        (partly.length === 0 ? '' : ` (warning: not all pages all-visible: ${partly.map((t) => `${t.relname} ${t.relallvisible}/${t.relpages}`).join(', ')})`),
    );

    started = performance.now();
    for (const fk of foreignKeys) await pool.query(`ALTER TABLE ${fk.table} ADD CONSTRAINT ${fk.name} ${fk.def}`);
    log(`  validated and re-added ${foreignKeys.length} foreign keys in ${ms(started)}`);
    const client = await pool.connect();
    try {
      return await countRows(client);
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}

async function countRows(client: pg.ClientBase): Promise<PreparedDatabase['counts']> {
  const { rows } = await client.query<{ groups: string; users: string; memberships: string }>(
    `SELECT (SELECT count(*) FROM groups) AS groups, (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM memberships) AS memberships`,
  );
  return { groups: Number(rows[0]!.groups), users: Number(rows[0]!.users), memberships: Number(rows[0]!.memberships) };
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function ms(started: number): string {
  return `${((performance.now() - started) / 1000).toFixed(1)} s`;
}
