import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import type { DestinationStream } from 'pino';
import { AuthModule } from './auth/auth.module.js';
import { AppExceptionFilter } from './common/errors/exception.filter.js';
import { AppValidationPipe } from './common/validation/app-validation.pipe.js';
import { ConfigGlobalsModule } from './config/config-globals.module.js';
import { validateEnvironment } from './config/environment.js';
import { DatabaseModule } from './database/database.module.js';
import { GroupsModule } from './groups/groups.module.js';
import { HealthModule } from './health/health.module.js';
import { ConnectionDrain } from './lifecycle/connection-drain.js';
import { ODataModule } from './odata/odata.module.js';
import { ObservabilityModule } from './observability/observability.module.js';
import { TrafficModule } from './traffic/traffic.module.js';
import { UsersModule } from './users/users.module.js';

export interface AppModuleOptions {
  /** Environment values that win over `process.env` (tests point the app at their own database). */
  env?: Record<string, string | undefined>;
  /** Where log lines go instead of stdout (tests read them). */
  logDestination?: DestinationStream;
}

@Module({})
export class AppModule {
  /** Validates the environment first: a bad value throws here, before any module starts. */
  static register(options: AppModuleOptions = {}): DynamicModule {
    const environment = validateEnvironment({ ...process.env, ...options.env });
    return {
      module: AppModule,
      imports: [
        // The validated values are loaded as they are: forRoot's own `validate` would run inside an
        // asynchronous call (a bad value surfaced as an unhandled rejection) and would copy every
        // value into process.env, leaking one app instance's settings into the next (tests).
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          validatePredefined: false,
          skipProcessEnv: true,
          load: [() => ({ ...environment })],
        }),
        ConfigGlobalsModule,
        ObservabilityModule.forRoot(options.logDestination),
        AuthModule,
        TrafficModule,
        DatabaseModule,
        HealthModule,
        GroupsModule,
        UsersModule,
        ODataModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: AppExceptionFilter },
        { provide: APP_PIPE, useClass: AppValidationPipe },
        ConnectionDrain,
      ],
    };
  }
}
