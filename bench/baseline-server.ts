/**
 * The benchmark's baseline: the reference of what is possible for each workload's exact response —
 * the SQL a PostgreSQL expert would write for it (bench/baseline-sql.ts), on a schema and indexes
 * designed for it (schema `ref`, bench/reference-schema.ts), behind the smallest HTTP server
 * (`node:http` + `pg`, no framework). It is written from the product contract, not from the
 * service's SQL, and owns its tables, so changes to the service never move it.
 *
 * Same response bodies as the service for the bench's requests; no auth check (the bench sends
 * tokens, the baseline only reads the subject for createdBy/modifiedBy); one named prepared
 * statement per request; pool size DB_POOL_SIZE (default 10, the service's default).
 *
 *   GET  /ready
 *   GET  /api/{t}/{o}/identity/groups/{groupKey}                                     W1
 *   GET  …/groups/odata?$filter=contains(name,'x')&$orderby=name&$top=N[&$count=true]  W2
 *   GET  …/groups/odata?$filter=groupKey eq 'k'&$expand=users                          W3
 *   GET  …/groups/odata?$orderby=groupKey[&$top=N][&$skip=N|&$skiptoken=…]            W4 (Prefer: odata.maxpagesize)
 *   POST …/groups  {groupKey, name, email?, notes?, isActive?}                         W5
 *   POST …/groups/{groupKey}/users/add  ["userKey", …]                                 W6, W8
 *   GET  …/users/{userKey}/groups                                                      W7
 * Anything else: 400 (`UnsupportedQuery`) or 404. Keys only in paths: a uuid-shaped segment, which
 * the contract resolves as an id first, is answered 400 (the bench's keys are never uuid-shaped).
 *
 * Environment: PORT, DATABASE_URL, DB_POOL_SIZE. Run: node --import tsx bench/baseline-server.ts
 */
import { createHash } from 'node:crypto';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import pg from 'pg';
import {
  ADD_MEMBERS_BY_KEY,
  EXPAND_PAGE,
  GROUP_BY_KEY,
  GROUP_KEY_EQ_EXPAND,
  GROUPS_BY_KEY_AFTER,
  GROUPS_BY_KEY_FIRST,
  GROUPS_BY_KEY_OFFSET,
  INLINE_MEMBERS,
  INSERT_GROUP,
  SEARCH_NAME,
  SEARCH_NAME_COUNT,
  Statement,
  USER_GROUPS,
} from './baseline-sql.js';

const port = Number(process.env['PORT'] ?? 3001);
const pool = new pg.Pool({ connectionString: process.env['DATABASE_URL'], max: Number(process.env['DB_POOL_SIZE'] ?? 10) });

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const MAX_KEYS = 10_000;
const MAX_BODY = 1024 * 1024;
const ROUTE = /^\/api\/([A-Za-z0-9_-]{1,64})\/([A-Za-z0-9_-]{1,64})\/identity\/(groups|users)(?:\/([^/]+)(?:\/(users\/add|groups))?)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONTAINS_NAME = /^contains\(name,'((?:[^']|'')*)'\)$/;
const KEY_EQUALS = /^groupKey eq '((?:[^']|'')*)'$/;
const KEY_RULE = /^[^\s/]{1,64}$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
  }
}

const query = <Row extends pg.QueryResultRow>(statement: Statement, values: unknown[]) => pool.query<Row>({ name: statement.name, text: statement.text, values });

