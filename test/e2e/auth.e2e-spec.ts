import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';
import { signAsymmetric, signToken } from '../support/tokens.js';

interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  resource: 'groups' | 'users';
  body?: unknown;
}

/** Every scoped route, with a body that would succeed (`{base}` is the scope's base path). */
function everyRoute(): Route[] {
  const g = (method: Route['method'], path: string, body?: unknown): Route => ({ method, path: `/groups${path}`, resource: 'groups', body });
  const u = (method: Route['method'], path: string, body?: unknown): Route => ({ method, path: `/users${path}`, resource: 'users', body });
  return [
    g('get', ''),
    g('get', '/odata'),
    g('get', '/g1'),
    g('get', '/g1/users'),
    g('post', '', { groupKey: 'g-new', name: 'New' }),
    g('post', '/g1/users/add', ['u1']),
    g('post', '/g1/users/remove', ['u1']),
    g('put', '/g1/users', ['u1']),
    g('put', '/g1/name', JSON.stringify('Renamed')),
    g('patch', '/g1', { notes: 'x' }),
    g('put', '/g1', { groupKey: 'g1', name: 'G1', users: [] }),
    g('delete', '/g2'),
    u('get', ''),
    u('get', '/odata'),
    u('get', '/u1'),
    u('get', '/u1/groups'),
    u('post', '', { userKey: 'u-new', name: 'New' }),
    u('post', '/u1/groups/add', ['g1']),
    u('post', '/u1/groups/remove', ['g1']),
    u('put', '/u1/groups', ['g1']),
    u('put', '/u1/email', JSON.stringify('u1@example.com')),
    u('patch', '/u1', { name: 'U' }),
    u('put', '/u1', { userKey: 'u1', name: 'U1', groups: [] }),
    u('delete', '/u2'),
  ];
}

const isRead = (route: Route) => route.method === 'get';

