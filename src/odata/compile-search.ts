import type { Search, SearchNode } from './ast.js';
import { resolveProperty } from './entity-model.js';
import { escapeLike } from './literals.js';
import type { Binding, SqlParams } from './sql.js';

/**
 * `$search` → a predicate: each term (word or phrase) matches when it is a case-insensitive substring
 * of any of the entity's search properties (groupKey, name, email, notes for groups; userKey, name,
 * email for users); AND / OR / NOT combine terms. Each term is one bound LIKE pattern (`%`, `_`, `\`
 * escaped), compared as `lower(column) LIKE lower($n)` so a trigram index on lower(column) serves it.
 * Null columns count as not matching (never as unknown), so `NOT x` is exact.
 */
export function compileSearch(search: Search, binding: Binding, params: SqlParams): string {
  const columns = binding.model.searchProperties.map((name) => resolveProperty(binding.model, name));
  const compile = (node: SearchNode): string => {
    switch (node.kind) {
      case 'term': {
        const pattern = params.add(`%${escapeLike(node.value)}%`, 'text');
        const tests = columns.map((property) => {
          const test = `lower(${binding.alias}.${property.column}) LIKE lower(${pattern})`;
          return property.nullable ? `COALESCE(${test}, FALSE)` : test;
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
