import { DynamicModule, Global, Module } from '@nestjs/common';
import type { DestinationStream } from 'pino';
import { AppConfig } from '../config/app-config.js';
import { AppLogger, createRootLogger } from './logging.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';
import { RequestTelemetryMiddleware } from './request-telemetry.middleware.js';

/**
 * The log, `/metrics`, and the per-request telemetry (id, log line, metrics) feeding them. The
 * telemetry middleware is mounted on the HTTP server by `createApp` (it sees every request, routed
 * or not; a Nest middleware route `*path` cost a path match and a wrapper per request).
 */
@Global()
@Module({})
export class ObservabilityModule {
  /** `logDestination`: where log lines go instead of stdout (tests read them). */
  static forRoot(logDestination?: DestinationStream): DynamicModule {
    return {
      module: ObservabilityModule,
      controllers: [MetricsController],
      providers: [
        {
          provide: AppLogger,
          inject: [AppConfig],
          useFactory: (config: AppConfig) => new AppLogger(createRootLogger(config.logLevel, logDestination)),
        },
        MetricsService,
        RequestTelemetryMiddleware,
      ],
      exports: [AppLogger, MetricsService, RequestTelemetryMiddleware],
    };
  }
}
