import type { Request, Response } from 'express';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { etagOf, etagOfJson, ifNoneMatchHit } from '../common/http/etag.js';
import { preferredMaxPageSize, prefersRepresentation } from '../common/http/prefer.js';
import { MAX_TOP } from '../odata/parse-query.js';
import type { ReferenceKind } from '../common/validation/reference-list.js';
import type { Resource } from './resource.service.js';

/*
 * HTTP details shared by the groups and users controllers, so each controller stays a list of routes.
 */

/** Sets the resource's strong `ETag` and returns it as the body. */
export function withEtag(response: Response, resource: Resource): Resource {
  response.setHeader('ETag', etagOf(resource));
  return resource;
}

/**
 * A single-resource GET: `ETag`, and 304 without a body when `If-None-Match` already has it. The
 * body is returned as JSON text, serialized once (or as PostgreSQL wrote it): the tag is the hash of
 * these very bytes (a group's representation carries up to 1,000 members; serializing it twice was
 * measurable).
 */
export function conditionalGet(request: Request, response: Response, resource: Resource | string): string | undefined {
  const json = typeof resource === 'string' ? resource : JSON.stringify(resource);
  const tag = etagOfJson(json);
  response.setHeader('ETag', tag);
  if (ifNoneMatchHit(request, tag)) {
    response.status(304);
    return undefined;
  }
  response.setHeader('Content-Type', 'application/json; charset=utf-8');
  return json;
}

/** The raw `If-Match` header, checked by the service under the row lock. */
export function ifMatchOf(request: Request): string | undefined {
  return request.headers['if-match'];
}

/** 201 with `Location` and `ETag`; the body is the new id as a JSON string, or the resource when preferred. */
export function createdResponse(request: Request, response: Response, resource: Resource, location: string): string | Resource {
  response.status(201).setHeader('Location', location);
  response.setHeader('ETag', etagOf(resource));
  return representationOr(request, response, resource, () => {
    response.type('application/json');
    return JSON.stringify(resource.id);
  });
}

/** A setter answers 204 (with the new `ETag`), or 200 with the resource when the client prefers it. */
export function setterResponse(request: Request, response: Response, resource: Resource): Resource | undefined {
  response.setHeader('ETag', etagOf(resource));
  return representationOr(request, response, resource, () => {
    response.status(204);
    return undefined;
  });
}

function representationOr<T>(request: Request, response: Response, resource: Resource, otherwise: () => T): T | Resource {
  if (!prefersRepresentation(request)) return otherwise();
  response.setHeader('Preference-Applied', 'return=representation');
  return resource;
}

/** Honours `Prefer: odata.maxpagesize` (≤ 1,000) and says so in `Preference-Applied`. */
export function applyMaxPageSize(request: Request, response: Response): number | undefined {
  const maxPageSize = preferredMaxPageSize(request, MAX_TOP);
  if (maxPageSize !== undefined) response.setHeader('Preference-Applied', `odata.maxpagesize=${maxPageSize}`);
  return maxPageSize;
}

/** `Link: <…?page=N+1&pageSize=S>; rel="next"` for the plain list routes. */
export function setNextPageLink(request: Request, response: Response, page: number, pageSize: number): void {
  response.setHeader('Link', `<${request.baseUrl}${request.path}?page=${page + 1}&pageSize=${pageSize}>; rel="next"`);
}

const MEMBERSHIP_ACTIONS: Record<string, { change: 'add' | 'remove'; kind: ReferenceKind }> = {
  add: { change: 'add', kind: 'key' },
  addById: { change: 'add', kind: 'id' },
  remove: { change: 'remove', kind: 'key' },
  removeById: { change: 'remove', kind: 'id' },
};

/** `add | addById | remove | removeById` from the path; anything else is not a route. */
export function parseMembershipAction(request: Request, action: string): { change: 'add' | 'remove'; kind: ReferenceKind } {
  const parsed = Object.hasOwn(MEMBERSHIP_ACTIONS, action) ? MEMBERSHIP_ACTIONS[action] : undefined;
  if (!parsed) throw new AppError(ErrorCode.RouteNotFound, `No route matches ${request.method} ${request.path}`);
  return parsed;
}

/** The property a setter route names, when the resource has such a setter. */
export function parseSetterProperty<P extends string>(request: Request, property: string, settable: readonly P[]): P {
  if (!(settable as readonly string[]).includes(property)) {
    throw new AppError(ErrorCode.RouteNotFound, `No route matches ${request.method} ${request.path}`);
  }
  return property as P;
}

/** Whether the request carried a body at all (a JSON `null` body counts). */
export function bodyOf(request: Request): { present: boolean; value: unknown } {
  return { present: request.body !== undefined, value: request.body };
}
