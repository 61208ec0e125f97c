import type { Search, SearchNode } from './ast.js';
import { resolveProperty } from './entity-model.js';
import { escapeLike } from './literals.js';
import type { Binding, SqlParams } from './sql.js';

/**
 * `$search` → a predicate: each term (word or phrase) matches when it is a case-insensitive substring
 * of any of the entity's search properties (groupKey, name, email, notes for groups; userKey, name,
 * email for users); AND / OR / NOT combine terms. Each term is one bound LIKE pattern (`%`, `_`, `\`
 * escaped), compared as `column ILIKE $n`: the table's trigram index (on the stored columns, whose
 * trigrams are case-insensitive) serves it. In a UTF-8 database ILIKE is `lower(column) LIKE
 * lower($n)` (PostgreSQL lower-cases both sides), so the match is the same as comparing lower-cased text.
 * Null columns count as not matching (never as unknown), so `NOT x` is exact.
 */
export function compileSearch(search: Search, binding: Binding, params: SqlParams): string {
  const columns = binding.model.searchProperties.map((name) => resolveProperty(binding.model, name));
  const compile = (node: SearchNode): string => {
    switch (node.kind) {
      case 'term': {
        const pattern = params.add(`%${escapeLike(node.value)}%`, 'text');
        const tests = columns.map((property) => {
          const column = `${binding.alias}.${property.column}`;
          const test = `${column} ILIKE ${pattern}`;
          // Not COALESCE(test, FALSE): that is not indexable, and one such arm makes the whole OR a
          // scan of the scope. `AND column IS NOT NULL` is as null-free and keeps each arm a search-index scan.
          return property.nullable ? `(${test} AND ${column} IS NOT NULL)` : test;
        });
        return `(${tests.join(' OR ')})`;
      }
      case 'and':
      case 'or':
        return `(${compile(node.left)} ${node.kind.toUpperCase()} ${compile(node.right)})`;
      case 'not':
        return `(NOT ${compile(node.operand)})`;
      default: {
        const unknown: never = node;
        throw new Error(`Unknown $search node kind: ${JSON.stringify((unknown as { kind?: unknown }).kind)}`);
      }
    }
  };
  return compile(search.expr);
}
