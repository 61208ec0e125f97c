import { SetMetadata } from '@nestjs/common';
import type { ScopedResource } from './access-token.js';

export const PUBLIC_ROUTE = 'auth:public';
export const SCOPED_RESOURCE = 'auth:resource';

/** A route anyone may call without a token (probes, metrics). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * The resource a controller's routes act on. GET/HEAD need `<resource>.read` (or `.write`); every
 * other method needs `<resource>.write`.
 */
export const ActsOn = (resource: ScopedResource) => SetMetadata(SCOPED_RESOURCE, resource);
