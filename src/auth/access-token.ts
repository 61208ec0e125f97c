/** The OAuth scopes this service understands (SPEC §5). */
export const IDENTITY_SCOPES = [
  'identity.groups.read',
  'identity.groups.write',
  'identity.users.read',
  'identity.users.write',
] as const;

/** What a verified bearer token lets its holder do. */
export interface AccessToken {
  /** `sub`: who acts; recorded as createdBy/modifiedBy. */
  readonly subject: string;
  /** `tenant`: the one tenantKey the token may act in. */
  readonly tenant: string;
  /** `orgs`: the orgKeys it may act in; undefined = every org of the tenant. */
  readonly orgs?: readonly string[];
  /** From `scope` (space-separated) or `scp` (string or array). */
  readonly scopes: ReadonlySet<string>;
}

/**
 * The resource a route acts on, e.g. `identity.groups`; reads need `.read` or `.write`, writes
 * `.write`. `identity` (the service's metadata) is readable with any of the identity scopes.
 */
export type ScopedResource = 'identity.groups' | 'identity.users' | 'identity';

/** The scope that is missing for `access` on `resource`, or undefined when granted. */
export function missingScope(token: AccessToken, resource: ScopedResource, access: 'read' | 'write'): string | undefined {
  if (resource === 'identity') {
    return IDENTITY_SCOPES.some((scope) => token.scopes.has(scope)) ? undefined : 'identity.groups.read';
  }
  const write = `${resource}.write`;
  if (token.scopes.has(write)) return undefined;
  if (access === 'read' && token.scopes.has(`${resource}.read`)) return undefined;
  return access === 'read' ? `${resource}.read` : write;
}