describe('authentication and authorization', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A fresh scope holding g1, g2, u1, u2 (u1 in g1). */
  async function seededScope() {
    const scope = newScope();
    for (const userKey of ['u1', 'u2']) await t.http.post(`${scope.base}/users`).send({ userKey, name: userKey }).expect(201);
    for (const groupKey of ['g1', 'g2']) await t.http.post(`${scope.base}/groups`).send({ groupKey, name: groupKey, users: ['u1'] }).expect(201);
    return scope;
  }

  function call(route: Route, base: string, authorization?: string) {
    let test = t.anonymous[route.method](`${base}${route.path}`);
    if (authorization !== undefined) test = test.set('Authorization', authorization);
    return route.body === undefined ? test : test.type('json').send(typeof route.body === 'string' ? route.body : (route.body as object));
  }

  describe('401 for every route when the token is missing or unusable', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const cases: Array<[string, (tenant: string) => string | undefined, boolean]> = [
      ['no Authorization header', () => undefined, false],
      ['a Basic credential', () => 'Basic dXNlcjpwYXNz', true],
      ['Bearer without a token', () => 'Bearer ', true],
      ['a token that is not a JWT', () => 'Bearer not-a-jwt', true],
      ['a forged signature', (tenant) => `Bearer ${signToken({ tenant }, { secret: 'another-secret-of-at-least-32-characters!!' })}`, true],
      ['alg none', (tenant) => `Bearer ${signToken({ tenant }).split('.').slice(0, 2).join('.').replace(/^[^.]+/, Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url'))}.`, true],
      ['an expired token', (tenant) => `Bearer ${signToken({ tenant, exp: now() - 120 })}`, true],
      ['a token not valid yet', (tenant) => `Bearer ${signToken({ tenant, nbf: now() + 120 })}`, true],
      ['a token without exp', (tenant) => `Bearer ${signToken({ tenant, exp: undefined })}`, true],
      ['a token without sub', (tenant) => `Bearer ${signToken({ tenant, sub: undefined })}`, true],
      ['a token without tenant', () => `Bearer ${signToken({})}`, true],
      ['a token with a malformed orgs claim', (tenant) => `Bearer ${signToken({ tenant, orgs: 'hq' })}`, true],
    ];
    it.each(cases)('%s', async (_name, authorization, withError) => {
      const scope = await seededScope();
      for (const route of everyRoute()) {
        const response = await call(route, scope.base, authorization(scope.tenantKey));
        expect({ route: `${route.method} ${route.path}`, status: response.status }).toEqual({ route: `${route.method} ${route.path}`, status: 401 });
        expect(response.body.error.code).toBe('Unauthorized');
        const challenge = response.headers['www-authenticate'];
        expect(challenge).toMatch(/^Bearer realm="identity"/);
        if (withError) expect(challenge).toContain('error="invalid_token"');
        else expect(challenge).not.toContain('error=');
      }
      // nothing was written by any of those requests
      const groups = await t.http.get(`${scope.base}/groups`).expect(200);
      expect(groups.body.map((group: { groupKey: string; name: string }) => [group.groupKey, group.name])).toEqual([
        ['g1', 'g1'],
        ['g2', 'g2'],
      ]);
    });

    it('accepts exp/nbf within the clock tolerance (30 s)', async () => {
      const scope = await seededScope();
      const token = signToken({ tenant: scope.tenantKey, exp: now() - 10, nbf: now() + 10 });
      await t.anonymous.get(`${scope.base}/groups`).set('Authorization', `Bearer ${token}`).expect(200);
    });
  });

  describe('403 for a valid token that does not cover the request', () => {
    it.each([
      ['another tenant', (s: { tenantKey: string; orgKey: string }) => ({ tenant: `${s.tenantKey}x` })],
      ['the tenant in another letter case', (s: { tenantKey: string }) => ({ tenant: s.tenantKey.toUpperCase() })],
      ['an org list without this org', (s: { tenantKey: string }) => ({ tenant: s.tenantKey, orgs: ['other-org'] })],
      ['an empty org list', (s: { tenantKey: string }) => ({ tenant: s.tenantKey, orgs: [] })],
      ['no scopes', (s: { tenantKey: string }) => ({ tenant: s.tenantKey, scope: '' })],
      ['unrelated scopes only', (s: { tenantKey: string }) => ({ tenant: s.tenantKey, scope: 'openid profile identity.groups.admin' })],
    ])('%s → 403 on every route, nothing written', async (_name, claims) => {
      const scope = await seededScope();
      const token = signToken(claims(scope));
      for (const route of everyRoute()) {
        const response = await call(route, scope.base, `Bearer ${token}`);
        expect({ route: `${route.method} ${route.path}`, status: response.status }).toEqual({ route: `${route.method} ${route.path}`, status: 403 });
        expect(response.body.error.code).toBe('Forbidden');
      }
      expect((await t.http.get(`${scope.base}/groups/g1`).expect(200)).body).toMatchObject({ name: 'g1', notes: null });
    });

    it('read scopes allow reads and forbid writes, per resource, with an insufficient_scope challenge', async () => {
      const scope = await seededScope();
      for (const resource of ['groups', 'users'] as const) {
        const token = signToken({ tenant: scope.tenantKey, orgs: [scope.orgKey], scope: `identity.${resource}.read` });
        for (const route of everyRoute()) {
          const response = await call(route, scope.base, `Bearer ${token}`);
          const allowed = route.resource === resource && isRead(route);
          const label = `${resource}-reader: ${route.method} ${route.path}`;
          expect({ label, allowed: response.status < 400 }).toEqual({ label, allowed });
          if (!allowed) {
            expect(response.status).toBe(403);
            const needed = `identity.${route.resource}.${isRead(route) ? 'read' : 'write'}`;
            expect(response.headers['www-authenticate']).toContain(`error="insufficient_scope", scope="${needed}"`);
          }
        }
      }
    });

    it('a write scope also grants reads of its resource, and `scp` works like `scope`', async () => {
      const scope = await seededScope();
      const token = signToken({ tenant: scope.tenantKey, scope: undefined, scp: ['identity.groups.write'] });
      await t.anonymous.get(`${scope.base}/groups/g1`).set('Authorization', `Bearer ${token}`).expect(200);
      await t.anonymous.put(`${scope.base}/groups/g1/notes`).set('Authorization', `Bearer ${token}`).type('json').send('"ok"').expect(204);
      await t.anonymous.get(`${scope.base}/users/u1`).set('Authorization', `Bearer ${token}`).expect(403);
    });

    it('checks the scope key format (400) before the token covers it (403)', async () => {
      const token = signToken({ tenant: 'acme' });
      await t.anonymous.get('/api/bad%20tenant/hq/identity/groups').set('Authorization', `Bearer ${token}`).expect(400);
      await t.anonymous.get('/api/bad%20tenant/hq/identity/groups').expect(401);
    });
  });

  describe('audit fields', () => {
    it('records the token subject as createdBy and modifiedBy', async () => {
      const scope = newScope();
      const creator = signToken({ tenant: scope.tenantKey, sub: 'alice@idp' });
      const editor = signToken({ tenant: scope.tenantKey, sub: 'bob@idp' });
      await t.anonymous.post(`${scope.base}/groups`).set('Authorization', `Bearer ${creator}`).send({ groupKey: 'g', name: 'G' }).expect(201);
      const created = (await t.http.get(`${scope.base}/groups/g`).expect(200)).body;
      expect(created).toMatchObject({ createdBy: 'alice@idp', modifiedBy: 'alice@idp' });
      await t.anonymous.patch(`${scope.base}/groups/g`).set('Authorization', `Bearer ${editor}`).send({ name: 'H' }).expect(200);
      const edited = (await t.http.get(`${scope.base}/groups/g`).expect(200)).body;
      expect(edited).toMatchObject({ createdBy: 'alice@idp', modifiedBy: 'bob@idp' });
    });
  });

  describe('public routes', () => {
    it.each(['/health', '/ready', '/metrics', '/api/docs-json'])('%s needs no token', async (path) => {
      await t.anonymous.get(path).expect(200);
    });
  });
});

