import { Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { DatabaseAvailability } from './database-availability.js';
import { Database } from './database.js';
import { PreparedStatements } from './prepared-statements.js';
import { TableStatistics } from './table-statistics.js';
import { TenantGate } from './tenant-gate.js';
import { UnitOfWork } from './unit-of-work.js';

@Global()
@Module({
  providers: [
    { provide: DatabaseAvailability, useFactory: () => new DatabaseAvailability() },
    {
      provide: Database,
      inject: [AppConfig, DatabaseAvailability],
      useFactory: (config: AppConfig, availability: DatabaseAvailability) =>
        Database.open(
          {
            databaseUrl: config.databaseUrl,
            dataDir: config.dataDir,
            poolSize: config.dbPoolSize,
            statementTimeoutMs: config.dbStatementTimeoutMs,
            poolWaitMs: config.dbPoolWaitMs,
          },
          availability,
        ),
    },
    {
      provide: TenantGate,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => new TenantGate(config.tenantMaxConcurrency, config.tenantQueueWaitMs),
    },
    { provide: DataSource, inject: [Database], useFactory: (database: Database) => database.dataSource },
    {
      provide: PreparedStatements,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => new PreparedStatements(config.dbPreparedStatements),
    },
    UnitOfWork,
    {
      provide: TableStatistics,
      inject: [Database],
      useFactory: (database: Database) => new TableStatistics(database.dataSource, database.kind === 'embedded' ? 'vacuum' : 'analyze'),
    },
  ],
  exports: [Database, DataSource, UnitOfWork, TableStatistics, TenantGate, DatabaseAvailability],
})
export class DatabaseModule {}
