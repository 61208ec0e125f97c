import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import type { AppModuleOptions } from '../../src/app.module.js';
import { createApp } from '../../src/app.setup.js';
import { createTestDatabase, TestDatabase } from './test-database.js';
import { TEST_JWT_SECRET, tokenForUrl } from './tokens.js';

type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head' | 'options';

/** supertest, with a bearer token for the tenant each URL names (all orgs, all scopes). */
export type AuthorizedAgent = Pick<TestAgent, HttpMethod>;

export interface TestApp {
  app: INestApplication;
  /** Requests that carry a valid token for the URL's tenant; `.set('Authorization', …)` overrides it. */
  http: AuthorizedAgent;
  /** Requests without any token. */
  anonymous: TestAgent;
  database: TestDatabase;
  close(): Promise<void>;
}

/** The real application over HTTP on a database of its own (see createTestDatabase). */
export async function startTestApp(
  env: Record<string, string | undefined> = {},
  { database: given, ...options }: Omit<AppModuleOptions, 'env'> & { database?: TestDatabase } = {},
): Promise<TestApp> {
  // `database`: one the test created itself (e.g. to put a proxy in front of it); it is dropped on close too.
  const database = given ?? (await createTestDatabase());
  const app = await createApp({
    ...options,
    // The waits that turn overload into 429/503 are generous here: suites run in parallel on a shared
    // machine, and only the suites about those limits (which set their own) may see them.
    env: { LOG_LEVEL: 'silent', JWT_SECRET: TEST_JWT_SECRET, TENANT_QUEUE_WAIT_MS: '30000', DB_POOL_WAIT_MS: '30000', ...database.env, ...env },
  });
  await app.init();
  const server = app.getHttpServer();
  return {
    app,
    http: authorizedAgent(server),
    anonymous: request(server),
    database,
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}

function authorizedAgent(server: Parameters<typeof request>[0]): AuthorizedAgent {
  const methods: HttpMethod[] = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];
  return Object.fromEntries(
    methods.map((method) => [method, (url: string) => request(server)[method](url).set('Authorization', `Bearer ${tokenForUrl(url)}`)]),
  ) as unknown as AuthorizedAgent;
}

/** A scope no other test uses: every test can start from an empty tenant/org. */
export function newScope(prefix = 't'): { tenantKey: string; orgKey: string; base: string } {
  const tenantKey = `${prefix}-${randomBytes(5).toString('hex')}`;
  const orgKey = `o_${randomBytes(3).toString('hex')}`;
  return { tenantKey, orgKey, base: `/api/${tenantKey}/${orgKey}/identity` };
}
