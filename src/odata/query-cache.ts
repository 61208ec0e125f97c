import type { ResourceModel } from '../resources/resource-model.js';
import { CompileCollectionOptions, CompiledCollectionQuery, compileCollectionQuery } from './compile-query.js';
import type { EntityModel } from './entity-model.js';
import type { RawQuery } from './parse-query.js';

/**
 * compileCollectionQuery, remembered. The same query options (same texts, in the same order),
 * against the same model with the same compile options, always compile to the same result, and a
 * compiled query is never changed after it is made, so the `capacity` most recently used are kept
 * and shared. Parsing and compiling cost 130–170 µs per request (odata-v4-parser alone ~65 µs);
 * clients that page, refresh or poll send the very same options again and again. Failures are not
 * kept: an invalid query throws each time. A `$skiptoken` page misses (each token is new), which
 * costs nothing beyond the compile it would do anyway.
 */
export class CompiledQueryCache {
  private readonly entries = new Map<string, CompiledCollectionQuery>();

  /** `maxResponseRows`: the row budget of every query compiled here (MAX_RESPONSE_ROWS). */
  constructor(
    readonly capacity: number,
    readonly maxResponseRows?: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new Error(`capacity must be a non-negative integer, got ${capacity}`);
  }

  compile(rawQuery: RawQuery, model: EntityModel | ResourceModel, given: CompileCollectionOptions = {}): CompiledCollectionQuery {
    const options = this.maxResponseRows === undefined ? given : { maxResponseRows: this.maxResponseRows, ...given };
    if (this.capacity === 0) return compileCollectionQuery(rawQuery, model, options);
    const { alias, firstParam, maxPageSize, defaultOrderBy, tokenContext, maxResponseRows } = options;
    const key = JSON.stringify([model.entitySet, alias, firstParam, maxPageSize, defaultOrderBy, tokenContext, maxResponseRows, rawQuery]);
    const kept = this.entries.get(key);
    if (kept) {
      // Most recently used last: the Map's insertion order is the eviction order.
      this.entries.delete(key);
      this.entries.set(key, kept);
      return kept;
    }
    const compiled = compileCollectionQuery(rawQuery, model, options);
    this.entries.set(key, compiled);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return compiled;
  }

  /** How many compiled queries are kept (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }
}
