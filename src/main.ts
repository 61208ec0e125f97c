import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.setup.js';
import { AppConfig } from './config/app-config.js';

async function bootstrap(): Promise<void> {
  const app = await createApp();
  const port = app.get(AppConfig).port;
  await app.listen(port);
  new Logger('Main').log(`Identity groups service listening on port ${port}`);
}

bootstrap().catch((error: unknown) => {
  // One clear line (configuration errors name the variable), then a non-zero exit.
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
