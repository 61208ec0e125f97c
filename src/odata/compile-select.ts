import type { PropertyModel } from '../resources/resource-model.js';
import type { ExpandItem, Select } from './ast.js';
import { compileFilter } from './compile-filter.js';
import { compileOrderKeys, orderByClause } from './compile-orderby.js';
import { compileSearch } from './compile-search.js';
import { EntityModel, idProperty, resolveMember, resolveNavigation } from './entity-model.js';
import { ODataErrors } from './odata-error.js';
import { parseOrderBy } from './parse-expression.js';
import { Aliases, Binding, limitClause, linkCorrelation, newScope, SqlParams, targetJoin } from './sql.js';

/**
 * `$select` and `$expand` → select-list items.
 *
 * `$select`: the listed properties (`*` = all), in model order; **`id` is always included** (every
 * representation and every next link needs it), and a navigation property named in `$select` is
 * refused (expand it instead). Each item is `<alias>.<column> AS "<propertyName>"`.
 *
 * `$expand=users(…)` (groups) / `groups(…)` (users): one correlated subquery per navigation producing
 * a JSON array of the related records (always an array, `[]` when none):
 * `COALESCE((SELECT json_agg(json_build_object(…) ORDER BY x.o_n) FROM (SELECT … FROM memberships m
 * JOIN users t ON <same tenant/org> AND t.id = m.user_id WHERE m.tenant_key = r.tenant_key AND
 * m.org_key = r.org_key AND m.group_id = r.id AND <$filter> AND <$search> ORDER BY <$orderby, id>
 * LIMIT <$top, default 100, at most 1000> OFFSET <$skip>) x), '[]'::json) AS "users"`.
 * Nested `$select`, `$filter`, `$orderby`, `$top`, `$skip`, `$search`, `$expand` apply to the related
 * records; nested `$count=true` adds `"users@odata.count"` (the filtered total). Inside the JSON,
 * date-times are ISO 8601 UTC strings with milliseconds (as `Date.toISOString()` writes them).
 */
export const DEFAULT_EXPAND_TOP = 100;

export function selectedProperties(select: Select | undefined, model: EntityModel): PropertyModel[] {
  if (!select || select.items.some((item) => item.kind === 'all')) return [...model.properties];
  const chosen = new Set<PropertyModel>([idProperty(model)]);
  for (const item of select.items) {
    if (item.kind === 'all') continue;
    const member = resolveMember(model, item.name, { option: select.option, position: item.position });
    if (member.kind === 'navigation') {
      throw ODataErrors.unsupported(`$select of the navigation property '${member.navigation.name}' (use $expand)`, {
        option: select.option,
        position: item.position,
      });
    }
    chosen.add(member.property);
  }
  return model.properties.filter((property) => chosen.has(property));
}

export function compileSelect(select: Select | undefined, binding: Binding): { items: string[]; properties: string[] } {
  const properties = selectedProperties(select, binding.model);
  return {
    items: properties.map((property) => `${binding.alias}.${property.column} AS "${property.name}"`),
    properties: properties.map((property) => property.name),
  };
}

export interface CompiledExpand {
  /** Select-list items (the JSON array column, and its count column when asked). */
  readonly items: string[];
  /** The output column names: `users`, `users@odata.count`. */
  readonly columns: string[];
}

export function compileExpand(expand: readonly ExpandItem[] | undefined, parent: Binding, params: SqlParams, aliases: Aliases): CompiledExpand {
  const items: string[] = [];
  const columns: string[] = [];
  for (const item of expand ?? []) {
    const navigation = resolveNavigation(parent.model, item.path, { option: item.option, position: item.position });
    const target = navigation.target();
    const { options } = item;

    /** FROM … WHERE … of the related records (fresh aliases each time it is needed). */
    const source = () => {
      const { link, target: alias } = aliases.next();
      const scope = newScope(target, alias, params, aliases);
      const where = [linkCorrelation(navigation, link, parent.alias)];
      if (options.filter) where.push(compileFilter(options.filter, scope));
      if (options.search) where.push(compileSearch(options.search, scope.it, params));
      return { alias, scope, sql: `FROM ${navigation.link.table} ${link} ${targetJoin(navigation, link, alias)} WHERE ${where.join(' AND ')}` };
    };

    const rows = source();
    const keys = compileOrderKeys(options.orderby ?? parseOrderBy(target.keyProperty, `${item.option}/${navigation.name}/$orderby`), rows.scope);
    const order = orderByClause(keys);
    const properties = selectedProperties(options.select, target);
    const nested = compileExpand(options.expand, rows.scope.it, params, aliases);
    const page = limitClause(options.top ?? DEFAULT_EXPAND_TOP, options.skip ?? 0);
    const x = `${rows.alias}_x`;
    const inner = [
      ...properties.map((property) => `${jsonValue(property, rows.alias)} AS "${property.name}"`),
      ...nested.items,
      `row_number() OVER (ORDER BY ${order}) AS o_n`,
    ];
    const object = [...properties.map((property) => property.name), ...nested.columns].map((name) => `'${name}', ${x}."${name}"`);
    items.push(
      `COALESCE((SELECT json_agg(json_build_object(${object.join(', ')}) ORDER BY ${x}.o_n) FROM ` +
        `(SELECT ${inner.join(', ')} ${rows.sql} ORDER BY ${order} ${page}) ${x}), '[]'::json) AS "${navigation.name}"`,
    );
    columns.push(navigation.name);
    if (options.count) {
      const counted = source();
      items.push(`(SELECT count(*) ${counted.sql}) AS "${navigation.name}@odata.count"`);
      columns.push(`${navigation.name}@odata.count`);
    }
  }
  return { items, columns };
}

/** A property's value as it should appear inside JSON that PostgreSQL writes (timestamps as `toISOString` writes them). */
export function jsonValue(property: PropertyModel, alias: string): string {
  const column = `${alias}.${property.column}`;
  return property.type === 'Edm.DateTimeOffset' ? `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')` : column;
}
