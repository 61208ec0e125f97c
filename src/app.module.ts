import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AppExceptionFilter } from './common/errors/exception.filter.js';
import { JsonBodyMiddleware } from './common/http/json-body.middleware.js';
import { AppValidationPipe } from './common/validation/app-validation.pipe.js';
import { ConfigGlobalsModule } from './config/config-globals.module.js';
import { validateEnvironment } from './config/environment.js';
import { DatabaseModule } from './database/database.module.js';
import { GroupsModule } from './groups/groups.module.js';
import { UsersModule } from './users/users.module.js';

@Module({})
export class AppModule implements NestModule {
  /**
   * @param overrides environment values that win over `process.env` (tests use them to point the
   * service at their own database without touching the process environment).
   */
  static register(overrides: Record<string, string | undefined> = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          validate: (environment) => ({ ...validateEnvironment({ ...environment, ...overrides }) }),
        }),
        ConfigGlobalsModule,
        DatabaseModule,
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
