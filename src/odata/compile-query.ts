import type { ResourceModel } from '../resources/resource-model.js';
import type { ExpandItem, ExprNode, ODataQuery, SearchNode } from './ast.js';
import { compileFilter } from './compile-filter.js';
import { compileOrderKeys, keysetSelectItem, orderByClause, OrderKey } from './compile-orderby.js';
import { compileSearch } from './compile-search.js';
import { compileExpand, compileSelect, DEFAULT_EXPAND_TOP } from './compile-select.js';
import { EntityModel, entityModelOf } from './entity-model.js';
import { parseOrderBy } from './parse-expression.js';
import { ODataErrors } from './odata-error.js';
import { MAX_TOP, parseQuery, RawQuery } from './parse-query.js';
import { compileKeyset, decodeSkipToken, encodeSkipToken, queryFingerprint } from './skiptoken.js';
import { Aliases, limitClause, ROOT_ALIAS_PATTERN, SqlParams, newScope } from './sql.js';

/**
 * compileCollectionQuery(rawQuery, rootModel, options) → CompiledCollectionQuery
 *
 * The one entry point a repository needs for an OData collection read. Pure: no I/O, no Nest, no ORM.
 *
 * INPUT
 * - `rawQuery`: the Express query object (`request.query`), or an already parsed `ODataQuery`.
 * - `rootModel`: GROUP_ENTITY / USER_ENTITY (or GROUP_MODEL / USER_MODEL).
 * - `options.alias` (default `r`): the alias the repository gives the root table.
 * - `options.firstParam` (default 3): the number of the first placeholder the compiler may use; the
 *   repository binds the tenant scope as $1 (tenant_key) and $2 (org_key) — or, for
 *   `/groups/{id}/users`, also the parent id as $3 with `firstParam: 4`.
 * - `options.maxPageSize` (default 100, at most 1000): the server-driven page size
 *   (`Prefer: odata.maxpagesize`).
 * - `options.defaultOrderBy` (default: the key property, e.g. `groupKey`): the order when the client
 *   gives no `$orderby` (an OData `$orderby` text; `id` is appended as tie-breaker in any case).
 * - `options.tokenContext`: extra text a `$skiptoken` is bound to (e.g. the parent id of a member list).
 *
 * OUTPUT (all SQL fragments use only model identifiers and `$N::type` placeholders)
 * - `params`: the values of $firstParam … $(firstParam + params.length − 1), in order. Append them
 *   after the repository's own ($1, $2[, $3]).
 * - `where`: the `$filter` AND `$search` predicate (`TRUE` when none). It does NOT contain the root
 *   scope predicate: the repository puts `r.tenant_key = $1 AND r.org_key = $2` before it. Its
 *   placeholders are the first `countParams.length` ones, so `countParams` is all a count needs.
 * - `keyset`: the `$skiptoken` predicate ("after the last row of the previous page"), or undefined.
 * - `orderBy`: the ORDER BY list (ends with the id tie-breaker).
 * - `selectList`: the select items: the properties (`r.group_key AS "groupKey"`, `id` always),
 *   the `$expand` JSON columns, and the keyset column `"__keyset"` (strip it from the output).
 * - `limit` (= pageSize + 1, the extra row tells whether a next page exists), `offset` (= `$skip`),
 *   `pageSize` (rows to return), `top` (`$top` or undefined), `count` (`$count=true`).
 * - `selectStatement(scope)` / `countStatement(scope)`: the full statements, given the repository's
 *   scope predicate for alias `r`, e.g. `repository.scoped('r')`:
 *     SELECT <selectList> FROM <table> r WHERE <scope> AND (<where>) [AND <keyset>]
 *       ORDER BY <orderBy> LIMIT <limit> OFFSET <offset>   -- params: scopeParams ++ params
 *     SELECT count(*) AS count FROM <table> r WHERE <scope> AND (<where>)   -- scopeParams ++ countParams
 *   (LIMIT and OFFSET are literal numbers, not parameters: see `limitClause`. With `$skip` the
 *   select statement finds the page's ids in that shape first, then joins the table by id for the
 *   page's rows, so what is skipped is read from the order's index alone when it covers the order.)
 * - `selectWithCountStatement(scope)`: the page and the total in one statement (one snapshot, one
 *   round trip): the select statement with the count statement as an uncorrelated scalar subquery
 *   (computed once) in the column `"__count"` of every row (strip it from the output). It reuses the
 *   same placeholders, so its params are the select statement's. A page without rows carries no
 *   count: then the count is 0 unless the page was skipped into ($skip, $skiptoken).
 *   With a text match (`matchesText`) it reads the matching rows once instead, into a materialized
 *   CTE that both the page and the count read.
 * - `numberedSelectStatement(scope)`: the select statement with each row's position in the page
 *   in the column `"__row"` (to keep page order through an enclosing query; strip it like the keyset).
 * - `matchesText`: every matching row must contain a given text (see `matchesText()`), so the table's
 *   trigram search index serves the query: the repository then gives the search form of the scope.
 * - `pageJsonStatement(scope)`: the page as one JSON array (a statement of one row and one `json`
 *   column, to embed as a scalar subquery next to other columns): the select statement's rows as
 *   objects in page order, each with a `"__row"` (its position; strip it with the keyset column).
 *   Same params as the select statement; `$count` is not part of it.
 * - `withTokenContext(context)`: the same query compiled with another `tokenContext`, for a query
 *   compiled once and reused for many parents (its SQL does not depend on the context).
 * - `nextSkipToken(row)`: the `$skiptoken` continuing after `row` (a row of the select result).
 * - `nextLinkQuery(row)`: the query options of the next page's link (`$skiptoken` replaces `$skip`,
 *   `$top` is reduced by the page size when given); the service adds it when `rows.length > pageSize`
 *   and `$top` is not used up.
 */