const server = createServer((request, response) => {
  handle(request, response).catch((error: unknown) => {
    if (error instanceof HttpError) {
      return send(response, error.status, JSON.stringify({ error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } }));
    }
    console.error(error);
    send(response, 500, JSON.stringify({ error: { code: 'InternalError', message: 'internal error' } }));
  });
});

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const raw = request.url ?? '/';
  const mark = raw.indexOf('?');
  const pathname = mark < 0 ? raw : raw.slice(0, mark);
  const params = new URLSearchParams(mark < 0 ? '' : raw.slice(mark + 1));
  if (request.method === 'GET' && pathname === '/ready') {
    await pool.query('SELECT 1');
    return send(response, 200, '{"status":"ok"}');
  }
  const route = ROUTE.exec(pathname);
  if (!route) throw new HttpError(404, 'NotFound', 'no such route');
  const [, tenant, org, collection, segment, sub] = route as unknown as [string, string, string, 'groups' | 'users', string | undefined, string | undefined];
  const base = `/api/${tenant}/${org}/identity`;
  const key = segment === undefined ? undefined : decodeURIComponent(segment);
  if (key !== undefined && key !== 'odata' && UUID.test(key)) throw new HttpError(400, 'UnsupportedQuery', 'the baseline resolves keys only');

  if (collection === 'groups' && request.method === 'GET' && key === 'odata' && !sub) return groupsOData(response, base, tenant, org, params, [request.headers['prefer']].flat().join(','));
  if (collection === 'groups' && request.method === 'GET' && key !== undefined && !sub) return groupByKey(response, base, tenant, org, key);
  if (collection === 'groups' && request.method === 'POST' && key === undefined) return createGroup(request, response, base, tenant, org);
  if (collection === 'groups' && request.method === 'POST' && key !== undefined && sub === 'users/add') return addMembers(request, response, tenant, org, key);
  if (collection === 'users' && request.method === 'GET' && key !== undefined && sub === 'groups') return userGroups(response, base, tenant, org, key, params);
  throw new HttpError(404, 'NotFound', 'no such route');
}

/** W1: the group with its first 1,000 members inline, their count, and a link to the rest. */
async function groupByKey(response: ServerResponse, base: string, tenant: string, org: string, key: string): Promise<void> {
  const { rows } = await query<{ body: string; count: number; list: string | null }>(GROUP_BY_KEY, [tenant, org, key]);
  const row = rows[0];
  if (!row) throw new HttpError(404, 'NotFound', `Group '${key}' was not found`);
  let body = `${row.body.slice(0, -1)},"usersCount":${row.count},"users":[${row.list ?? ''}]`;
  if (row.count > INLINE_MEMBERS && row.list) {
    // The last member shown is the last object of the list: its key and id make the keyset token.
    const last = JSON.parse(row.list.slice(row.list.lastIndexOf('{"id":"'))) as { id: string; userKey: string };
    const id = (JSON.parse(row.body) as { id: string }).id;
    body += `,"users@odata.nextLink":${JSON.stringify(`${base}/groups/${id}/users?$select=id,userKey,name,email,isActive&$skiptoken=${skipToken(last.userKey, last.id)}`)}`;
  }
  body += '}';
  send(response, 200, body, { ETag: etagOf(body) });
}

