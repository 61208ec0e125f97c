/**
 * The benchmark's baseline: the smallest server that answers W1–W3 like the service does (same
 * routes, same bearer-token check, roughly the same JSON), written by hand with `node:http` and `pg`:
 * one prepared statement per request, no framework. The ratio service/baseline says what the
 * service's layers cost on top of the database work.
 *
 *   GET /ready
 *   GET /api/{tenant}/{org}/identity/groups/{groupKey}                                          (W1)
 *   GET …/groups/odata?$filter=contains(name,'x')&$orderby=name&$top=N&$count=true               (W2)
 *   GET …/groups/odata?$filter=groupKey eq 'k'&$expand=users                                     (W3)
 *
 * W2/W3 use index-friendly predicates with the service's semantics (case-sensitive `contains`/`eq`):
 * `lower(col) LIKE lower(p) AND col LIKE p`, `lower(key) = lower(k) AND key = k`. With the extra query
 * option `_sql=service` they use exactly the predicates the service generates (`col LIKE p AND
 * lower(col) LIKE lower(p)`, `key COLLATE "C" = k`), which separates "the SQL the service generates"
 * from "the service's own overhead".
 *
 * Environment: PORT, DATABASE_URL, JWT_SECRET, DB_POOL_SIZE (default 10).
 * Run: node --import tsx bench/baseline-server.ts
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import pg from 'pg';

const port = Number(process.env['PORT'] ?? 3001);
const secret = process.env['JWT_SECRET'];
if (!secret) throw new Error('JWT_SECRET is required');
const pool = new pg.Pool({ connectionString: process.env['DATABASE_URL'], max: Number(process.env['DB_POOL_SIZE'] ?? 10) });

const GROUP_COLUMNS = `g.id, g.group_key AS "groupKey", g.name, g.email, g.notes, g.is_active AS "isActive",
  g.created_on AS "createdOn", g.modified_on AS "modifiedOn", g.created_by AS "createdBy", g.modified_by AS "modifiedBy"`;

/** W1: the group, its first 1,000 users (key order, case-insensitive) and their number, in one statement. */
const GROUP_BY_KEY = {
  name: 'group_by_key',
  text: `SELECT ${GROUP_COLUMNS},
      (SELECT count(*) FROM memberships m WHERE m.tenant_key = $1 AND m.org_key = $2 AND m.group_id = g.id)::int AS "usersCount",
      COALESCE((SELECT json_agg(x) FROM (
        SELECT u.id, u.user_key AS "userKey", u.name, u.email, u.is_active AS "isActive"
          FROM memberships m JOIN users u ON u.tenant_key = m.tenant_key AND u.org_key = m.org_key AND u.id = m.user_id
         WHERE m.tenant_key = $1 AND m.org_key = $2 AND m.group_id = g.id
         ORDER BY lower(u.user_key), u.id LIMIT 1000) x), '[]'::json) AS users
    FROM groups g WHERE g.tenant_key = $1 AND g.org_key = $2 AND lower(g.group_key) = lower($3)`,
};

/** W2: one page by name and the total, one scan (window count). */
function searchByName(plain: boolean) {
  const predicate = plain ? 'g.name LIKE $3 AND lower(g.name) LIKE lower($3)' : 'lower(g.name) LIKE lower($3) AND g.name LIKE $3';
  return {
    name: plain ? 'search_name_plain' : 'search_name',
    text: `SELECT ${GROUP_COLUMNS}, count(*) OVER () AS total
      FROM groups g WHERE g.tenant_key = $1 AND g.org_key = $2 AND ${predicate}
     ORDER BY g.name COLLATE "C", g.id LIMIT $4`,
  };
}

/** W3: the group(s) with that exact key, each with its first 100 users (all properties). */
function groupWithUsers(plain: boolean) {
  const predicate = plain ? 'g.group_key COLLATE "C" = $3' : 'lower(g.group_key) = lower($3) AND g.group_key = $3';
  return {
    name: plain ? 'group_users_plain' : 'group_users',
    text: `SELECT ${GROUP_COLUMNS},
      COALESCE((SELECT json_agg(x) FROM (
        SELECT u.id, u.user_key AS "userKey", u.name, u.email, u.is_active AS "isActive", u.created_on AS "createdOn",
               u.modified_on AS "modifiedOn", u.created_by AS "createdBy", u.modified_by AS "modifiedBy"
          FROM memberships m JOIN users u ON u.tenant_key = m.tenant_key AND u.org_key = m.org_key AND u.id = m.user_id
         WHERE m.tenant_key = g.tenant_key AND m.org_key = g.org_key AND m.group_id = g.id
         ORDER BY u.user_key COLLATE "C", u.id LIMIT 100) x), '[]'::json) AS users
      FROM groups g WHERE g.tenant_key = $1 AND g.org_key = $2 AND ${predicate}
     ORDER BY g.group_key COLLATE "C", g.id LIMIT 101`,
  };
}

