import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import type { AppModuleOptions } from '../../src/app.module.js';
import { createApp } from '../../src/app.setup.js';
import { createTestDatabase, TestDatabase } from './test-database.js';

export interface TestApp {
  app: INestApplication;
  http: TestAgent;
  database: TestDatabase;
  close(): Promise<void>;
}

/** The real application over HTTP on a database of its own (see createTestDatabase). */
export async function startTestApp(
  env: Record<string, string | undefined> = {},
  options: Omit<AppModuleOptions, 'env'> = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const app = await createApp({ ...options, env: { LOG_LEVEL: 'silent', ...database.env, ...env } });
  await app.init();
  return {
    app,
    http: request(app.getHttpServer()),
    database,
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}

/** A scope no other test uses: every test can start from an empty tenant/org. */
export function newScope(prefix = 't'): { tenantKey: string; orgKey: string; base: string } {
  const tenantKey = `${prefix}-${randomBytes(5).toString('hex')}`;
  const orgKey = `o_${randomBytes(3).toString('hex')}`;
  return { tenantKey, orgKey, base: `/api/${tenantKey}/${orgKey}/identity` };
}
