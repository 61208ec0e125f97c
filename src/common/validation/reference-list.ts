import { isUUID } from 'class-validator';
import { AppError, ErrorDetail } from '../errors/app-error.js';
import { RESOURCE_KEY_PATTERN } from './field-rules.js';

/** Most entries one membership call (or a `users`/`groups` list in a body) may carry. */
export const MAX_REFERENCES_PER_CALL = 10_000;

export type ReferenceKind = 'key' | 'id';

/**
 * Validates a body that lists other records by key or by id (`["alice","bob"]`), and returns it
 * deduplicated (keys case-insensitively, as they are unique that way) in first-seen order.
 */
export function parseReferenceList(body: unknown, kind: ReferenceKind, target: string): string[] {
  if (!Array.isArray(body)) {
    throw AppError.validation(`${target} must be a JSON array of ${kind === 'key' ? 'keys' : 'ids'}`, target);
  }
  if (body.length > MAX_REFERENCES_PER_CALL) {
    throw AppError.validation(`${target} may hold at most ${MAX_REFERENCES_PER_CALL} entries; got ${body.length}`, target);
  }
  const details: ErrorDetail[] = [];
  const seen = new Map<string, string>();
  body.forEach((entry, index) => {
    const valid =
      typeof entry === 'string' && (kind === 'key' ? RESOURCE_KEY_PATTERN.test(entry) : isUUID(entry, 'all'));
    if (!valid) {
      details.push({
        code: kind === 'key' ? 'InvalidKey' : 'InvalidId',
        message:
          kind === 'key'
            ? `${target}[${index}] must be a key of 1–64 characters with no '/', whitespace or control characters`
            : `${target}[${index}] must be a UUID`,
        target: `${target}[${index}]`,
      });
      return;
    }
    const normalised = entry.toLowerCase();
    if (!seen.has(normalised)) seen.set(normalised, entry);
  });
  if (details.length > 0) {
    throw AppError.validation(details[0]!.message + (details.length > 1 ? ` (and ${details.length - 1} more)` : ''), details[0]!.target, details);
  }
  return [...seen.values()];
}

/**
 * A member list in a full-resource body (PUT): keys, or the member objects a GET returned (each with
 * its key property), so a client can send back what it read. Returns the keys, validated and deduplicated.
 */
export function parseMemberKeys(body: unknown, keyProperty: string, target: string): string[] {
  const keys = Array.isArray(body)
    ? body.map((entry) =>
        entry !== null && typeof entry === 'object' && !Array.isArray(entry) ? (entry as Record<string, unknown>)[keyProperty] : entry,
      )
    : body;
  return parseReferenceList(keys, 'key', target);
}
