import { InitialSchema1764115200000 } from './1764115200000-initial-schema.js';
import { QueryIndexes1764129600000 } from './1764129600000-query-indexes.js';
import { SearchIndexPerTable1764806400000 } from './1764806400000-search-index-per-table.js';

/** Every migration, oldest first. Listed explicitly (no glob) so the ESM build needs no file loader. */
export const MIGRATIONS = [InitialSchema1764115200000, QueryIndexes1764129600000, SearchIndexPerTable1764806400000];
