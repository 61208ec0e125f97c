import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AppExceptionFilter } from './common/errors/exception.filter.js';
import { JsonBodyMiddleware } from './common/http/json-body.middleware.js';
import { AppValidationPipe } from './common/validation/app-validation.pipe.js';
import { AppConfig } from './config/app-config.js';
import { ConfigGlobalsModule } from './config/config-globals.module.js';
import { validateEnvironment } from './config/environment.js';
import { DatabaseModule } from './database/database.module.js';
import { GroupsModule } from './groups/groups.module.js';
import { HealthModule } from './health/health.module.js';
import { loggingOptions } from './observability/logging.js';
import { ObservabilityModule } from './observability/observability.module.js';
import { UsersModule } from './users/users.module.js';

export interface AppModuleOptions {
  /** Environment values that win over `process.env` (tests point the app at their own database). */
  env?: Record<string, string | undefined>;
  /** Where log lines go instead of stdout (tests read them). */
  logDestination?: DestinationStream;
}

@Module({})
export class AppModule implements NestModule {
  /** Validates the environment first: a bad value throws here, before any module starts. */
  static register(options: AppModuleOptions = {}): DynamicModule {
    const environment = validateEnvironment({ ...process.env, ...options.env });
    return {
      module: AppModule,
      imports: [
        // forRoot is asynchronous: validating inside it would surface as an unhandled rejection.
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, validate: () => ({ ...environment }) }),
        ConfigGlobalsModule,
        LoggerModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => loggingOptions(config.logLevel, options.logDestination),
        }),
        DatabaseModule,
        ObservabilityModule,
        HealthModule,
        GroupsModule,
        UsersModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: AppExceptionFilter },
        { provide: APP_PIPE, useClass: AppValidationPipe },
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(JsonBodyMiddleware).forRoutes('*path');
  }
}