export interface CompileCollectionOptions {
  readonly alias?: string;
  readonly firstParam?: number;
  readonly maxPageSize?: number;
  readonly defaultOrderBy?: string;
  readonly tokenContext?: string;
  /** Most records one response may hold, expanded ones included (MAX_RESPONSE_ROWS). */
  readonly maxResponseRows?: number;
}

export const DEFAULT_PAGE_SIZE = 100;
export const DEFAULT_MAX_RESPONSE_ROWS = 50_000;

/**
 * The most records one entity of the page can bring into the response: itself, plus for each
 * `$expand` its `$top` (or the default) times what each expanded record brings in turn.
 */
export function recordsPerEntity(expand: readonly ExpandItem[] | undefined): number {
  let records = 1;
  for (const item of expand ?? []) records += (item.options.top ?? DEFAULT_EXPAND_TOP) * recordsPerEntity(item.options.expand);
  return records;
}
export const KEYSET_COLUMN = '__keyset';
export const COUNT_COLUMN = '__count';
export const ROW_NUMBER_COLUMN = '__row';

export interface CompiledCollectionQuery {
  readonly query: ODataQuery;
  readonly model: EntityModel;
  readonly table: string;
  readonly alias: string;
  readonly selectList: string;
  /** Property names in the output (`id` always among them). */
  readonly properties: readonly string[];
  /** Expanded columns in the output (`users`, `users@odata.count`). */
  readonly expanded: readonly string[];
  readonly keysetColumn: string;
  readonly countColumn: string;
  readonly rowNumberColumn: string;
  readonly where: string;
  readonly keyset: string | undefined;
  readonly orderBy: string;
  readonly orderKeys: readonly OrderKey[];
  readonly limit: number;
  readonly offset: number;
  readonly pageSize: number;
  readonly top: number | undefined;
  readonly count: boolean;
  /** Every matching row must contain a given text (see `matchesText`): served by the table's search index. */
  readonly matchesText: boolean;
  readonly params: readonly unknown[];
  readonly countParams: readonly unknown[];
  readonly firstParam: number;
  readonly fingerprint: string;
  selectStatement(scopePredicate: string): string;
  countStatement(scopePredicate: string): string;
  selectWithCountStatement(scopePredicate: string): string;
  numberedSelectStatement(scopePredicate: string): string;
  pageJsonStatement(scopePredicate: string): string;
  withTokenContext(context: string): CompiledCollectionQuery;
  nextSkipToken(row: Readonly<Record<string, unknown>>): string;
  nextLinkQuery(row: Readonly<Record<string, unknown>>): Record<string, string>;
}