describe('issuer and audience checks (JWT_ISSUER, JWT_AUDIENCE)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ JWT_ISSUER: 'https://idp.example.test/', JWT_AUDIENCE: 'identity-groups' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([
    ['the right issuer and audience', { iss: 'https://idp.example.test/', aud: 'identity-groups' }, 200],
    ['an audience list containing ours', { iss: 'https://idp.example.test/', aud: ['other', 'identity-groups'] }, 200],
    ['no issuer', { aud: 'identity-groups' }, 401],
    ['a wrong issuer', { iss: 'https://evil.example.test/', aud: 'identity-groups' }, 401],
    ['no audience', { iss: 'https://idp.example.test/' }, 401],
    ['a wrong audience', { iss: 'https://idp.example.test/', aud: 'another-api' }, 401],
  ])('%s → %s', async (_name, claims, status) => {
    const scope = newScope();
    const token = signToken({ tenant: scope.tenantKey, ...claims });
    await t.anonymous.get(`${scope.base}/groups`).set('Authorization', `Bearer ${token}`).expect(status);
  });
});

describe('asymmetric keys', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();

  it.each([
    ['RS256', rsa, 'RS256'] as const,
    ['ES256', ec, 'ES256'] as const,
  ])('JWT_PUBLIC_KEY with %s', async (_name, pair, alg) => {
    const t = await startTestApp({ JWT_SECRET: undefined, JWT_PUBLIC_KEY: pem(pair.publicKey) });
    try {
      const scope = newScope();
      const good = signAsymmetric({ tenant: scope.tenantKey }, pair.privateKey, { alg });
      await t.anonymous.get(`${scope.base}/groups`).set('Authorization', `Bearer ${good}`).expect(200);
      const otherPair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const forged = signAsymmetric({ tenant: scope.tenantKey }, otherPair.privateKey, { alg });
      await t.anonymous.get(`${scope.base}/groups`).set('Authorization', `Bearer ${forged}`).expect(401);
      // An HS256 token must not pass as a public-key token (algorithm confusion).
      const hs = signToken({ tenant: scope.tenantKey }, { secret: pem(pair.publicKey) });
      await t.anonymous.get(`${scope.base}/groups`).set('Authorization', `Bearer ${hs}`).expect(401);
    } finally {
      await t.close();
    }
  });

  describe('JWT_JWKS_URL', () => {
    let jwks: Server;
    let url: string;
    let available = true;
    beforeAll(async () => {
      const jwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'key-1', alg: 'RS256', use: 'sig' };
      jwks = createServer((_req, res) => {
        if (!available) {
          res.statusCode = 500;
          res.end();
          return;
        }
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/.well-known/jwks.json`;
    });
    afterAll(async () => {
      await new Promise((resolve) => jwks.close(resolve));
    });

    it('verifies tokens with keys fetched from the issuer, and answers 503 when they cannot be fetched', async () => {
      const t = await startTestApp({ JWT_SECRET: undefined, JWT_JWKS_URL: url });
      try {
        const scope = newScope();
        const good = signAsymmetric({ tenant: scope.tenantKey }, rsa.privateKey, { alg: 'RS256', kid: 'key-1' });
        await t.anonymous.get(`${scope.base}/groups`).set('Authorization', `Bearer ${good}`).expect(200);
        const unknownKid = signAsymmetric({ tenant: scope.tenantKey }, rsa.privateKey, { alg: 'RS256', kid: 'key-2' });
        await t.anonymous.get(`${scope.base}/groups`).set('Authorization', `Bearer ${unknownKid}`).expect(401);
      } finally {
        await t.close();
      }
      available = false;
      const cold = await startTestApp({ JWT_SECRET: undefined, JWT_JWKS_URL: url });
      try {
        const scope = newScope();
        const token = signAsymmetric({ tenant: scope.tenantKey }, rsa.privateKey, { alg: 'RS256', kid: 'key-1' });
        const response = await cold.anonymous.get(`${scope.base}/groups`).set('Authorization', `Bearer ${token}`).expect(503);
        expect(response.body.error.code).toBe('ServiceUnavailable');
      } finally {
        await cold.close();
        available = true;
      }
    });
  });
});
