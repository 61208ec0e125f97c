import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { PGlite } from '@electric-sql/pglite';
import { btree_gin } from '@electric-sql/pglite/contrib/btree_gin';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import pg from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import { DataDirLock } from './data-dir-lock.js';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from './migrations/index.js';

export interface DatabaseSettings {
  /** A Postgres server; absent → the embedded Postgres (PGlite). */
  databaseUrl?: string;
  /** The embedded database's directory; `memory://` keeps it in memory (tests). */
  dataDir: string;
  poolSize: number;
}

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

  static async open(settings: DatabaseSettings): Promise<Database> {
    return settings.databaseUrl ? Database.openServer(settings.databaseUrl, settings.poolSize) : Database.openEmbedded(settings.dataDir);
  }

  private static async openServer(url: string, poolSize: number): Promise<Database> {
    const dataSource = new DataSource({ ...commonOptions(), url, extra: { max: poolSize } });
    await dataSource.initialize();
    try {
      await withAdvisoryLock(url, () => dataSource.runMigrations({ transaction: 'each' }));
    } catch (error) {
      await dataSource.destroy();
      throw error;
    }
    Database.logger.log(`Using the PostgreSQL server at ${redact(url)}`);
    return new Database(dataSource, 'server');
  }

  private static async openEmbedded(dataDir: string): Promise<Database> {
    const inMemory = dataDir.startsWith('memory://');
    const lock = inMemory ? undefined : DataDirLock.acquire(dataDir);
    let pglite: PGlite | undefined;
    try {
      // The extensions the migrations create (trigram search) ship with PGlite as loadable modules.
      pglite = await PGlite.create(inMemory ? undefined : dataDir, { extensions: { pg_trgm, btree_gin } });
      // The adapter makes node-postgres talk to PGlite in-process. PGlite is one connection, so the
      // pool must hold exactly one client, kept forever; transactions queue for it.
      const { connection } = createPgConfig(pglite);
      const dataSource = new DataSource({
        ...commonOptions(),
        host: 'localhost',
        username: 'postgres',
        database: 'postgres',
        extra: { connection, max: 1, idleTimeoutMillis: 0 },
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
