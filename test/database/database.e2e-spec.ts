import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import request from 'supertest';
import { createApp } from '../../src/app.setup.js';
import { ErrorCode } from '../../src/common/errors/error-code.js';
import { translatePostgresError } from '../../src/common/errors/postgres-errors.js';
import { Database, DatabaseSettings } from '../../src/database/database.js';
import { DatabaseAvailability } from '../../src/database/database-availability.js';
import { PreparedStatements } from '../../src/database/prepared-statements.js';
import { UnitOfWork } from '../../src/database/unit-of-work.js';
import { TenantGate } from '../../src/database/tenant-gate.js';
import { compileCollectionQuery } from '../../src/odata/compile-query.js';
import { GROUP_ENTITY } from '../../src/odata/entity-model.js';
import { createTestDatabase, TestDatabase } from '../support/test-database.js';
import { TEST_JWT_SECRET, tokenForUrl } from '../support/tokens.js';

/*
 * The database layer on the configured database: the PostgreSQL server named by DATABASE_URL (a
 * database of this suite's own), or else the embedded Postgres (PGlite) in a temporary directory on
 * disk. The embedded-only cases (persistence, the data directory lock) use directories of their own,
 * so they run in both modes.
 */
const SERVER_URL = process.env['DATABASE_URL'];

// Each on-disk start of PGlite loads its WebAssembly and initialises or recovers a directory (seconds);
// some cases start it three times, and CI runs suites side by side.
jest.setTimeout(180_000);
const itServer = SERVER_URL ? it : it.skip;

const PROJECT_ROOT = process.cwd();
const MAIN = join(PROJECT_ROOT, 'dist', 'main.js');
import { MIGRATIONS } from '../../src/database/migrations/index.js';

/** Every migration's name, oldest first. */
const ALL_MIGRATIONS = MIGRATIONS.map((migration) => migration.name);
/** Database.ts's MIGRATION_LOCK_ID (not exported): the advisory lock migrations run under. */
const MIGRATION_LOCK_ID = '7244151200';

const temporaryDirectories: string[] = [];
function temporaryDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  temporaryDirectories.push(directory);
  return directory;
}
afterAll(() => {
  for (const directory of temporaryDirectories) rmSync(directory, { recursive: true, force: true });
});

interface Target {
  settings: DatabaseSettings;
  cleanup(): Promise<void>;
}

/** A fresh, empty database on the configured kind of database. */
async function freshTarget(): Promise<Target> {
  if (SERVER_URL) {
    const database: TestDatabase = await createTestDatabase();
    return {
      settings: { databaseUrl: database.env['DATABASE_URL'], dataDir: 'memory://', poolSize: 4 },
      cleanup: () => database.drop(),
    };
  }
  return { settings: { dataDir: temporaryDirectory('igs-db-'), poolSize: 1 }, cleanup: async () => undefined };
}

async function migrationRows(database: Database): Promise<{ id: number; name: string }[]> {
  return database.dataSource.query('SELECT id, name FROM schema_migrations ORDER BY id');
}

async function tableExists(database: Database, table: string): Promise<boolean> {
  const [row] = await database.dataSource.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [`public.${table}`]);
  return row.present as boolean;
}

async function schemaDiff(database: Database): Promise<{ up: string[]; down: string[] }> {
  const log = await database.dataSource.driver.createSchemaBuilder().log();
  return { up: log.upQueries.map((query) => query.query), down: log.downQueries.map((query) => query.query) };
}

async function errorOf(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  throw new Error('expected the statement to fail');
}

