import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Environment } from './environment.js';

/** Typed, already-validated configuration for the rest of the service. */
@Injectable()
export class AppConfig {
  constructor(private readonly config: ConfigService<Environment, true>) {}

  get port(): number {
    return this.config.get('PORT', { infer: true });
  }
  get databaseUrl(): string | undefined {
    return this.config.get('DATABASE_URL', { infer: true });
  }
  get dataDir(): string {
    return this.config.get('DATA_DIR', { infer: true });
  }
  get dbPoolSize(): number {
    return this.config.get('DB_POOL_SIZE', { infer: true });
  }
  get maxBodyBytes(): number {
    return this.config.get('MAX_BODY', { infer: true });
  }
  get logLevel(): string {
    return this.config.get('LOG_LEVEL', { infer: true });
  }
}
