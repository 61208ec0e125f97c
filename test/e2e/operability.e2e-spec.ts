import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Database } from '../../src/database/database.js';
import { LogCapture } from '../support/log-capture.js';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';
import { tokenForUrl } from '../support/tokens.js';

interface Operation {
  security?: unknown;
  requestBody?: unknown;
  responses: Record<string, unknown>;
}

describe('operability', () => {
  let t: TestApp;
  const logs = new LogCapture();
  beforeAll(async () => {
    t = await startTestApp({ LOG_LEVEL: 'info' }, { logDestination: logs });
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('probes', () => {
    it('GET /health answers 200 without a token and without touching the database', async () => {
      const response = await t.http.get('/health').expect(200);
      expect(response.body).toMatchObject({ status: 'ok' });
      expect(response.headers['cache-control']).toBe('no-store');
    });

    it('GET /ready answers 200 with the database up', async () => {
      const response = await t.http.get('/ready').expect(200);
      expect(response.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    });
  });

  describe('request id', () => {
    it('echoes a client X-Request-Id and logs it with the request line', async () => {
      const { base, tenantKey, orgKey } = newScope();
      const response = await t.http.get(`${base}/groups`).set('X-Request-Id', 'trace-42.a').expect(200);
      expect(response.headers['x-request-id']).toBe('trace-42.a');
      const line = logs.lines.find((entry) => (entry['req'] as { id?: string } | undefined)?.id === 'trace-42.a');
      expect(line).toMatchObject({
        msg: 'request completed',
        req: { method: 'GET', url: `${base}/groups` },
        res: { statusCode: 200 },
        route: '/api/:tenantKey/:orgKey/identity/groups',
        tenant: tenantKey,
        org: orgKey,
      });
      expect(typeof line!['responseTime']).toBe('number');
    });

    it('generates an id when none (or an unusable one) is sent', async () => {
      const generated = await t.http.get('/health').expect(200);
      expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const replaced = await t.http.get('/health').set('X-Request-Id', 'has spaces and <tags>').expect(200);
      expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('logs client errors at warn level, with no request headers or bodies', async () => {
      const { base } = newScope();
      const token = tokenForUrl(`${base}/groups/missing`);
      await t.http.get(`${base}/groups/missing`).set('X-Request-Id', 'warn-1').set('Authorization', `Bearer ${token}`).expect(404);
      const line = logs.lines.find((entry) => (entry['req'] as { id?: string } | undefined)?.id === 'warn-1');
      expect(line).toMatchObject({ level: 40, res: { statusCode: 404 } });
      expect(JSON.stringify(logs.lines)).not.toContain(token.split('.')[2]!);
    });
  });

  describe('metrics', () => {
    it('counts requests by route template and status, with latency, pool and process metrics', async () => {
      const { base } = newScope();
      await t.http.post(`${base}/groups`).send({ groupKey: 'm', name: 'M' }).expect(201);
      await t.http.get(`${base}/groups/m`).expect(200);
      await t.http.get(`${base}/groups/nope`).expect(404);
      const response = await t.http.get('/metrics').expect(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      const text = response.text;
      expect(text).toMatch(/http_requests_total\{method="POST",route="\/api\/:tenantKey\/:orgKey\/identity\/groups",status="201"\} [1-9]/);
      expect(text).toMatch(/http_requests_total\{method="GET",route="\/api\/:tenantKey\/:orgKey\/identity\/groups\/:idOrKey",status="404"\} [1-9]/);
      expect(text).toMatch(/http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/api\/:tenantKey\/:orgKey\/identity\/groups\/:idOrKey",status="200"\} [1-9]/);
      expect(text).toMatch(/^db_pool_connections \d+/m);
      expect(text).toMatch(/^db_pool_waiting_requests \d+/m);
      expect(text).toMatch(/^db_available 1$/m);
      expect(text).toMatch(/^tenant_gate_statements\{state="waiting"\} \d+/m);
      expect(text).toMatch(/^process_cpu_user_seconds_total /m);
      expect(text).not.toContain(base); // raw URLs never become labels
    });
  });

  describe('OpenAPI', () => {
    it('describes every route with the bearer scheme at /api/docs-json, and serves the UI at /api/docs', async () => {
      const document = (await t.http.get('/api/docs-json').expect(200)).body;
      expect(document.openapi).toMatch(/^3\./);
      expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
      const paths = Object.keys(document.paths);
      for (const path of [
        '/api/{tenantKey}/{orgKey}/identity/groups',
        '/api/{tenantKey}/{orgKey}/identity/groups/odata',
        '/api/{tenantKey}/{orgKey}/identity/groups/{idOrKey}',
        '/api/{tenantKey}/{orgKey}/identity/groups/{idOrKey}/users',
        '/api/{tenantKey}/{orgKey}/identity/users',
        '/api/{tenantKey}/{orgKey}/identity/users/{idOrKey}/groups',
        '/health',
        '/ready',
      ]) {
        expect(paths).toContain(path);
      }
      for (const [path, operations] of Object.entries(document.paths as Record<string, Record<string, Operation>>)) {
        if (!path.startsWith('/api/')) continue;
        for (const [method, operation] of Object.entries(operations)) {
          const where = `${method.toUpperCase()} ${path}`;
          expect({ where, security: operation.security }).toEqual({ where, security: [{ bearer: [] }] });
          for (const status of ['200', '400', '401', '403', '429', '503']) {
            if (status === '200' && !operation.responses['200']) continue;
            expect({ where, status, documented: Boolean(operation.responses[status]) }).toEqual({ where, status, documented: true });
          }
          if (['post', 'put', 'patch'].includes(method)) expect({ where, body: Boolean(operation.requestBody) }).toEqual({ where, body: true });
          const errorSchema = (operation.responses['401'] as { content: Record<string, { schema: { $ref: string } }> }).content['application/json']!.schema;
          expect(errorSchema.$ref).toBe('#/components/schemas/ODataErrorBodyDoc');
        }
      }
      const html = await t.http.get('/api/docs').expect(200);
      expect(html.text).toContain('swagger');
    });
  });

  describe('readiness without a database', () => {
    it('answers 503 with the OData error shape once the database is gone', async () => {
      const own = await startTestApp();
      try {
        await own.http.get('/ready').expect(200);
        await cutDatabase(own);
        const response = await own.http.get('/ready').expect(503);
        expect(response.body.error).toMatchObject({ code: 'ServiceUnavailable' });
        expect(response.body.error.details[0]).toMatchObject({ target: 'database' });
        await own.http.get('/health').expect(200); // liveness does not depend on the database
      } finally {
        await own.close().catch(() => undefined);
      }
    });
  });
});

/** Takes the database away from a running app: drops the server database, or stops PGlite. */
async function cutDatabase(app: TestApp): Promise<void> {
  if (app.database.kind === 'server') {
    await app.database.drop();
    return;
  }
  const database = app.app.get(Database) as unknown as { embedded: { pglite: { close(): Promise<void> } } };
  await database.embedded.pglite.close();
}