describe('database (configured)', () => {
  let target: Target;
  let database: Database;

  beforeAll(async () => {
    target = await freshTarget();
    database = await Database.open(target.settings);
  });
  afterAll(async () => {
    await database?.close();
    await target?.cleanup();
  });

  describe('schema after migrations', () => {
    it('runs on the configured kind of database', () => {
      expect(database.kind).toBe(SERVER_URL ? 'server' : 'embedded');
    });

    it('matches the TypeORM entities: the schema builder has nothing to change', async () => {
      expect(await schemaDiff(database)).toEqual({ up: [], down: [] });
    });

    it('has the case-insensitive unique key indexes and the member index', async () => {
      const rows: { indexname: string; indexdef: string }[] = await database.dataSource.query(
        `SELECT indexname, indexdef FROM pg_indexes
          WHERE schemaname = 'public' AND tablename IN ('groups', 'users', 'memberships') ORDER BY indexname`,
      );
      const definitions = Object.fromEntries(rows.map((row) => [row.indexname, row.indexdef]));
      expect(Object.keys(definitions)).toEqual([
        'ix_groups_scope_key_order',
        'ix_groups_search',
        'ix_memberships_member',
        'ix_users_scope_key_order',
        'ix_users_search',
        'pk_groups',
        'pk_memberships',
        'pk_users',
        'uq_groups_scope_group_key',
        'uq_users_scope_user_key',
      ]);
      expect(definitions['uq_groups_scope_group_key']).toBe(
        'CREATE UNIQUE INDEX uq_groups_scope_group_key ON public.groups USING btree (tenant_key, org_key, lower((group_key)::text))',
      );
      expect(definitions['uq_users_scope_user_key']).toBe(
        'CREATE UNIQUE INDEX uq_users_scope_user_key ON public.users USING btree (tenant_key, org_key, lower((user_key)::text))',
      );
      expect(definitions['ix_groups_scope_key_order']).toBe(
        'CREATE INDEX ix_groups_scope_key_order ON public.groups USING btree (tenant_key, org_key, group_key COLLATE "C", id)',
      );
      expect(definitions['ix_users_search']).toBe(
        "CREATE INDEX ix_users_search ON public.users USING gin (((((tenant_key)::text || '/'::text) || (org_key)::text)), user_key gin_trgm_ops, name gin_trgm_ops, email gin_trgm_ops) WITH (fastupdate=off)",
      );
      expect(definitions['ix_memberships_member']).toBe(
        'CREATE INDEX ix_memberships_member ON public.memberships USING btree (tenant_key, org_key, user_id, group_id)',
      );
    });

    it('has composite, cascading foreign keys from memberships to groups and users', async () => {
      const rows: { conname: string; definition: string }[] = await database.dataSource.query(
        `SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint
          WHERE conrelid = 'public.memberships'::regclass AND contype = 'f' ORDER BY conname`,
      );
      expect(rows).toEqual([
        {
          conname: 'fk_memberships_group',
          definition: 'FOREIGN KEY (tenant_key, org_key, group_id) REFERENCES groups(tenant_key, org_key, id) ON DELETE CASCADE',
        },
        {
          conname: 'fk_memberships_user',
          definition: 'FOREIGN KEY (tenant_key, org_key, user_id) REFERENCES users(tenant_key, org_key, id) ON DELETE CASCADE',
        },
      ]);
    });

    it('enforces keys unique per scope ignoring case; the violation translates to a 409 naming the key', async () => {
      const insert = (tenant: string, key: string) =>
        database.dataSource.query(
          `INSERT INTO groups (tenant_key, org_key, group_key, name) VALUES ($1, 'hq', $2, 'n') RETURNING id`,
          [tenant, key],
        );
      const [{ id }] = await insert('uq-a', 'Ops');
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/); // gen_random_uuid()
      await insert('uq-b', 'OPS'); // another scope: allowed
      const error = await errorOf(insert('uq-a', 'oPs'));
      const translated = translatePostgresError(error);
      expect(translated?.code).toBe(ErrorCode.Conflict);
      expect(translated?.target).toBe('groupKey');
      // The detail carries the indexed value, lower(group_key).
      expect(translated?.message).toBe("groupKey 'ops' is already taken in this scope");

      await database.dataSource.query(`INSERT INTO users (tenant_key, org_key, user_key, name) VALUES ('uq-a', 'hq', 'Alice', 'A')`);
      const userError = await errorOf(
        database.dataSource.query(`INSERT INTO users (tenant_key, org_key, user_key, name) VALUES ('uq-a', 'hq', 'ALICE', 'A')`),
      );
      expect(translatePostgresError(userError)?.message).toBe("userKey 'alice' is already taken in this scope");
    });

    it('refuses a membership across scopes (23503, translated to a 409)', async () => {
      const [{ id: groupId }] = await database.dataSource.query(
        `INSERT INTO groups (tenant_key, org_key, group_key, name) VALUES ('fk-a', 'hq', 'g', 'n') RETURNING id`,
      );
      const [{ id: userId }] = await database.dataSource.query(
        `INSERT INTO users (tenant_key, org_key, user_key, name) VALUES ('fk-b', 'hq', 'u', 'n') RETURNING id`,
      );
      const error = await errorOf(
        database.dataSource.query(`INSERT INTO memberships (tenant_key, org_key, group_id, user_id) VALUES ('fk-a', 'hq', $1, $2)`, [
          groupId,
          userId,
        ]),
      );
      expect((error as { driverError?: { code?: string } }).driverError?.code).toBe('23503');
      expect(translatePostgresError(error)?.code).toBe(ErrorCode.Conflict);
    });
  });

  describe('unit of work', () => {
    const scope = { tenantKey: 'uow', orgKey: 'hq' };
    const sessionOf = (uow: UnitOfWork, bound: typeof scope) =>
      uow.query<{ pid: number }>(bound, 'SELECT pg_backend_pid() AS pid', []).then(({ rows }) => rows[0]!.pid);
    const preparedTexts = async (uow: UnitOfWork, bound: typeof scope) =>
      (await uow.query<{ name: string; statement: string }>(bound, 'SELECT name, statement FROM pg_prepared_statements', [])).rows;

    it('prepares a statement the second time it runs, and keeps answering it with fresh values', async () => {
      const uow = new UnitOfWork(database.dataSource, new PreparedStatements(10), new TenantGate(10, 1000), new DatabaseAvailability());
      const sql = 'SELECT $1::int + 1 AS n /* uow prepared */';
      await uow.transaction(scope, async (tx) => {
        expect((await uow.query<{ n: number }>(tx, sql, [1])).rows).toEqual([{ n: 2 }]);
        expect((await preparedTexts(uow, tx)).some((row) => row.statement === sql)).toBe(false);
        expect((await uow.query<{ n: number }>(tx, sql, [2])).rows).toEqual([{ n: 3 }]);
        expect((await uow.query<{ n: number }>(tx, sql, [41])).rows).toEqual([{ n: 42 }]);
        const prepared = (await preparedTexts(uow, tx)).filter((row) => row.statement === sql);
        expect(prepared).toHaveLength(1);
        expect(prepared[0]!.name).toMatch(/^igs_[A-Za-z0-9_-]{24}$/);
      });
    });

    it('prepares nothing with a capacity of 0', async () => {
      const uow = new UnitOfWork(database.dataSource, new PreparedStatements(0), new TenantGate(10, 1000), new DatabaseAvailability());
      const sql = 'SELECT $1::int AS n /* uow unprepared */';
      await uow.transaction(scope, async (tx) => {
        for (let i = 0; i < 3; i++) expect((await uow.query<{ n: number }>(tx, sql, [i])).rows).toEqual([{ n: i }]);
        expect((await preparedTexts(uow, tx)).some((row) => row.statement === sql)).toBe(false);
      });
    });

    it('settles a repeated OData page statement on one generic plan instead of planning every run', async () => {
      // Enough rows that a plan costed for "10 % of the table" (what PostgreSQL assumes for a bound
      // LIMIT it cannot see) looks worse than a custom plan: with LIMIT as a parameter, every
      // execution was planned anew.
      const plans = { tenantKey: 'uow', orgKey: 'plans' };
      await database.dataSource.query(
        `INSERT INTO groups (tenant_key, org_key, group_key, name)
         SELECT 'uow', 'plans', 'g-' || n, 'Group ' || n FROM generate_series(1, 3000) AS n`,
      );
      await database.dataSource.query('ANALYZE groups');
      const uow = new UnitOfWork(database.dataSource, new PreparedStatements(10), new TenantGate(10, 1000), new DatabaseAvailability());
      const query = compileCollectionQuery({ $filter: "groupKey eq 'g-1'", $expand: 'users' }, GROUP_ENTITY);
      const sql = query.selectStatement('r.tenant_key = $1 AND r.org_key = $2');
      await uow.transaction(plans, async (tx) => {
        for (let run = 0; run < 8; run++) {
          const { rows } = await uow.query<{ groupKey: string }>(tx, sql, [plans.tenantKey, plans.orgKey, ...query.params]);
          expect(rows.map((row) => row.groupKey)).toEqual(['g-1']);
        }
        const { rows } = await uow.query<{ generic: string; custom: string }>(
          tx,
          'SELECT generic_plans AS generic, custom_plans AS custom FROM pg_prepared_statements WHERE statement = $1',
          [sql],
        );
        expect(rows).toHaveLength(1);
        expect(Number(rows[0]!.generic)).toBeGreaterThan(0);
      });
    });

    it('runs a transaction on one connection, joins it when nested, and rolls it back on throw', async () => {
      const uow = new UnitOfWork(database.dataSource, new PreparedStatements(10), new TenantGate(10, 1000), new DatabaseAvailability());
      const insert = `INSERT INTO groups (tenant_key, org_key, group_key, name) VALUES ($1, $2, $3, 'n')`;
      const failure = new Error('abort the transaction');
      const thrown = await errorOf(
        uow.transaction(scope, async (tx) => {
          await uow.query(tx, insert, [scope.tenantKey, scope.orgKey, 'rolled-back']);
          const pid = await sessionOf(uow, tx);
          await uow.transaction(tx, async (nested) => expect(await sessionOf(uow, nested)).toBe(pid));
          throw failure;
        }),
      );
      expect(thrown).toBe(failure);
      const left = await uow.query(scope, `SELECT 1 FROM groups WHERE tenant_key = $1 AND group_key = 'rolled-back'`, [scope.tenantKey]);
      expect(left.rows).toEqual([]);
      await uow.transaction(scope, (tx) => uow.query(tx, insert, [scope.tenantKey, scope.orgKey, 'committed']));
      const kept = await uow.query(scope, `SELECT 1 AS one FROM groups WHERE tenant_key = $1 AND group_key = 'committed'`, [scope.tenantKey]);
      expect(kept.rows).toEqual([{ one: 1 }]);
    });
  });

  describe('migrations', () => {
    it('are recorded once', async () => {
      expect((await migrationRows(database)).map((row) => row.name)).toEqual(ALL_MIGRATIONS);
    });

    it('run nothing new when the database is opened again', async () => {
      const before = await migrationRows(database);
      await database.dataSource.query(`INSERT INTO groups (tenant_key, org_key, group_key, name) VALUES ('reopen', 'hq', 'kept', 'n')`);
      await database.close();
      database = await Database.open(target.settings);
      expect(await migrationRows(database)).toEqual(before);
      expect(await database.dataSource.showMigrations()).toBe(false);
      const kept = await database.dataSource.query(`SELECT group_key FROM groups WHERE tenant_key = 'reopen'`);
      expect(kept).toEqual([{ group_key: 'kept' }]);
    });

    it('can be undone and run again', async () => {
      for (let step = 0; step < ALL_MIGRATIONS.length; step++) await database.dataSource.undoLastMigration({ transaction: 'each' });
      expect(await migrationRows(database)).toEqual([]);
      for (const table of ['groups', 'users', 'memberships']) expect(await tableExists(database, table)).toBe(false);

      const ran = await database.dataSource.runMigrations({ transaction: 'each' });
      expect(ran.map((migration) => migration.name)).toEqual(ALL_MIGRATIONS);
      expect((await migrationRows(database)).map((row) => row.name)).toEqual(ALL_MIGRATIONS);
      for (const table of ['groups', 'users', 'memberships']) expect(await tableExists(database, table)).toBe(true);
      expect(await schemaDiff(database)).toEqual({ up: [], down: [] });
      expect(await database.dataSource.query('SELECT count(*)::int AS n FROM groups')).toEqual([{ n: 0 }]);
    });

    it('the search-index migration carries the rows written under the per-column indexes, and search finds them', async () => {
      await database.dataSource.undoLastMigration({ transaction: 'each' });
      expect((await migrationRows(database)).map((row) => row.name)).toEqual(ALL_MIGRATIONS.slice(0, -1));
      await database.dataSource.query(
        `INSERT INTO groups (tenant_key, org_key, group_key, name, notes) VALUES
           ('carry', 'hq', 'ops', 'Operations', 'on call'), ('carry', 'hq', 'sales', 'Sales EU', NULL)`,
      );
      await database.dataSource.query(`INSERT INTO users (tenant_key, org_key, user_key, name) VALUES ('carry', 'hq', 'alice', 'Alice')`);

      const ran = await database.dataSource.runMigrations({ transaction: 'each' });
      expect(ran.map((migration) => migration.name)).toEqual(ALL_MIGRATIONS.slice(-1));
      expect(await schemaDiff(database)).toEqual({ up: [], down: [] });
      const search = await database.dataSource.query(
        `SELECT group_key FROM groups WHERE tenant_key = 'carry' AND org_key = 'hq' AND (name ILIKE '%EU%' OR (notes ILIKE '%CALL%' AND notes IS NOT NULL)) ORDER BY group_key`,
      );
      expect(search).toEqual([{ group_key: 'ops' }, { group_key: 'sales' }]);
      expect(await database.dataSource.query(`SELECT user_key FROM users WHERE tenant_key = 'carry' AND name ILIKE '%lic%'`)).toEqual([{ user_key: 'alice' }]);
      await database.dataSource.query(`DELETE FROM groups WHERE tenant_key = 'carry'`);
      await database.dataSource.query(`DELETE FROM users WHERE tenant_key = 'carry'`);
    });
  });

  describe('migrations on a server take the advisory lock', () => {
    itServer('concurrent opens of a fresh database all succeed and migrate once', async () => {
      const fresh = await freshTarget();
      const opened: Database[] = [];
      try {
        const results = await Promise.allSettled([1, 2, 3].map(() => Database.open(fresh.settings)));
        for (const result of results) if (result.status === 'fulfilled') opened.push(result.value);
        expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
        expect((await migrationRows(opened[0]!)).map((row) => row.name)).toEqual(ALL_MIGRATIONS);
        expect(await schemaDiff(opened[0]!)).toEqual({ up: [], down: [] });
      } finally {
        for (const database of opened) await database.close();
        await fresh.cleanup();
      }
    });

    itServer('waits for the lock before migrating, and releases it afterwards', async () => {
      const fresh = await freshTarget();
      const url = fresh.settings.databaseUrl!;
      const holder = new pg.Client({ connectionString: url });
      await holder.connect();
      let opened: Database | undefined;
      try {
        await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
        const opening = Database.open(fresh.settings);
        opening.catch(() => undefined);
        // Wait until the opener is queued on the lock (a state, not a duration).
        let waiting = 0;
        for (let attempt = 0; attempt < 400 && waiting === 0; attempt++) {
          const [row] = (
            await holder.query(
              `SELECT count(*)::int AS n FROM pg_locks
                WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
            )
          ).rows;
          waiting = row.n;
          if (waiting === 0) await new Promise((resolve) => setTimeout(resolve, 25));
        }
        expect(waiting).toBe(1);
        // Nothing migrated while the lock is held elsewhere.
        const [{ present }] = (await holder.query(`SELECT to_regclass('public.schema_migrations') IS NOT NULL AS present`)).rows;
        expect(present).toBe(false);

        await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
        opened = await opening;
        expect((await migrationRows(opened)).map((row) => row.name)).toEqual(ALL_MIGRATIONS);
        const held = await holder.query(
          `SELECT count(*)::int AS n FROM pg_locks
            WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        expect(held.rows[0].n).toBe(0);
      } finally {
        await opened?.close();
        await holder.end();
        await fresh.cleanup();
      }
    });
  });
});

describe('embedded database on disk', () => {
  const apps: INestApplication[] = [];
  async function startApp(dataDir: string): Promise<INestApplication> {
    const app = await createApp({
      env: { DATABASE_URL: undefined, DATA_DIR: dataDir, LOG_LEVEL: 'silent', JWT_SECRET: TEST_JWT_SECRET },
    });
    apps.push(app);
    await app.init();
    return app;
  }
  async function stopApp(app: INestApplication): Promise<void> {
    apps.splice(apps.indexOf(app), 1);
    await app.close();
  }
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });

  const base = '/api/acme/hq/identity';
  /** An authorized request to the app. */
  function http(app: INestApplication, method: 'get' | 'post', url: string): request.Test {
    return request(app.getHttpServer())[method](url).set('Authorization', `Bearer ${tokenForUrl(url)}`);
  }

  it('keeps its data across restarts of the app on the same DATA_DIR', async () => {
    const dataDir = temporaryDirectory('igs-persist-');
    const lockFile = join(dataDir, 'service.lock');

    const first = await startApp(dataDir);
    expect(first.get(Database).kind).toBe('embedded');
    expect(readFileSync(lockFile, 'utf8')).toBe(String(process.pid));
    const created = await http(first, 'post', `${base}/groups`).send({ groupKey: 'Ops', name: 'Operations' }).expect(201);
    const id = created.body as string;
    await stopApp(first);
    expect(existsSync(lockFile)).toBe(false);

    const second = await startApp(dataDir);
    const group = await http(second, 'get', `${base}/groups/ops`).expect(200);
    expect(group.body).toMatchObject({ id, groupKey: 'Ops', name: 'Operations' });
    expect(await migrationRows(second.get(Database))).toHaveLength(ALL_MIGRATIONS.length);
  });

  describe('one process per DATA_DIR', () => {
    interface Child {
      process: ChildProcess;
      output: () => string;
      exited: Promise<number | null>;
      /** Resolves with the first stdout line that satisfies `match`; rejects if the process exits first. */
      line(match: (line: string) => boolean): Promise<string>;
    }

    function startChild(args: string[], env: Record<string, string>): Child {
      const child = spawn(process.execPath, args, {
        cwd: PROJECT_ROOT,
        env: { PATH: process.env['PATH'], ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let output = '';
      const lines: string[] = [];
      const listeners = new Set<() => void>();
      let pending = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        pending += chunk.toString();
        const parts = pending.split('\n');
        pending = parts.pop()!;
        lines.push(...parts);
        for (const listener of listeners) listener();
      });
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      return {
        process: child,
        output: () => output,
        exited,
        line: (match) =>
          new Promise((resolve, reject) => {
            const check = () => {
              const found = lines.find(match);
              if (found !== undefined) {
                listeners.delete(check);
                resolve(found);
              }
            };
            listeners.add(check);
            check();
            void exited.then((code) => {
              check();
              if (listeners.has(check)) {
                listeners.delete(check);
                reject(new Error(`the child exited (${code}) first:\n${output}`));
              }
            });
          }),
      };
    }

    /** A second process that opens the embedded database on `dataDir` (as DatabaseModule does). */
    function openInChild(dataDir: string, scratch: string): Child {
      const script = join(scratch, 'open-database.mts');
      writeFileSync(
        script,
        `const { Database } = await import(process.env.DATABASE_MODULE);
         try {
           const database = await Database.open({ dataDir: process.env.TARGET_DIR, poolSize: 1 });
           await database.dataSource.query("INSERT INTO groups (tenant_key, org_key, group_key, name) VALUES ('child', 'hq', 'from-child', 'n')");
           process.stdout.write('OPENED\\n');
           process.stdin.resume();
           await new Promise((resolve) => process.stdin.on('end', resolve));
           await database.close();
           process.stdout.write('CLOSED\\n');
         } catch (error) {
           process.stdout.write('REFUSED ' + error.message + '\\n');
           process.exitCode = 3;
         }
        `,
      );
      return startChild(['--import', 'tsx', script], {
        TARGET_DIR: dataDir,
        DATABASE_MODULE: pathToFileURL(join(PROJECT_ROOT, 'src', 'database', 'database.ts')).href,
      });
    }

    const children: Child[] = [];
    afterEach(async () => {
      for (const child of children.splice(0)) {
        if (child.process.exitCode === null && child.process.signalCode === null) {
          child.process.kill('SIGKILL');
          await child.exited;
        }
      }
    });

    it('a second process cannot open the DATA_DIR the app holds', async () => {
      const dataDir = temporaryDirectory('igs-held-');
      const app = await startApp(dataDir);
      await http(app, 'post', `${base}/groups`).send({ groupKey: 'ops', name: 'Ops' }).expect(201);

      const child = openInChild(dataDir, temporaryDirectory('igs-scratch-'));
      children.push(child);
      const answer = await child.line((line) => line === 'OPENED' || line.startsWith('REFUSED '));
      expect(answer).toBe(
        `REFUSED The data directory ${dataDir} is in use by process ${process.pid}; run one service per data directory (DATA_DIR)`,
      );
      expect(await child.exited).toBe(3);

      // The holder is undisturbed.
      expect(readFileSync(join(dataDir, 'service.lock'), 'utf8')).toBe(String(process.pid));
      await http(app, 'get', `${base}/groups/ops`).expect(200);
      await http(app, 'post', `${base}/groups`).send({ groupKey: 'sales', name: 'Sales' }).expect(201);
    });

    it('a second service (dist/main.js) on the DATA_DIR the app holds exits 1 naming the directory', async () => {
      if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run `npm run build` (npm test does it first)');
      const dataDir = temporaryDirectory('igs-held-main-');
      const app = await startApp(dataDir);

      const child = startChild([MAIN], { NODE_ENV: 'production', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info' });
      children.push(child);
      const listening = child.line((line) => /listening on port/i.test(line)).then(
        () => 'listening',
        () => 'exited',
      );
      const outcome = await Promise.race([listening, child.exited.then(() => 'exited')]);
      expect(outcome).toBe('exited');
      expect(await child.exited).toBe(1);
      expect(child.output()).toContain(`The data directory ${dataDir} is in use by process ${process.pid}`);
      expect(readFileSync(join(dataDir, 'service.lock'), 'utf8')).toBe(String(process.pid));
      await http(app, 'get', `${base}/groups`).expect(200);
    });

    it('the service refuses a DATA_DIR another live process holds, and takes it over once that process is killed', async () => {
      const dataDir = temporaryDirectory('igs-foreign-');
      const child = openInChild(dataDir, temporaryDirectory('igs-scratch-'));
      children.push(child);
      expect(await child.line((line) => line === 'OPENED' || line.startsWith('REFUSED '))).toBe('OPENED');
      expect(readFileSync(join(dataDir, 'service.lock'), 'utf8')).toBe(String(child.process.pid));

      await expect(Database.open({ dataDir, poolSize: 1 })).rejects.toThrow(
        `The data directory ${dataDir} is in use by process ${child.process.pid}; run one service per data directory (DATA_DIR)`,
      );
      // The refusal left the holder's lock alone.
      expect(readFileSync(join(dataDir, 'service.lock'), 'utf8')).toBe(String(child.process.pid));

      // The holder dies without releasing (crash, SIGKILL): its lock is stale and is taken over.
      child.process.kill('SIGKILL');
      await child.exited;
      expect(readFileSync(join(dataDir, 'service.lock'), 'utf8')).toBe(String(child.process.pid));
      const app = await startApp(dataDir);
      expect(readFileSync(join(dataDir, 'service.lock'), 'utf8')).toBe(String(process.pid));
      const rows = await app.get(Database).dataSource.query(`SELECT group_key FROM groups WHERE tenant_key = 'child'`);
      expect(rows).toEqual([{ group_key: 'from-child' }]);
    });

    it('a process that closes cleanly releases the DATA_DIR for the next one', async () => {
      const dataDir = temporaryDirectory('igs-handover-');
      const child = openInChild(dataDir, temporaryDirectory('igs-scratch-'));
      children.push(child);
      expect(await child.line((line) => line === 'OPENED' || line.startsWith('REFUSED '))).toBe('OPENED');
      child.process.stdin!.end();
      expect(await child.line((line) => line === 'CLOSED')).toBe('CLOSED');
      expect(await child.exited).toBe(0);
      expect(existsSync(join(dataDir, 'service.lock'))).toBe(false);

      const app = await startApp(dataDir);
      const response = await http(app, 'get', `${base.replace('acme', 'child')}/groups/from-child`).expect(200);
      expect(response.body.groupKey).toBe('from-child');
    });
  });
});
