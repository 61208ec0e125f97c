import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { DatabaseAvailability } from '../../src/database/database-availability.js';
import { Database } from '../../src/database/database.js';
import { PreparedStatements } from '../../src/database/prepared-statements.js';
import { TenantGate } from '../../src/database/tenant-gate.js';
import { UnitOfWork } from '../../src/database/unit-of-work.js';
import { AppError } from '../../src/common/errors/app-error.js';
import { LogCapture } from '../support/log-capture.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';
import { createTestDatabase } from '../support/test-database.js';

/**
 * Faults and hostile load (issue 16): the database going away and coming back, a statement past its
 * budget, a tenant past its share of the connections. The server cases need a PostgreSQL server (a
 * proxy in front of it is cut, a lock is held from a second connection); on the embedded database
 * (one connection, in this process) those say so and the embedded cases run instead.
 */
const onServer = Boolean(process.env['DATABASE_URL']);
const serverOnly = onServer ? describe : describe.skip;
const embeddedOnly = onServer ? describe.skip : describe;
if (!onServer) {
  console.warn('resilience: server-only cases SKIPPED (no DATABASE_URL): proxy cuts, statement budget and tenant share need a PostgreSQL server');
}

/** Retries `probe` until it returns true (at most `attempts` × `pauseMs`); no timing is asserted. */
async function eventually(probe: () => Promise<boolean>, attempts = 100, pauseMs = 100): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  throw new Error('condition not reached');
}

/** The test's own connection to the app's database (locks, row checks). */
async function adminClient(t: TestApp, url = t.database.env['DATABASE_URL']!): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Waits until some backend of `database` waits for a lock (the request under test is blocked). */
async function blockedOnLock(client: pg.Client): Promise<void> {
  await eventually(async () => {
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    return rows[0].n > 0;
  });
}

