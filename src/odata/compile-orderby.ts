import type { OrderBy } from './ast.js';
import { compileExpression } from './compile-filter.js';
import { idProperty } from './entity-model.js';
import { ODataErrors } from './odata-error.js';
import { collateC, ExprScope, SqlExpr } from './sql.js';

/**
 * `$orderby` → sort keys and the ORDER BY list.
 *
 * - Keys are any primitive expressions (`name desc`, `tolower(name)`, `users/$count`, …).
 * - The row id is always appended as the last key (same direction as the key before it, `asc` when
 *   there is none) unless the order already contains `id`, so every order is total and pages
 *   are stable.
 * - Strings sort by code point (`COLLATE "C"`), agreeing with a JS comparison of the same strings.
 * - Nulls count as smaller than any value: `NULLS FIRST` ascending, `NULLS LAST` descending (OData
 *   leaves this to the service). Keys that cannot be null get no NULLS clause (index friendly).
 */
export interface OrderKey extends SqlExpr {
  readonly direction: 'asc' | 'desc';
}

export function compileOrderKeys(orderby: OrderBy | undefined, scope: ExprScope): OrderKey[] {
  const keys: OrderKey[] = [];
  for (const item of orderby?.items ?? []) {
    const compiled = compileExpression(item.expr, scope, orderby!.option);
    if (compiled.type === 'null') {
      throw ODataErrors.typeMismatch('null is not a sort key', { option: orderby!.option, position: item.position });
    }
    keys.push({ ...compiled, direction: item.direction });
  }
  const id = `${scope.it.alias}.${idProperty(scope.it.model).column}`;
  if (!keys.some((key) => key.sql === id)) {
    keys.push({ sql: id, type: 'guid', nullable: false, direction: keys.at(-1)?.direction ?? 'asc' });
  }
  return keys;
}

export function orderByClause(keys: readonly OrderKey[]): string {
  return keys
    .map((key) => {
      const nulls = key.nullable ? (key.direction === 'asc' ? ' NULLS FIRST' : ' NULLS LAST') : '';
      return `${collateC(key)} ${key.direction.toUpperCase()}${nulls}`;
    })
    .join(', ');
}

/**
 * The select item carrying a row's sort-key values for its `$skiptoken`: a JSON array (numbers as
 * text so they survive exactly; date-times in ISO 8601 with microseconds, whatever the DateStyle).
 */
export function keysetSelectItem(keys: readonly OrderKey[], column: string): string {
  const values = keys.map((key) => (key.type === 'integer' || key.type === 'decimal' ? `(${key.sql})::text` : key.sql));
  return `json_build_array(${values.join(', ')}) AS "${column}"`;
}
