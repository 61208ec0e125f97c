import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import { NestFactory } from '@nestjs/core';

/**
 * Creates the application as `main.ts` runs it; tests build the very same app (with their own
 * database settings), so what they exercise is what ships.
 */
export async function createApp(overrides: Record<string, string | undefined> = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(overrides), {
    // Bodies are parsed by JsonBodyMiddleware, inside Nest, so parse errors get the OData error shape.
    bodyParser: false,
    logger: process.env['NODE_ENV'] === 'test' ? ['error', 'warn'] : undefined,
  });
  app.disable('x-powered-by');
  // Express would add weak ETags computed from the body; entity ETags come from the row version.
  app.set('etag', false);
  // Express's default "extended" parser would turn `a[b]=1` into objects; OData options are flat.
  app.set('query parser', 'simple');
  app.enableShutdownHooks();
  return app;
}
