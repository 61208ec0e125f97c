/** The (tenantKey, orgKey) pair every record belongs to, taken from the URL and validated. */
export interface Scope {
  readonly tenantKey: string;
  readonly orgKey: string;
}

/** `tenantKey` and `orgKey`: 1–64 characters of `[A-Za-z0-9_-]` (SPEC §1). */
export const SCOPE_KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** `/api/{tenantKey}/{orgKey}/identity`: the base every link the service returns is built on. */
export function scopeBasePath(scope: Scope): string {
  return `/api/${scope.tenantKey}/${scope.orgKey}/identity`;
}
