import { InitialSchema1764115200000 } from './1764115200000-initial-schema.js';

/** Every migration, oldest first. Listed explicitly (no glob) so the ESM build needs no file loader. */
export const MIGRATIONS = [InitialSchema1764115200000];
