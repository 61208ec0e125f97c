import type { Request } from 'express';

/** The preferences of a `Prefer` header (RFC 7240), lower-cased names, e.g. `return=representation`. */
function preferences(request: Request): Map<string, string> {
  const header = request.headers['prefer'];
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  const found = new Map<string, string>();
  // RFC 7240 separates preferences with ',' and their parameters with ';'. No preference here has
  // parameters, and clients often write `wait=10; return=representation`: both count as separators.
  for (const token of text.split(/[,;]/)) {
    const [name, value = ''] = token.split('=');
    const key = (name ?? '').trim().toLowerCase();
    if (key && !found.has(key)) found.set(key, value.trim().replace(/^"(.*)"$/, '$1'));
  }
  return found;
}

/** True when the client asked for the resource in the response (`Prefer: return=representation`). */
export function prefersRepresentation(request: Request): boolean {
  return preferences(request).get('return')?.toLowerCase() === 'representation';
}

/**
 * `Prefer: odata.maxpagesize=N`: the page size the client would like, capped at `max`. A preference
 * that is not a positive integer is ignored (preferences never fail a request).
 */
export function preferredMaxPageSize(request: Request, max: number): number | undefined {
  const value = preferences(request).get('odata.maxpagesize');
  if (!value || !/^\d{1,9}$/.test(value) || Number(value) < 1) return undefined;
  return Math.min(Number(value), max);
}
