import type { Request } from 'express';

/** True when the client asked for the resource in the response (`Prefer: return=representation`). */
export function prefersRepresentation(request: Request): boolean {
  const prefer = request.headers['prefer'];
  const values = Array.isArray(prefer) ? prefer.join(',') : (prefer ?? '');
  return values
    .split(/[,;]/)
    .some((token) => token.trim().toLowerCase().replace(/\s+/g, '') === 'return=representation');
}