const ROUTE = /^\/api\/([A-Za-z0-9_-]{1,64})\/([A-Za-z0-9_-]{1,64})\/identity\/groups\/([^/]+)$/;
const CONTAINS_NAME = /^contains\(name,'((?:[^']|'')*)'\)$/;
const KEY_EQUALS = /^groupKey eq '((?:[^']|'')*)'$/;

const server = createServer((request, response) => {
  handle(request, response).catch((error: unknown) => {
    console.error(error);
    send(response, 500, { error: { code: 'InternalError', message: 'internal error' } });
  });
});

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (request.method === 'GET' && url.pathname === '/ready') {
    await pool.query('SELECT 1');
    return send(response, 200, { status: 'ok' });
  }
  const route = ROUTE.exec(url.pathname);
  if (request.method !== 'GET' || !route) return send(response, 404, { error: { code: 'NotFound', message: 'no such route' } });
  const [, tenant, org, last] = route as unknown as [string, string, string, string];
  const denied = authorize(request.headers.authorization, tenant, org);
  if (denied) return send(response, denied, { error: { code: denied === 401 ? 'Unauthorized' : 'Forbidden', message: 'token refused' } });

  const context = `/api/${tenant}/${org}/identity/$metadata#Groups`;
  if (last !== 'odata') {
    const { rows } = await pool.query({ ...GROUP_BY_KEY, values: [tenant, org, decodeURIComponent(last)] });
    if (!rows[0]) return send(response, 404, { error: { code: 'NotFound', message: 'Group not found' } });
    const group = rows[0] as Record<string, unknown> & { id: string; usersCount: number; users: unknown[] };
    if (group.usersCount > group.users.length) {
      group['users@odata.nextLink'] = `/api/${tenant}/${org}/identity/groups/${group.id}/users?$skip=${group.users.length}`;
    }
    return send(response, 200, group);
  }

  const plain = url.searchParams.get('_sql') === 'service';
  const filter = url.searchParams.get('$filter') ?? '';
  const contains = CONTAINS_NAME.exec(filter);
  if (contains) {
    const orderby = url.searchParams.get('$orderby') ?? 'name';
    const top = Number(url.searchParams.get('$top') ?? 100);
    if (orderby !== 'name' || !Number.isInteger(top) || top < 0 || top > 1000) return badRequest(response);
    const pattern = `%${unquote(contains[1]!).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const { rows } = await pool.query({ ...searchByName(plain), values: [tenant, org, pattern, top] });
    const total = rows.length > 0 ? Number(rows[0].total) : 0;
    const value = rows.map(({ total: _total, ...row }) => row);
    const count = url.searchParams.get('$count') === 'true';
    return send(response, 200, { '@odata.context': context, ...(count ? { '@odata.count': total } : {}), value });
  }
  const key = KEY_EQUALS.exec(filter);
  if (key && url.searchParams.get('$expand') === 'users') {
    const { rows } = await pool.query({ ...groupWithUsers(plain), values: [tenant, org, unquote(key[1]!)] });
    return send(response, 200, { '@odata.context': context, value: rows });
  }
  return badRequest(response);
}

/** 401 for a bad token, 403 for one that does not cover the scope, undefined when allowed. */
function authorize(header: string | undefined, tenant: string, org: string): 401 | 403 | undefined {
  const match = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!match) return 401;
  const [, head, body, signature] = match as unknown as [string, string, string, string];
  const expected = createHmac('sha256', secret!).update(`${head}.${body}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 401;
  let claims: { alg?: string; exp?: number; tenant?: string; orgs?: string[]; scope?: string };
  try {
    if (JSON.parse(Buffer.from(head, 'base64url').toString()).alg !== 'HS256') return 401;
    claims = JSON.parse(Buffer.from(body, 'base64url').toString());
  } catch {
    return 401;
  }
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return 401;
  if (claims.tenant !== tenant || (claims.orgs && !claims.orgs.includes(org))) return 403;
  const scopes = (claims.scope ?? '').split(' ');
  return scopes.includes('identity.groups.read') || scopes.includes('identity.groups.write') ? undefined : 403;
}

function unquote(text: string): string {
  return text.replace(/''/g, "'");
}

function badRequest(response: ServerResponse): void {
  send(response, 400, { error: { code: 'UnsupportedQuery', message: 'the baseline answers only the bench queries' } });
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log(`baseline listening on ${port}`));
const stop = () => {
  server.close();
  server.closeAllConnections();
  pool.end().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
