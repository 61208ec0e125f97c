import { Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { Database } from './database.js';
import { PreparedStatements } from './prepared-statements.js';
import { TableStatistics } from './table-statistics.js';
import { UnitOfWork } from './unit-of-work.js';

@Global()
@Module({
  providers: [
    {
      provide: Database,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        Database.open({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize }),
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
  exports: [Database, DataSource, UnitOfWork, TableStatistics],
})
export class DatabaseModule {}
