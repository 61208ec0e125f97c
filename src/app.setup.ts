import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { AppModule, AppModuleOptions } from './app.module.js';
import { setupOpenApi } from './docs/openapi.js';
import { ConnectionDrain } from './lifecycle/connection-drain.js';
import { AppLogger } from './observability/logging.js';
import { RequestTelemetryMiddleware } from './observability/request-telemetry.middleware.js';

/**
 * Creates the application as `main.ts` runs it; tests build the very same app (with their own
 * database settings), so what they exercise is what ships.
 */
export async function createApp(options: AppModuleOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(options), {
    // Bodies are parsed by JsonBodyInterceptor (on the handlers marked @ReadsJsonBody), after
    // authentication, so that parse errors get the OData error shape and unauthenticated bodies are
    // never read.
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(AppLogger));
  // Before everything else: once shutdown begins, answers close their keep-alive connections.
  app.use(app.get(ConnectionDrain).middleware);
  // First of all handlers: every request gets its id, log line and metrics, routed or not.
  const telemetry = app.get(RequestTelemetryMiddleware);
  app.use((request: Request, response: Response, next: NextFunction) => telemetry.use(request, response, next));
  app.disable('x-powered-by');
  // Express would add weak ETags computed from the body; entity ETags are the service's own
  // (a hash of the representation).
  app.set('etag', false);
  // Express's default "extended" parser would turn `a[b]=1` into objects; OData options are flat.
  app.set('query parser', 'simple');
  setupOpenApi(app);
  return app;
}
