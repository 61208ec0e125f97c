import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Where a test suite's database lives. With DATABASE_URL set, the suite gets a database of its own
 * on that server (created here, dropped by `drop`), so suites never share rows or schema state.
 * Without it, the suite runs on the embedded Postgres (PGlite) in memory, as `npm start` would on disk.
 */
export interface TestDatabase {
  kind: 'server' | 'embedded';
  /** Environment overrides that point the app at this database. */
  env: Record<string, string | undefined>;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env['DATABASE_URL'];
  if (!serverUrl) {
    return { kind: 'embedded', env: { DATABASE_URL: undefined, DATA_DIR: 'memory://' }, drop: async () => undefined };
  }
  const name = `igs_test_${randomBytes(6).toString('hex')}`;
  await withAdminClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    kind: 'server',
    env: { DATABASE_URL: url.toString() },
    drop: () => withAdminClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

async function withAdminClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
