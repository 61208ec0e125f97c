import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A client's X-Request-Id is kept when it is a sane token; otherwise the service makes one. */
const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The id of a request (from `X-Request-Id`, or new), echoed in the response's `X-Request-Id`. */
export function requestIdFor(request: IncomingMessage, response: ServerResponse): string {
  const incoming = request.headers['x-request-id'];
  const id = typeof incoming === 'string' && ACCEPTABLE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  response.setHeader('X-Request-Id', id);
  return id;
}

/**
 * The route template that served a request (`/api/:tenantKey/:orgKey/identity/groups/:idOrKey`), for
 * logs and metric labels: a bounded set of values, unlike raw URLs. Known once routing has happened.
 */
export function routeTemplateOf(request: IncomingMessage): string {
  const route = (request as IncomingMessage & { route?: { path?: unknown } }).route;
  // A wildcard path is the catch-all that Nest's middleware is mounted on, not a route of ours.
  return typeof route?.path === 'string' && !route.path.includes('*') ? route.path : 'unmatched';
}

/** tenantKey and orgKey from a scoped URL, for logs (validated or not: logs show what was asked). */
export function scopeOfUrl(url: string | undefined): { tenant?: string; org?: string } {
  const match = /^\/api\/([^/?]{1,64})\/([^/?]{1,64})\/identity(?:[/?]|$)/.exec(url ?? '');
  return match ? { tenant: match[1], org: match[2] } : {};
}