serverOnly('the database goes away and comes back (server, through a proxy the test cuts)', () => {
  let t: TestApp;
  let proxy: TcpProxy;
  const logs = new LogCapture();
  const scope = newScope('outage');

  beforeAll(async () => {
    const database = await createTestDatabase();
    proxy = await TcpProxy.start(new URL(database.env['DATABASE_URL']!));
    // The app reaches its database only through the proxy; the test's own clients go direct.
    t = await startTestApp(
      { DATABASE_URL: proxy.urlFor(database.env['DATABASE_URL']!), DB_POOL_WAIT_MS: '1000', LOG_LEVEL: 'info' },
      { logDestination: logs, database },
    );
    await t.http.post(`${scope.base}/groups`).send({ groupKey: 'before', name: 'Before' }).expect(201);
  });
  afterAll(async () => {
    await proxy?.restore();
    await t?.close();
    await proxy?.close();
  });

  it('answers 503 DatabaseUnavailable with Retry-After while it is away, and 200 again once it is back, without a restart', async () => {
    await proxy.cut();
    const read = await t.http.get(`${scope.base}/groups/before`).expect(503);
    expect(read.body.error).toMatchObject({ code: 'DatabaseUnavailable' });
    expect(Number(read.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const write = await t.http.post(`${scope.base}/groups`).send({ groupKey: 'during', name: 'During' }).expect(503);
    expect(write.body.error.code).toBe('DatabaseUnavailable');
    expect(write.headers['retry-after']).toBeDefined();
    await t.http.get(`${scope.base}/groups/odata?$filter=groupKey eq 'before'`).expect(503);
    await t.http.get('/ready').expect(503);
    await t.http.get('/health').expect(200);

    await proxy.restore();
    await eventually(async () => (await t.http.get(`${scope.base}/groups/before`)).status === 200);
    await t.http.post(`${scope.base}/groups`).send({ groupKey: 'after', name: 'After' }).expect(201);
    // The refused write left nothing behind.
    await t.http.get(`${scope.base}/groups/during`).expect(404);
  });

  it('logs the outage once when it starts and once when it ends, with no stack per request', () => {
    const down = logs.lines.filter((line) => String(line['msg']).startsWith('The database is unavailable'));
    const back = logs.lines.filter((line) => String(line['msg']).startsWith('The database is available again'));
    expect(down).toHaveLength(1);
    expect(back).toHaveLength(1);
    expect(logs.lines.filter((line) => 'stack' in line || 'err' in line)).toEqual([]);
    const refused = logs.lines.filter((line) => (line['res'] as { statusCode?: number } | undefined)?.statusCode === 503);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(refused.every((line) => line['level'] === 40)).toBe(true); // warn, not error
  });

  it('survives every connection of its pool being terminated by the server', async () => {
    const admin = await adminClient(t);
    try {
      await Promise.all(Array.from({ length: 8 }, () => t.http.get(`${scope.base}/groups/before`).expect(200)));
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
      await eventually(async () => (await t.http.get(`${scope.base}/groups/before`)).status === 200);
    } finally {
      await admin.end();
    }
  });
});

serverOnly('a connection lost inside a transaction (server)', () => {
  it('fails that transaction with DatabaseUnavailable instead of crashing the process on the client\'s error event', async () => {
    const target = await createTestDatabase();
    const database = await Database.open({ databaseUrl: target.env['DATABASE_URL'], dataDir: 'memory://', poolSize: 2 });
    const admin = new pg.Client({ connectionString: target.env['DATABASE_URL'] });
    await admin.connect();
    try {
      const uow = new UnitOfWork(database.dataSource, new PreparedStatements(10), new TenantGate(2, 1000), new DatabaseAvailability());
      const scope = { tenantKey: 't', orgKey: 'o' };
      const outcome = uow.transaction(scope, async (bound) => {
        const { rows } = await uow.query<{ pid: number }>(bound, 'SELECT pg_backend_pid() AS pid', []);
        // Between two statements the client is checked out and idle: the server ends its connection.
        await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await uow.query(bound, 'SELECT 1', []);
      });
      const error = await outcome.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('DatabaseUnavailable');
      // The pool dropped the broken connection and serves the next statement.
      await expect(uow.query(scope, 'SELECT 1 AS one', [])).resolves.toMatchObject({ rows: [{ one: 1 }] });
    } finally {
      await admin.end();
      await database.close();
      await target.drop();
    }
  });
});

serverOnly('query budget (server)', () => {
  let t: TestApp;
  let admin: pg.Client;
  const scope = newScope('budget');

  beforeAll(async () => {
    t = await startTestApp({ DB_STATEMENT_TIMEOUT_MS: '300' });
    admin = await adminClient(t);
    await t.http.post(`${scope.base}/groups`).send({ groupKey: 'g1', name: 'One' }).expect(201);
  });
  afterAll(async () => {
    await admin?.end();
    await t?.close();
  });

  /** Runs `during` while the test holds an exclusive lock on `groups`, so statements on it wait. */
  async function withTableLocked<T>(during: () => Promise<T>): Promise<T> {
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE groups IN ACCESS EXCLUSIVE MODE');
    try {
      return await during();
    } finally {
      await admin.query('ROLLBACK');
    }
  }

  it('cancels a read past DB_STATEMENT_TIMEOUT_MS and answers 400 QueryBudgetExceeded naming the budget', async () => {
    const response = await withTableLocked(() => t.http.get(`${scope.base}/groups/odata?$filter=contains(name,'O')`));
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('QueryBudgetExceeded');
    expect(response.body.error.message).toContain('300 ms (DB_STATEMENT_TIMEOUT_MS)');
    await t.http.get(`${scope.base}/groups/odata?$filter=contains(name,'O')`).expect(200);
  });

  it('cancels a write past the budget, rolls it back and answers 503 with Retry-After', async () => {
    const response = await withTableLocked(() => t.http.post(`${scope.base}/groups`).send({ groupKey: 'g2', name: 'Two' }));
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBeDefined();
    expect(response.body.error.message).toContain('DB_STATEMENT_TIMEOUT_MS');
    await t.http.get(`${scope.base}/groups/g2`).expect(404);
  });
});

serverOnly("a tenant's share of the connections (server)", () => {
  let t: TestApp;
  let admin: pg.Client;
  const a = newScope('busy');
  const b = newScope('calm');

  beforeAll(async () => {
    t = await startTestApp({ TENANT_MAX_CONCURRENCY: '1', TENANT_QUEUE_WAIT_MS: '200' });
    admin = await adminClient(t);
    await t.http.post(`${a.base}/groups`).send({ groupKey: 'locked', name: 'Locked' }).expect(201);
    await t.http.post(`${a.base}/groups`).send({ groupKey: 'free', name: 'Free' }).expect(201);
    await t.http.post(`${b.base}/groups`).send({ groupKey: 'other', name: 'Other' }).expect(201);
  });
  afterAll(async () => {
    await admin?.end();
    await t?.close();
  });

  it("answers 429 TenantConcurrencyExceeded with Retry-After to a tenant over its share, while another tenant's requests succeed", async () => {
    await admin.query('BEGIN');
    await admin.query(`SELECT 1 FROM groups WHERE tenant_key = $1 AND group_key = 'locked' FOR UPDATE`, [a.tenantKey]);
    // Tenant A's one connection is taken by a write that waits for the row lock.
    const held = t.http.put(`${a.base}/groups/locked/name`).set('Content-Type', 'application/json').send('"Renamed"').then((response) => response);
    try {
      await blockedOnLock(admin);
      const refused = await t.http.get(`${a.base}/groups/free`);
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('TenantConcurrencyExceeded');
      expect(refused.body.error.message).toContain('TENANT_MAX_CONCURRENCY');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      await t.http.get(`${b.base}/groups/other`).expect(200);
    } finally {
      await admin.query('COMMIT');
    }
    expect([200, 204]).toContain((await held).status);
    await t.http.get(`${a.base}/groups/free`).expect(200);
  });
});

embeddedOnly('the embedded database closes under load', () => {
  it('answers 503 DatabaseUnavailable instead of 500, and the process keeps serving', async () => {
    const t = await startTestApp({ DB_POOL_WAIT_MS: '1000' });
    const scope = newScope('closed');
    try {
      await t.http.post(`${scope.base}/groups`).send({ groupKey: 'g', name: 'G' }).expect(201);
      const inFlight = Array.from({ length: 10 }, (_, i) => t.http.get(i % 2 ? `${scope.base}/groups/g` : `${scope.base}/groups/odata?$top=5`));
      const embedded = t.app.get(Database) as unknown as { embedded: { pglite: { close(): Promise<void> } } };
      await embedded.embedded.pglite.close();
      const statuses = (await Promise.all(inFlight)).map((response) => response.status);
      expect(statuses.filter((status) => status !== 200 && status !== 503)).toEqual([]);
      const after = await t.http.get(`${scope.base}/groups/g`).expect(503);
      expect(after.body.error.code).toBe('DatabaseUnavailable');
      expect(after.headers['retry-after']).toBeDefined();
      await t.http.get('/health').expect(200);
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});

describe('bounded responses (MAX_RESPONSE_ROWS)', () => {
  let t: TestApp;
  const scope = newScope('bounded');
  const groupKeys = Array.from({ length: 12 }, (_, i) => `g${String(i).padStart(2, '0')}`);

  beforeAll(async () => {
    t = await startTestApp({ MAX_RESPONSE_ROWS: '1000' });
    for (const userKey of ['u1', 'u2', 'u3']) await t.http.post(`${scope.base}/users`).send({ userKey, name: userKey }).expect(201);
    for (const groupKey of groupKeys) {
      await t.http.post(`${scope.base}/groups`).send({ groupKey, name: groupKey, users: ['u1', 'u2', 'u3'] }).expect(201);
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  it('cuts a page whose expansions could pass the budget into smaller pages, linked by @odata.nextLink', async () => {
    // Each group may bring 1 + 200 records: 1000 / 201 → pages of 4 groups.
    let url: string | undefined = `${scope.base}/groups/odata?$top=12&$orderby=groupKey&$expand=users($top=200;$select=userKey)`;
    const pages: { groupKey: string; users: { userKey: string }[] }[][] = [];
    while (url) {
      const response: { body: { value: never[]; '@odata.nextLink'?: string } } = await t.http.get(url).expect(200);
      pages.push(response.body.value);
      url = response.body['@odata.nextLink'];
      if (pages.length > 10) throw new Error('the next links never end');
    }
    expect(pages.map((page) => page.length)).toEqual([4, 4, 4]);
    expect(pages.flat().map((group) => group.groupKey)).toEqual(groupKeys);
    expect(pages.flat().every((group) => group.users.map((user) => user.userKey).join() === 'u1,u2,u3')).toBe(true);
  });

  it('refuses with 400 ResponseTooLarge, naming the limit, when one entity alone could pass the budget', async () => {
    const response = await t.http.get(`${scope.base}/groups/odata?$expand=users($top=1000;$expand=groups($top=10))`).expect(400);
    expect(response.body.error.code).toBe('ResponseTooLarge');
    expect(response.body.error.message).toContain('MAX_RESPONSE_ROWS');
    expect(response.body.error.message).toContain('1000');
  });
});
