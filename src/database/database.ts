import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { PGlite } from '@electric-sql/pglite';
import { btree_gin } from '@electric-sql/pglite/contrib/btree_gin';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import pg from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import { DataDirLock } from './data-dir-lock.js';
import { DatabaseAvailability } from './database-availability.js';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from './migrations/index.js';

export interface DatabaseSettings {
  /** A Postgres server; absent → the embedded Postgres (PGlite). */
  databaseUrl?: string;
  /** The embedded database's directory; `memory://` keeps it in memory (tests). */
  dataDir: string;
  poolSize: number;
  /** Postgres's `statement_timeout` for every statement of the service (absent or 0: none). Server only. */
  statementTimeoutMs?: number;
  /** How long a statement waits for a pool connection (or for one to open) before it fails (default 2000). */
  poolWaitMs?: number;
}

const DEFAULT_POOL_WAIT_MS = 2000;

/** Any constant shared by all replicas: two replicas starting together migrate one at a time. */
const MIGRATION_LOCK_ID = 7_244_151_200;

/**
 * The database the service runs on: a Postgres server (DATABASE_URL) or the embedded Postgres, with
 * migrations applied before the service takes traffic. Owns the connection pool and, when embedded,
 * the PGlite instance and the data directory's lock; closes them on shutdown.
 */
export class Database implements OnApplicationShutdown {
  private static readonly logger = new Logger('Database');

  private constructor(
    readonly dataSource: DataSource,
    readonly kind: 'server' | 'embedded',
    private readonly embedded?: { pglite: PGlite; lock?: DataDirLock },
  ) {}

  static async open(settings: DatabaseSettings, availability = new DatabaseAvailability()): Promise<Database> {
    return settings.databaseUrl ? Database.openServer(settings.databaseUrl, settings, availability) : Database.openEmbedded(settings, availability);
  }

  private static async openServer(url: string, settings: DatabaseSettings, availability: DatabaseAvailability): Promise<Database> {
    // Migrations first, on a connection of their own without the statement time limit: building an
    // index on a large table may take longer than any request may.
    await withAdvisoryLock(url, async () => {
      const migrator = new DataSource({ ...commonOptions(), url, extra: { max: 1, Client: clientClassFor(availability) } });
      await migrator.initialize();
      try {
        await migrator.runMigrations({ transaction: 'each' });
      } finally {
        await migrator.destroy();
      }
    });
    const dataSource = new DataSource({
      ...commonOptions(),
      url,
      poolErrorHandler: (error: unknown) => availability.connectionLost(error),
      extra: {
        max: settings.poolSize,
        Client: clientClassFor(availability),
        // A statement waits this long for a free connection (or for a new one to open), then is a 503.
        connectionTimeoutMillis: settings.poolWaitMs ?? DEFAULT_POOL_WAIT_MS,
        // The query budget, enforced by the server itself: it cancels the statement (57014).
        ...(settings.statementTimeoutMs ? { statement_timeout: settings.statementTimeoutMs } : {}),
        // TCP keep-alive: a connection whose server vanished without a word (a failover, a cut
        // network) is noticed instead of hanging the next statement.
        keepAlive: true,
      },
    });
    await dataSource.initialize();
    Database.logger.log(`Using the PostgreSQL server at ${redact(url)}`);
    return new Database(dataSource, 'server');
  }

  private static async openEmbedded(settings: DatabaseSettings, availability: DatabaseAvailability): Promise<Database> {
    const { dataDir } = settings;
    const inMemory = dataDir.startsWith('memory://');
    const lock = inMemory ? undefined : DataDirLock.acquire(dataDir);
    let pglite: PGlite | undefined;
    try {
      // The extensions the migrations create (trigram search) ship with PGlite as loadable modules.
      pglite = await PGlite.create(inMemory ? undefined : dataDir, { extensions: { pg_trgm, btree_gin } });
      // The adapter makes node-postgres talk to PGlite in-process. PGlite is one connection, so the
      // pool must hold exactly one client, kept forever; transactions queue for it.
      const { connection } = createPgConfig(pglite);
      neverUnheardErrors(connection, availability);
      const instance = pglite;
      availability.watchClosed(() => instance.closed);
      const dataSource = new DataSource({
        ...commonOptions(),
        host: 'localhost',
        username: 'postgres',
        database: 'postgres',
        poolErrorHandler: (error: unknown) => availability.connectionLost(error),
        // No statement_timeout here: PGlite runs a statement synchronously in this very thread, and
        // cannot be interrupted (it accepts the setting and ignores it). The row budget of responses
        // (MAX_RESPONSE_ROWS) and the tenant gate bound what one request can take.
        extra: { connection, max: 1, idleTimeoutMillis: 0, Client: clientClassFor(availability), connectionTimeoutMillis: settings.poolWaitMs ?? DEFAULT_POOL_WAIT_MS },
      });
      await dataSource.initialize();
      await dataSource.runMigrations({ transaction: 'each' });
      Database.logger.log(`Using the embedded PostgreSQL (PGlite) ${inMemory ? 'in memory' : `in ${dataDir}`}`);
      return new Database(dataSource, 'embedded', { pglite, lock });
    } catch (error) {
      await pglite?.close().catch(() => undefined);
      lock?.release();
      throw error;
    }
  }

  /** One round trip to the database (readiness). */
  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    if (this.embedded) {
      if (!this.embedded.pglite.closed) await this.embedded.pglite.close();
      this.embedded.lock?.release();
    }
  }
}

/**
 * node-postgres clients that never crash the process: a client checked out of the pool (in a
 * transaction, between two statements) that loses its connection emits `'error'`, and with no
 * listener Node turns that into an uncaught exception — the process died on 3 of 4 database
 * restarts. The pool listens only to its idle clients; this listens to every client, all its life.
 * The statement under way fails on its own, and the pool drops the broken client when it is released.
 */
function clientClassFor(availability: DatabaseAvailability): typeof pg.Client {
  return class ResilientClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      this.on('error', (error) => availability.connectionLost(error));
    }
  };
}

/**
 * The PGlite adapter's connection reports a failed statement (PGlite closed, say) as an `'error'`
 * event, and its `end()` — which node-postgres calls on the first error — removes every listener, so
 * the next queued statement's error would be unheard and crash the process. A listener of ours is
 * put back after each `end()`; the statements themselves still fail, and answer 503.
 */
function neverUnheardErrors(connection: { on(event: 'error', listener: (error: unknown) => void): unknown; end(): void }, availability: DatabaseAvailability): void {
  const listen = () => connection.on('error', (error) => availability.connectionLost(error));
  const end = connection.end.bind(connection);
  connection.end = () => {
    end();
    listen();
  };
  listen();
}

function commonOptions() {
  return {
    type: 'postgres',
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    migrationsRun: false,
    // Only migrations change the schema: TypeORM must not CREATE EXTENSION (uuid-ossp for generated uuids).
    installExtensions: false,
    // Failed statements surface as errors the exception filter logs (5xx) or maps (4xx); TypeORM's own
    // query log would print bound values (personal data) for every expected 409.
    logging: false,
  } satisfies Partial<DataSourceOptions>;
}

/** Holds a session-level advisory lock on its own connection while `work` runs. */
async function withAdvisoryLock<T>(url: string, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined); // a lost lock connection fails the statements below, which say why
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    return await work();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    await client.end();
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