/** W2, W3, W4: the OData queries the bench sends, and nothing else. */
async function groupsOData(response: ServerResponse, base: string, tenant: string, org: string, params: URLSearchParams, prefer: string | undefined): Promise<void> {
  const context = `"@odata.context":${JSON.stringify(`${base}/$metadata#Groups`)}`;
  const filter = params.get('$filter');
  const orderby = params.get('$orderby');
  const top = optionalInt(params.get('$top'), 0, MAX_PAGE);
  const pageSize = pageSizeOf(prefer);

  const contains = filter ? CONTAINS_NAME.exec(filter) : null;
  if (contains && orderby === 'name' && top !== undefined && top <= pageSize && onlyOptions(params, ['$filter', '$orderby', '$top', '$count'])) {
    // With $top ≤ the page size there is never a next link.
    const pattern = `%${unquote(contains[1]!).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    if (params.get('$count') === 'true') {
      const { rows } = await query<{ count: number; list: string | null }>(SEARCH_NAME_COUNT, [tenant, org, pattern, top]);
      return send(response, 200, `{${context},"@odata.count":${rows[0]!.count},"value":[${rows[0]!.list ?? ''}]}`);
    }
    const { rows } = await query<{ list: string | null }>(SEARCH_NAME, [tenant, org, pattern, top]);
    return send(response, 200, `{${context},"value":[${rows[0]?.list ?? ''}]}`);
  }

  const equals = filter ? KEY_EQUALS.exec(filter) : null;
  if (equals && params.get('$expand') === 'users' && onlyOptions(params, ['$filter', '$expand'])) {
    const { rows } = await query<{ body: string; list: string | null }>(GROUP_KEY_EQ_EXPAND, [tenant, org, unquote(equals[1]!)]);
    const value = rows.map((row) => `${row.body.slice(0, -1)},"users":[${row.list ?? ''}]}`);
    return send(response, 200, `{${context},"value":[${value.join(',')}]}`);
  }

  if (!filter && orderby === 'groupKey' && onlyOptions(params, ['$orderby', '$top', '$skip', '$skiptoken'])) {
    const skip = optionalInt(params.get('$skip'), 0, Number.MAX_SAFE_INTEGER);
    const token = params.get('$skiptoken');
    if (skip !== undefined && token !== null) throw new HttpError(400, 'UnsupportedQuery', '$skip with $skiptoken');
    const size = Math.min(top ?? pageSize, pageSize);
    // One row more than the page when a next page could exist (no $top, or $top beyond this page).
    const limit = top === undefined || top > size ? size + 1 : size;
    let rows: Array<{ body: string; key: string; id: string }>;
    if (token !== null) {
      const [afterKey, afterId] = parseSkipToken(token);
      rows = (await query<{ body: string; key: string; id: string }>(GROUPS_BY_KEY_AFTER, [tenant, org, afterKey, afterId, limit])).rows;
    } else if (skip !== undefined) {
      rows = (await query<{ body: string; key: string; id: string }>(GROUPS_BY_KEY_OFFSET, [tenant, org, skip, limit])).rows;
    } else {
      rows = (await query<{ body: string; key: string; id: string }>(GROUPS_BY_KEY_FIRST, [tenant, org, limit])).rows;
    }
    const page = rows.slice(0, size);
    let body = `{${context},"value":[${page.map((row) => row.body).join(',')}]`;
    if (rows.length > size) {
      const last = page[page.length - 1]!;
      const rest = top === undefined ? '' : `&$top=${top - size}`;
      body += `,"@odata.nextLink":${JSON.stringify(`${base}/groups/odata?$orderby=groupKey${rest}&$skiptoken=${skipToken(last.key, last.id)}`)}`;
    }
    return send(response, 200, `${body}}`);
  }
  throw new HttpError(400, 'UnsupportedQuery', 'the baseline answers only the bench queries');
}

/** W5: 201, Location, the new id as a JSON string. */
async function createGroup(request: IncomingMessage, response: ServerResponse, base: string, tenant: string, org: string): Promise<void> {
  const input = await readJson(request);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new HttpError(400, 'ValidationFailed', 'the body must be a JSON object');
  const { groupKey, name, email = null, notes = null, isActive = true, users } = input as Record<string, unknown>;
  if (typeof groupKey !== 'string' || !KEY_RULE.test(groupKey)) throw new HttpError(400, 'ValidationFailed', 'groupKey: 1–64 characters, no "/" or whitespace');
  if (typeof name !== 'string' || name.length < 1 || name.length > 200) throw new HttpError(400, 'ValidationFailed', 'name: 1–200 characters');
  if (email !== null && (typeof email !== 'string' || email.length > 254 || !/^[^\s@]+@[^\s@]+$/.test(email))) throw new HttpError(400, 'ValidationFailed', 'email: an address');
  if (notes !== null && (typeof notes !== 'string' || notes.length > 4000)) throw new HttpError(400, 'ValidationFailed', 'notes: at most 4,000 characters');
  if (typeof isActive !== 'boolean') throw new HttpError(400, 'ValidationFailed', 'isActive: a boolean');
  if (users !== undefined && !(Array.isArray(users) && users.length === 0)) throw new HttpError(400, 'UnsupportedQuery', 'the baseline creates groups without members');
  const actor = actorOf(request);
  const { rows } = await query<{ id: string; body: string }>(INSERT_GROUP, [tenant, org, groupKey, name, email, notes, isActive, actor]);
  const row = rows[0];
  if (!row) throw new HttpError(409, 'Conflict', `groupKey '${groupKey}' is already taken in this scope`);
  const representation = `${row.body.slice(0, -1)},"usersCount":0,"users":[]}`;
  send(response, 201, JSON.stringify(row.id), { Location: `${base}/groups/${row.id}`, ETag: etagOf(representation) });
}

/** W6, W8: {"added": n, "unchanged": m}; unknown keys → 400 listing them, nothing changed. */
async function addMembers(request: IncomingMessage, response: ServerResponse, tenant: string, org: string, groupKey: string): Promise<void> {
  const keys = await readJson(request);
  if (!Array.isArray(keys) || keys.length > MAX_KEYS || !keys.every((key): key is string => typeof key === 'string' && KEY_RULE.test(key))) {
    throw new HttpError(400, 'ValidationFailed', `the body must be an array of at most ${MAX_KEYS} userKeys`);
  }
  const { rows } = await query<{ group_id: string | null; added: number; resolved: number; unknown: string[] | null }>(ADD_MEMBERS_BY_KEY, [
    tenant,
    org,
    groupKey,
    keys,
    actorOf(request),
  ]);
  const row = rows[0]!;
  if (row.group_id === null) throw new HttpError(404, 'NotFound', `Group '${groupKey}' was not found`);
  if (row.unknown) {
    throw new HttpError(
      400,
      'UnknownReferences',
      `Unknown user userKeys: ${row.unknown.slice(0, 20).join(', ')}${row.unknown.length > 20 ? ', …' : ''}`,
      row.unknown.map((key) => ({ code: 'UnknownReference', message: `No user userKey '${key}' in this scope`, target: key })),
    );
  }
  send(response, 200, `{"added":${row.added},"unchanged":${row.resolved - row.added}}`);
}

/** W7: the user's groups as an OData collection, groupKey order, pages of 100. */
async function userGroups(response: ServerResponse, base: string, tenant: string, org: string, key: string, params: URLSearchParams): Promise<void> {
  if ([...params.keys()].length > 0) throw new HttpError(400, 'UnsupportedQuery', 'the baseline answers only the bench queries');
  const { rows } = await query<{ user_id: string; body: string | null; key: string; id: string }>(USER_GROUPS, [tenant, org, key, DEFAULT_PAGE + 1]);
  if (rows.length === 0) throw new HttpError(404, 'NotFound', `User '${key}' was not found`);
  const page = rows.slice(0, DEFAULT_PAGE).filter((row) => row.body !== null);
  let body = `{"@odata.context":${JSON.stringify(`${base}/$metadata#Groups`)},"value":[${page.map((row) => row.body).join(',')}]`;
  if (rows.length > DEFAULT_PAGE) {
    const last = page[page.length - 1]!;
    body += `,"@odata.nextLink":${JSON.stringify(`${base}/users/${rows[0]!.user_id}/groups?$skiptoken=${skipToken(last.key, last.id)}`)}`;
  }
  send(response, 200, `${body}}`);
}

/** The baseline's own keyset token (the service's is opaque to it): base64url of [key, id]. */
function skipToken(key: string, id: string): string {
  return Buffer.from(JSON.stringify([key, id])).toString('base64url');
}

function parseSkipToken(token: string): [string, string] {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString()) as unknown;
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string' && UUID.test(parsed[1])) {
      return [parsed[0], parsed[1]];
    }
  } catch {
    // fall through
  }
  throw new HttpError(400, 'InvalidSkipToken', 'malformed $skiptoken');
}

function pageSizeOf(prefer: string | undefined): number {
  const match = prefer ? /odata\.maxpagesize=(\d+)/.exec(prefer) : null;
  return match ? Math.min(MAX_PAGE, Math.max(1, Number(match[1]))) : DEFAULT_PAGE;
}

function optionalInt(text: string | null, min: number, max: number): number | undefined {
  if (text === null) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new HttpError(400, 'UnsupportedQuery', `not an integer in ${min}–${max}: ${text}`);
  return value;
}

function onlyOptions(params: URLSearchParams, allowed: readonly string[]): boolean {
  for (const name of params.keys()) if (!allowed.includes(name)) return false;
  return true;
}

function unquote(text: string): string {
  return text.replace(/''/g, "'");
}

/** The token's subject, for createdBy/modifiedBy; the baseline does not verify tokens. */
function actorOf(request: IncomingMessage): string | null {
  const payload = request.headers.authorization?.split('.')[1];
  if (!payload) return null;
  try {
    const sub = (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : null;
  } catch {
    return null;
  }
}

/** Strong ETag: a hash of the representation sent (as the contract needs it to change with members). */
function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

function readJson(request: IncomingMessage): Promise<unknown> {
  if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
    return Promise.reject(new HttpError(415, 'UnsupportedMediaType', 'send application/json'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'PayloadTooLarge', 'body too large'));
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on('error', reject);
    request.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new HttpError(400, 'InvalidJson', 'the body is not JSON'));
      }
    });
  });
}

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  response.end(body);
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
