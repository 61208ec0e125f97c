import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.setup.js';
import { AppConfig } from './config/app-config.js';

/** How long SIGTERM/SIGINT may take to drain in-flight requests and close the database. */
const SHUTDOWN_GRACE_MS = Number(process.env['SHUTDOWN_GRACE_MS'] ?? 10_000);

async function bootstrap(): Promise<void> {
  const app = await createApp();
  const logger = new Logger('Main');
  const port = app.get(AppConfig).port;
  await app.listen(port);
  logger.log(`Identity groups service listening on port ${port}`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: draining in-flight requests, then closing the database`);
    // Bounded: a request that never finishes must not keep the process alive forever.
    setTimeout(() => {
      logger.error(`Shutdown took longer than ${SHUTDOWN_GRACE_MS} ms; exiting`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    // app.close(): the HTTP server stops accepting and waits for in-flight requests, then the
    // modules' shutdown hooks close the pool (and the embedded database).
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`Shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

bootstrap().catch((error: unknown) => {
  // One clear line (configuration errors name the variable), then a non-zero exit.
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