export function compileCollectionQuery(
  rawQuery: RawQuery | ODataQuery,
  rootModel: EntityModel | ResourceModel,
  options: CompileCollectionOptions = {},
): CompiledCollectionQuery {
  const model = entityModelOf(rootModel);
  const alias = options.alias ?? 'r';
  if (!ROOT_ALIAS_PATTERN.test(alias)) throw new Error(`Invalid root alias '${alias}'`);
  const maxPageSize = options.maxPageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(maxPageSize) || maxPageSize < 1 || maxPageSize > MAX_TOP) {
    throw new Error(`maxPageSize must be an integer from 1 to ${MAX_TOP}, got ${maxPageSize}`);
  }
  const query = isParsed(rawQuery) ? rawQuery : parseQuery(rawQuery);
  const firstParam = options.firstParam ?? 3;
  const params = new SqlParams(firstParam);
  const aliases = new Aliases();
  const scope = newScope(model, alias, params, aliases);

  // 1. WHERE ($filter, $search): its parameters come first, so a count needs only those.
  const conditions: string[] = [];
  if (query.filter) conditions.push(compileFilter(query.filter, scope));
  if (query.search) conditions.push(compileSearch(query.search, scope.it, params));
  const where = conditions.length === 0 ? 'TRUE' : conditions.join(' AND ');
  const countParams = [...params.values];
  const textMatch = matchesText(query);
  const countInOneScan = query.count && textMatch;

  // 2. ORDER BY, with the id tie-breaker.
  const orderby = query.orderby ?? defaultOrderBy(options.defaultOrderBy ?? model.keyProperty);
  const orderKeys = compileOrderKeys(orderby, scope);
  const orderBy = orderByClause(orderKeys);

  // 3. $skiptoken → keyset predicate. The fingerprint covers what defines the row set and its order.
  const fingerprint = queryFingerprint([
    model.entitySet,
    options.tokenContext ?? '',
    where,
    countParams,
    orderKeys.map((key) => [key.sql, key.direction]),
  ]);
  const keyset = query.skiptoken === undefined ? undefined : compileKeyset(orderKeys, decodeSkipToken(query.skiptoken, orderKeys, fingerprint), params);

  // 4. Select list: properties, expansions, keyset values.
  const selected = compileSelect(query.select, scope.it);
  const expand = compileExpand(query.expand, scope.it, params, aliases);
  const selectList = [...selected.items, ...expand.items, keysetSelectItem(orderKeys, KEYSET_COLUMN)].join(', ');

  // 5. Page window. The row budget bounds the response, expanded records included: `$top=1000` with
  // `$expand=users($top=1000)` could hold a million records, so the page is cut to what the budget
  // allows (server-driven paging: the rest follows through @odata.nextLink). Only an entity that alone
  // could exceed the budget is refused.
  const maxResponseRows = options.maxResponseRows ?? DEFAULT_MAX_RESPONSE_ROWS;
  const perEntity = recordsPerEntity(query.expand);
  const budgetPageSize = Math.floor(maxResponseRows / perEntity);
  const pageSize = Math.min(query.top ?? Number.POSITIVE_INFINITY, maxPageSize, Math.max(budgetPageSize, 0));
  if (budgetPageSize < 1 && query.top !== 0) {
    throw ODataErrors.tooLarge(
      `One ${model.entityType} with this $expand could bring up to ${perEntity} records, more than a response may hold ` +
        `(${maxResponseRows}, MAX_RESPONSE_ROWS); lower $top inside $expand`,
      '$expand',
    );
  }
  const limit = pageSize + 1;
  const offset = query.skip ?? 0;
  const page = limitClause(limit, offset);

  const table = model.table;
  const pageStatement = (items: string, scopePredicate: string) => {
    const filters = [scopePredicate, `(${where})`, ...(keyset ? [keyset] : [])].join(' AND ');
    if (offset === 0) return `SELECT ${items} FROM ${table} ${alias} WHERE ${filters} ORDER BY ${orderBy} ${page}`;
    // `$skip`: the rows skipped are only counted, so find the page's ids first — on the order's
    // index alone when it covers the order (the key orders do) — then read just the page's rows by
    // primary key. Reading whole rows of everything skipped made $skip=50000 fifty times slower.
    const ids = `${alias}_page`;
    return (
      `SELECT ${items} FROM (SELECT ${alias}.id FROM ${table} ${alias} WHERE ${filters} ORDER BY ${orderBy} ${page}) ${ids} ` +
      `JOIN ${table} ${alias} ON ${scopePredicate} AND ${alias}.id = ${ids}.id ORDER BY ${orderBy}`
    );
  };
  const countStatement = (scopePredicate: string) => `SELECT count(*) AS count FROM ${table} ${alias} WHERE ${scopePredicate} AND (${where})`;
  const compiled: CompiledCollectionQuery = {
    query,
    model,
    table,
    alias,
    selectList,
    properties: selected.properties,
    expanded: expand.columns,
    keysetColumn: KEYSET_COLUMN,
    countColumn: COUNT_COLUMN,
    rowNumberColumn: ROW_NUMBER_COLUMN,
    where,
    keyset,
    orderBy,
    orderKeys,
    limit,
    offset,
    pageSize,
    top: query.top,
    count: query.count,
    matchesText: textMatch,
    params: [...params.values],
    countParams,
    firstParam,
    fingerprint,
    selectStatement(scopePredicate: string): string {
      return pageStatement(selectList, scopePredicate);
    },
    countStatement(scopePredicate: string): string {
      return countStatement(scopePredicate);
    },
    selectWithCountStatement(scopePredicate: string): string {
      if (countInOneScan) {
        // A text match has no index order to walk: the page reads every candidate the search index
        // yields anyway (bitmap scan, top-N sort), and a count beside it would read them all again.
        // Read once into a materialized CTE of whole rows, aliased like the table, so every compiled
        // fragment (select items, order, keyset) applies to it unchanged; count and page come from it.
        const matched = `${alias}_matched`;
        return (
          `WITH ${matched} AS MATERIALIZED (SELECT ${alias}.* FROM ${table} ${alias} WHERE ${scopePredicate} AND (${where})) ` +
          `SELECT ${selectList}, (SELECT count(*) FROM ${matched}) AS "${COUNT_COLUMN}" FROM ${matched} ${alias}` +
          `${keyset ? ` WHERE ${keyset}` : ''} ORDER BY ${orderBy} ${page}`
        );
      }
      // The subquery's own `FROM <table> <alias>` shadows the outer alias, so the same predicate
      // text counts the same rows, uncorrelated with the outer query.
      return pageStatement(`${selectList}, (${countStatement(scopePredicate)}) AS "${COUNT_COLUMN}"`, scopePredicate);
    },
    numberedSelectStatement(scopePredicate: string): string {
      return pageStatement(`${selectList}, row_number() OVER (ORDER BY ${orderBy}) AS "${ROW_NUMBER_COLUMN}"`, scopePredicate);
    },
    pageJsonStatement(scopePredicate: string): string {
      // json_agg keeps no order of its input by itself, so the rows carry their position. `json`
      // (not jsonb) keeps the columns in select-list order: the same objects as the select statement's.
      const numbered = compiled.numberedSelectStatement(scopePredicate);
      return `SELECT coalesce(json_agg(page_rows ORDER BY page_rows."${ROW_NUMBER_COLUMN}"), '[]'::json) FROM (${numbered}) page_rows`;
    },
    withTokenContext(context: string): CompiledCollectionQuery {
      return compileCollectionQuery(query, model, { ...options, tokenContext: context });
    },
    nextSkipToken(row) {
      const values = row[KEYSET_COLUMN];
      if (!Array.isArray(values) || values.length !== orderKeys.length) {
        throw new Error(`The row has no ${KEYSET_COLUMN} column of ${orderKeys.length} values`);
      }
      return encodeSkipToken(values, fingerprint);
    },
    nextLinkQuery(row) {
      const next: Record<string, string> = {};
      for (const option of ['$filter', '$search', '$orderby', '$select', '$expand'] as const) {
        const text = query.raw[option];
        if (text !== undefined) next[option] = text;
      }
      if (query.top !== undefined) next.$top = String(Math.max(0, query.top - pageSize));
      if (query.count) next.$count = 'true';
      next.$skiptoken = compiled.nextSkipToken(row);
      return next;
    },
  };
  return compiled;
}

