import { createHash } from 'node:crypto';
import type { Request } from 'express';

/**
 * Entity tags. A resource's ETag is a hash of its JSON representation: the inline member list is
 * part of a group's representation, and it changes when a member is renamed or joins from the user
 * side, without the group's own row changing. Hashing what is sent keeps the tag strong (RFC 9110
 * §8.8.1: same tag ⇔ same bytes) for every way the representation can change.
 */
export function etagOf(representation: unknown): string {
  return etagOfJson(JSON.stringify(representation));
}

/** The ETag of a representation already serialized (the exact bytes sent). */
export function etagOfJson(json: string): string {
  const digest = createHash('sha256').update(json).digest('base64url');
  return `"${digest.slice(0, 27)}"`;
}

/** The entity tags of an `If-Match` / `If-None-Match` header; `*` as the single entry `*`. */
export function parseEntityTags(header: string | undefined): string[] | undefined {
  if (header === undefined) return undefined;
  if (header.trim() === '*') return ['*'];
  return header.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

/** `If-Match` (strong comparison): does the current tag satisfy the precondition? */
export function ifMatchSatisfied(header: string | undefined, current: string): boolean {
  const tags = parseEntityTags(header);
  if (tags === undefined) return true;
  return tags.includes('*') || tags.includes(current); // a weak tag (W/"…") never matches strongly
}

/** `If-None-Match` (weak comparison): does the client already have the current representation? */
export function ifNoneMatchHit(request: Request, current: string): boolean {
  const tags = parseEntityTags(request.headers['if-none-match']);
  if (tags === undefined) return false;
  return tags.includes('*') || tags.some((tag) => tag.replace(/^W\//, '') === current);
}