/** The parsed default orderings (a handful of constant texts), kept: parsing them was 3 % of a read. */
const DEFAULT_ORDERINGS = new Map<string, ReturnType<typeof parseOrderBy>>();

function defaultOrderBy(text: string): ReturnType<typeof parseOrderBy> {
  let parsed = DEFAULT_ORDERINGS.get(text);
  if (!parsed) {
    parsed = parseOrderBy(text, '$orderby (default)');
    DEFAULT_ORDERINGS.set(text, parsed);
  }
  return parsed;
}

/**
 * Whether every row the query matches must contain a given text — a `$search` that is not a
 * negation, or a top-level conjunct `contains|startswith|endswith(<property>, '<literal>')`. Such
 * a query is answered from the table's trigram search index (a bitmap of candidates), which has no
 * order to walk: see `selectWithCountStatement`.
 */
export function matchesText(query: ODataQuery): boolean {
  const positive = (node: SearchNode): boolean =>
    node.kind === 'term' ? true : node.kind === 'and' ? positive(node.left) || positive(node.right) : node.kind === 'or' ? positive(node.left) && positive(node.right) : false;
  const conjunctMatches = (node: ExprNode): boolean => {
    if (node.kind === 'logical' && node.operator === 'and') return conjunctMatches(node.left) || conjunctMatches(node.right);
    if (node.kind !== 'call' || !TEXT_MATCH_FUNCTIONS.has(node.name) || node.args.length !== 2) return false;
    const [haystack, needle] = node.args as [ExprNode, ExprNode];
    return haystack.kind === 'property' && haystack.root.kind !== 'variable' && haystack.segments.length === 1 && needle.kind === 'literal' && needle.type === 'Edm.String';
  };
  return (query.search !== undefined && positive(query.search.expr)) || (query.filter !== undefined && conjunctMatches(query.filter.expr));
}

const TEXT_MATCH_FUNCTIONS = new Set(['contains', 'startswith', 'endswith']);

function isParsed(value: RawQuery | ODataQuery): value is ODataQuery {
  return typeof (value as ODataQuery).count === 'boolean' && typeof (value as ODataQuery).raw === 'object' && typeof (value as ODataQuery).custom === 'object';
}

