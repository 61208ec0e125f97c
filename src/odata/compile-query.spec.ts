import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseQueryString } from 'node:querystring';
import { AppError } from '../common/errors/app-error.js';
import { GROUP_MODEL } from '../resources/resource-model.js';
import { compileCollectionQuery, KEYSET_COLUMN, matchesText, recordsPerEntity } from './compile-query.js';
import { GROUP_ENTITY, USER_ENTITY } from './entity-model.js';
import { ODataError } from './odata-error.js';
import { parseQuery } from './parse-query.js';
import { limitClause } from './sql.js';
import { thrownBy } from '../../test/support/thrown.js';

const SCOPE = 'r.tenant_key = $1 AND r.org_key = $2';

function errorOf(work: () => unknown): ODataError {
  return thrownBy(work, ODataError);
}

/** Every `$N` in `sql`, as numbers. */
function placeholders(sql: string): number[] {
  return [...new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
}

describe('compileCollectionQuery: contract', () => {
  it('compiles the default query: all properties, key order + id, a page of 100 (+1 look-ahead)', () => {
    const compiled = compileCollectionQuery({}, GROUP_ENTITY);
    expect(compiled.selectStatement(SCOPE)).toBe(
      'SELECT r.id AS "id", r.group_key AS "groupKey", r.name AS "name", r.email AS "email", r.notes AS "notes", ' +
        'r.is_active AS "isActive", r.created_on AS "createdOn", r.modified_on AS "modifiedOn", r.created_by AS "createdBy", ' +
        'r.modified_by AS "modifiedBy", json_build_array(r.group_key, r.id) AS "__keyset" FROM groups r ' +
        'WHERE r.tenant_key = $1 AND r.org_key = $2 AND (TRUE) ORDER BY r.group_key COLLATE "C" ASC, r.id ASC ' +
        'LIMIT 101 OFFSET 0',
    );
    expect(compiled.params).toEqual([]);
    expect(compiled).toMatchObject({ where: 'TRUE', keyset: undefined, limit: 101, pageSize: 100, offset: 0, count: false, countParams: [] });
    expect(compiled.countStatement(SCOPE)).toBe('SELECT count(*) AS count FROM groups r WHERE r.tenant_key = $1 AND r.org_key = $2 AND (TRUE)');
  });

  it('compiles a representative query; where-params first, so the count needs only countParams', () => {
    const compiled = compileCollectionQuery(
      { $filter: "contains(name,'ops') and users/any(u: u/isActive)", $orderby: 'createdOn desc', $select: 'groupKey', $top: '20', $skip: '40', $count: 'true' },
      GROUP_ENTITY,
    );
    // $skip: the page's ids first (ordered, skipped, limited), then their rows by primary key.
    expect(compiled.selectStatement(SCOPE)).toBe(
      'SELECT r.id AS "id", r.group_key AS "groupKey", json_build_array(r.created_on, r.id) AS "__keyset" FROM (SELECT r.id FROM groups r ' +
        'WHERE r.tenant_key = $1 AND r.org_key = $2 AND (((r.name LIKE $3::text) AND EXISTS (SELECT 1 FROM memberships o_m1 ' +
        'JOIN users o_t1 ON o_t1.tenant_key = o_m1.tenant_key AND o_t1.org_key = o_m1.org_key AND o_t1.id = o_m1.user_id ' +
        'WHERE o_m1.tenant_key = r.tenant_key AND o_m1.org_key = r.org_key AND o_m1.group_id = r.id AND o_t1.is_active))) ' +
        'ORDER BY r.created_on DESC, r.id DESC LIMIT 21 OFFSET 40) r_page JOIN groups r ON r.tenant_key = $1 AND r.org_key = $2 AND r.id = r_page.id ' +
        'ORDER BY r.created_on DESC, r.id DESC',
    );
    expect(compiled.params).toEqual(['%ops%']);
    expect(compiled.countParams).toEqual(['%ops%']);
    expect(compiled.countStatement(SCOPE)).toContain('AND (((r.name LIKE $3::text) AND EXISTS');
    expect(compiled).toMatchObject({ pageSize: 20, limit: 21, top: 20, count: true, properties: ['id', 'groupKey'] });
  });

  it('numbers placeholders from firstParam, contiguously, and every one is used', () => {
    const compiled = compileCollectionQuery(
      { $filter: "name eq 'a'", $search: 'x', $orderby: "indexof(name,'b')", $expand: "users($filter=name ne 'c')" },
      GROUP_ENTITY,
      { firstParam: 4 },
    );
    const statement = compiled.selectStatement('r.tenant_key = $1 AND r.org_key = $2 AND r.id = $3');
    expect(placeholders(statement)).toEqual([1, 2, 3, ...compiled.params.map((_, i) => i + 4)]);
    expect(placeholders(compiled.countStatement('r.tenant_key = $1 AND r.org_key = $2 AND r.id = $3'))).toEqual([
      1,
      2,
      3,
      ...compiled.countParams.map((_, i) => i + 4),
    ]);
  });

  it('accepts a ResourceModel, a parsed query, a custom alias and a default order', () => {
    const compiled = compileCollectionQuery(parseQuery({ $top: '5' }), GROUP_MODEL, { alias: 'g', defaultOrderBy: 'createdOn desc', maxPageSize: 2 });
    expect(compiled.orderBy).toBe('g.created_on DESC, g.id DESC');
    expect(compiled).toMatchObject({ alias: 'g', pageSize: 2, limit: 3, top: 5 });
    expect(compiled.selectStatement('g.tenant_key = $1 AND g.org_key = $2')).toContain('FROM groups g WHERE');
  });

  it('refuses invalid options of the caller as programming errors', () => {
    expect(() => compileCollectionQuery({}, GROUP_ENTITY, { maxPageSize: 1001 })).toThrow(Error);
    expect(() => compileCollectionQuery({}, GROUP_ENTITY, { alias: 'r; DROP' })).toThrow(Error);
    expect(() => compileCollectionQuery({}, GROUP_ENTITY, { alias: 'o_m1' })).toThrow(Error);
    expect(() => compileCollectionQuery({}, GROUP_ENTITY, { firstParam: 0 })).toThrow(Error);
  });

  it('makes next links: same options, $skiptoken instead of $skip, $top reduced', () => {
    const compiled = compileCollectionQuery({ $filter: 'isActive', $orderby: 'name', $top: '250', $skip: '3', $count: 'true', $select: 'name' }, GROUP_ENTITY);
    const row = { id: 'x', name: 'Ops', [KEYSET_COLUMN]: ['Ops', '01234567-89ab-cdef-0123-456789abcdef'] };
    const next = compiled.nextLinkQuery(row);
    expect(next).toEqual({ $filter: 'isActive', $orderby: 'name', $select: 'name', $top: '150', $count: 'true', $skiptoken: compiled.nextSkipToken(row) });
    const second = compileCollectionQuery(next, GROUP_ENTITY);
    expect(second.where).toBe('r.is_active');
    expect(second.keyset).toBe('((r.name COLLATE "C", r.id) > ($3::text, $4::uuid))');
    expect(second.params).toEqual(['Ops', '01234567-89ab-cdef-0123-456789abcdef']);
    expect(second.selectStatement(SCOPE)).toContain('WHERE r.tenant_key = $1 AND r.org_key = $2 AND (r.is_active) AND ((r.name COLLATE "C", r.id) > ($3::text, $4::uuid)) ORDER BY');
  });

  it('writes LIMIT and OFFSET as numbers (a plan can see them), never anything but safe integers', () => {
    expect(limitClause(21, 40)).toBe('LIMIT 21 OFFSET 40');
    for (const bad of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => limitClause(bad, 0)).toThrow(Error);
      expect(() => limitClause(0, bad)).toThrow(Error);
    }
  });

  it('refuses a $skiptoken of another query, or a forged one', () => {
    const first = compileCollectionQuery({ $orderby: 'name' }, GROUP_ENTITY);
    const token = first.nextSkipToken({ [KEYSET_COLUMN]: ['Ops', '01234567-89ab-cdef-0123-456789abcdef'] });
    expect(compileCollectionQuery({ $orderby: 'name', $skiptoken: token }, GROUP_ENTITY).keyset).toBeDefined();
    expect(errorOf(() => compileCollectionQuery({ $orderby: 'name desc', $skiptoken: token }, GROUP_ENTITY)).kind).toBe('invalidSkipToken');
    expect(errorOf(() => compileCollectionQuery({ $orderby: 'name', $filter: 'isActive', $skiptoken: token }, GROUP_ENTITY)).kind).toBe('invalidSkipToken');
    expect(errorOf(() => compileCollectionQuery({ $orderby: 'name', $skiptoken: token }, USER_ENTITY)).kind).toBe('invalidSkipToken');
    expect(errorOf(() => compileCollectionQuery({ $orderby: 'name', $skiptoken: token }, GROUP_ENTITY, { tokenContext: 'g1' })).kind).toBe('invalidSkipToken');
    expect(errorOf(() => compileCollectionQuery({ $skiptoken: 'garbage' }, GROUP_ENTITY)).message).toBe('Invalid $skiptoken: malformed');
  });

  it('binds the skip tokens of a reused query to the context it is re-bound to', () => {
    const shared = compileCollectionQuery({ $select: 'id,userKey' }, USER_ENTITY, { firstParam: 4, maxPageSize: 2 });
    const bound = shared.withTokenContext('g1');
    expect(bound.selectStatement(SCOPE)).toBe(shared.selectStatement(SCOPE));
    expect(bound.params).toEqual(shared.params);
    const row = { [KEYSET_COLUMN]: ['alice', '01234567-89ab-cdef-0123-456789abcdef'] };
    const token = bound.nextSkipToken(row);
    expect(token).not.toBe(shared.nextSkipToken(row));
    const resume = (tokenContext: string) => compileCollectionQuery({ $select: 'id,userKey', $skiptoken: token }, USER_ENTITY, { firstParam: 4, tokenContext });
    expect(resume('g1').keyset).toBeDefined();
    expect(errorOf(() => resume('g2')).kind).toBe('invalidSkipToken');
  });

  it('answers every client error with a 400 naming the problem', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ $filter: "name eq 'a' and" }, "Syntax error in $filter at position 11: unexpected ' and'"],
      [{ $filter: "colour eq 'red'" }, "Unknown property 'colour' of Group"],
      [{ $filter: 'name eq 5' }, 'Type mismatch'],
      [{ $filter: 'totaloffsetminutes(createdOn) eq 0' }, 'The function totaloffsetminutes() is not supported'],
      [{ $orderby: 'colour' }, "Unknown property 'colour'"],
      [{ $select: 'colour' }, "Unknown property 'colour'"],
      [{ $expand: 'colour' }, "Unknown property 'colour'"],
      [{ $top: '1001' }, '$top must be an integer from 0 to 1000'],
      [{ $apply: 'x' }, 'The query option $apply is not supported'],
    ];
    for (const [query, message] of cases) {
      const error = errorOf(() => compileCollectionQuery(query, GROUP_ENTITY));
      expect(error.status).toBe(400);
      expect(error.message).toContain(message);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const STRING_PROPERTIES = ['groupKey', 'name', 'email', 'notes', 'createdBy'];
const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;

const stringLiteral = fc.string({ maxLength: 12 }).map(quote);
const stringExpr: fc.Arbitrary<string> = fc.letrec<{ s: string }>((tie) => ({
  s: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...STRING_PROPERTIES),
    stringLiteral,
    tie('s').map((s) => `tolower(${s})`),
    tie('s').map((s) => `toupper(${s})`),
    tie('s').map((s) => `trim(${s})`),
    fc.tuple(tie('s'), tie('s')).map(([a, b]) => `concat(${a},${b})`),
    fc.tuple(tie('s'), fc.integer({ min: -3, max: 20 })).map(([a, i]) => `substring(${a},${i})`),
  ),
})).s;
const intExpr = fc.oneof(
  stringExpr.map((s) => `length(${s})`),
  fc.tuple(stringExpr, stringLiteral).map(([s, t]) => `indexof(${s},${t})`),
  fc.constant('users/$count'),
  fc.constantFrom('year(createdOn)', 'month(modifiedOn)', 'day(createdOn)', 'hour(createdOn)', 'second(modifiedOn)'),
  fc.integer({ min: -1000, max: 1000 }).map(String),
);
const compareOp = fc.constantFrom('eq', 'ne', 'gt', 'ge', 'lt', 'le');
const boolExpr: fc.Arbitrary<string> = fc.letrec<{ b: string }>((tie) => ({
  b: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant('isActive'),
    fc.tuple(stringExpr, compareOp, stringExpr).map(([a, op, b]) => `${a} ${op} ${b}`),
    fc.tuple(intExpr, compareOp, intExpr).map(([a, op, b]) => `${a} ${op} ${b}`),
    fc.tuple(fc.constantFrom('contains', 'startswith', 'endswith'), stringExpr, stringExpr).map(([f, a, b]) => `${f}(${a},${b})`),
    fc.tuple(fc.constantFrom(...STRING_PROPERTIES), fc.constantFrom('eq', 'ne')).map(([p, op]) => `${p} ${op} null`),
    fc.tuple(fc.constantFrom(...STRING_PROPERTIES), fc.array(stringLiteral, { minLength: 1, maxLength: 4 })).map(([p, items]) => `${p} in (${items.join(',')})`),
    fc.constantFrom('createdOn lt now()', 'createdOn gt 2024-01-01T00:00:00Z', 'date(createdOn) eq 2024-02-29', 'users/any()'),
    tie('b').map((b) => `not (${b})`),
    fc.tuple(tie('b'), fc.constantFrom('and', 'or'), tie('b')).map(([a, op, b]) => `(${a}) ${op} (${b})`),
    fc.tuple(fc.constantFrom('any', 'all'), stringLiteral).map(([q, v]) => `users/${q}(u: u/userKey eq ${v} or u/isActive)`),
  ),
})).b;

describe('compileCollectionQuery: properties', () => {
  it('compiles every generated well-typed filter and $orderby', () => {
    fc.assert(
      fc.property(boolExpr, fc.array(fc.oneof(stringExpr, intExpr), { maxLength: 3 }), (filter, keys) => {
        fc.pre(filter.length < 4000);
        const compiled = compileCollectionQuery({ $filter: filter, ...(keys.length ? { $orderby: keys.join(',') } : {}) }, GROUP_ENTITY);
        expect(compiled.where).not.toBe('TRUE');
        const used = placeholders(compiled.selectStatement(SCOPE)).filter((n) => n > 2);
        expect(used).toEqual(compiled.params.map((_, i) => i + 3));
      }),
      { numRuns: 400 },
    );
  });

  it('never puts a string value into the SQL text: values only reach the parameters', () => {
    // A marker character that no compiler output contains makes "the value is in the SQL" exact.
    const value = fc.string({ maxLength: 30, unit: 'grapheme' }).map((s) => `\u2063${s}`);
    fc.assert(
      fc.property(value, (v) => {
        const quoted = quote(v);
        const phrase = `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
        const compiled = compileCollectionQuery(
          {
            $filter: `name eq ${quoted} or contains(email,${quoted}) or groupKey in (${quoted}) or users/any(u: startswith(u/name, ${quoted}))`,
            $orderby: `indexof(name,${quoted})`,
            $search: phrase,
            $expand: `users($filter=endswith(name,${quoted}))`,
          },
          GROUP_ENTITY,
        );
        const sql = compiled.selectStatement(SCOPE) + compiled.countStatement(SCOPE);
        expect(sql.includes('\u2063')).toBe(false);
        expect(compiled.params).toContain(v);
      }),
      { numRuns: 300 },
    );
  });

  const fragments = [
    'name', 'email', 'isActive', 'users', 'groups', 'u', '/', 'any(', 'all(', 'u:', '$count', '$it', ' eq ', ' ne ', ' gt ', ' and ',
    ' or ', 'not ', ' in ', ' add ', ' mul ', ' div ', '-', '(', ')', ',', "'", "''", '"', ' ', 'null', 'true', '1', '2147483648',
    '1.5', '1e400', 'contains(', 'substring(', 'length(', 'year(', 'now()', '2024-02-30', '2024-01-01T00:00:00Z', '12:00',
    '01234567-89ab-cdef-0123-456789abcdef', '%', '%27', '@p', '[', ']', '{', '}', ';', '=', '$filter=', '$top=', '*', '\\', 'é', '\u0000',
  ];
  const garbage = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.string({ maxLength: 40, unit: 'binary' }),
    fc.array(fc.constantFrom(...fragments), { maxLength: 25 }).map((parts) => parts.join('')),
  );

  it('answers garbage in any option with an AppError (a 4xx) or a compiled query, never anything else', () => {
    const options = ['$filter', '$orderby', '$select', '$expand', '$search', '$top', '$skip', '$count', '$skiptoken', '$format', '$inlinecount', 'filter', '$FILTER'];
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...options, 'custom'), fc.oneof(garbage, fc.array(garbage, { maxLength: 2 })), { maxKeys: 3 }), (raw) => {
        try {
          compileCollectionQuery(raw, GROUP_ENTITY);
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          expect(error.status).toBeLessThan(500);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('answers arbitrary query objects (any keys, values) with an AppError or a compiled query', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string(), fc.array(fc.string()), fc.anything())), (raw) => {
        try {
          compileCollectionQuery(raw, USER_ENTITY);
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('survives the longest chains the length limit allows', () => {
    const chain = Array.from({ length: 700 }, (_, i) => (i % 2 ? "name eq 'x'" : 'isActive')).join(' or ').slice(0, 8000);
    const query = chain.endsWith(' or') ? chain.slice(0, -3) : chain;
    expect(() => compileCollectionQuery({ $filter: query.replace(/ or [^ ]*$/, '') }, GROUP_ENTITY)).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// OASIS OData ABNF test cases (names adapted to this model; see test/fixtures/odata-abnf/SOURCE.md)

interface AbnfCase {
  id: string;
  query: string;
  expect: 'must' | 'may' | 'invalid';
}

const ABNF_FILE = fileURLToPath(new URL('../../test/fixtures/odata-abnf/abnf-cases.json', import.meta.url));
const abnfCases: AbnfCase[] = (JSON.parse(readFileSync(ABNF_FILE, 'utf8')) as { cases: AbnfCase[] }).cases;

/**
 * "invalid" cases we knowingly accept: a value with a leading space (we trim), and URL-level
 * problems that no longer exist once Express has decoded the query (`#`, `&`, `%22`, `;` inside $search).
 */
const ACCEPTED_INVALID = new Set(['abnf-311', 'abnf-568', 'abnf-570', 'abnf-572', 'abnf-590']);

describe('OASIS ABNF conformance cases', () => {
  const outcome = (query: string): 'ok' | AppError => {
    try {
      compileCollectionQuery(parseQueryString(query), GROUP_ENTITY);
      return 'ok';
    } catch (error) {
      if (error instanceof AppError) return error;
      throw error;
    }
  };

  it.each(abnfCases.filter((c) => c.expect === 'must').map((c) => [c.id, c.query]))('%s must be accepted: %s', (_id, query) => {
    expect(outcome(query)).toBe('ok');
  });

  it.each(abnfCases.filter((c) => c.expect === 'invalid' && !ACCEPTED_INVALID.has(c.id)).map((c) => [c.id, c.query]))('%s is refused with a 400: %s', (_id, query) => {
    const result = outcome(query);
    expect(result).toBeInstanceOf(AppError);
    expect((result as AppError).status).toBe(400);
  });

  it('answers every other case with success or an AppError (never a raw exception)', () => {
    for (const c of abnfCases) {
      const result = outcome(c.query);
      if (result !== 'ok') expect(result.status).toBe(400);
    }
  });
});

describe('compileCollectionQuery: how $count is taken', () => {
  const query = (raw: Record<string, string>) => parseQuery(raw);

  it('a text match (contains/startswith/endswith on a property, or a positive $search) is one scan: a materialized CTE feeds page and count', () => {
    const compiled = compileCollectionQuery({ $filter: "contains(name,'alpha')", $orderby: 'name', $top: '20', $count: 'true' }, GROUP_ENTITY);
    const sql = compiled.selectWithCountStatement(SCOPE);
    expect(sql).toMatch(
      /^WITH r_matched AS MATERIALIZED \(SELECT r\.\* FROM groups r WHERE r\.tenant_key = \$1 AND r\.org_key = \$2 AND \(\(r\.name LIKE \$3::text\)\)\) SELECT .* FROM r_matched r ORDER BY r\.name COLLATE "C" ASC, r\.id ASC LIMIT 21 OFFSET 0$/,
    );
    expect(sql).toContain('(SELECT count(*) FROM r_matched) AS "__count"');
    expect((sql.match(/FROM groups r/g) ?? []).length).toBe(1);
  });

  it('keeps the keyset on the page only: the count is the whole collection', () => {
    const first = compileCollectionQuery({ $search: 'alpha', $top: '2', $count: 'true' }, GROUP_ENTITY);
    const token = first.nextSkipToken({ [KEYSET_COLUMN]: ['k', '00000000-0000-0000-0000-000000000001'] });
    const next = compileCollectionQuery({ $search: 'alpha', $top: '2', $count: 'true', $skiptoken: token }, GROUP_ENTITY);
    const sql = next.selectWithCountStatement(SCOPE);
    expect(sql).toContain(`FROM r_matched r WHERE ${next.keyset} ORDER BY`);
    expect(sql.slice(0, sql.indexOf(') SELECT'))).not.toContain(next.keyset);
  });

  it('other filters keep the count as its own subquery, so the page can walk an index in order and stop', () => {
    for (const raw of [{ $count: 'true' }, { $filter: 'isActive eq true', $count: 'true' }, { $filter: "not contains(name,'a')", $count: 'true' }]) {
      const sql = compileCollectionQuery(raw, GROUP_ENTITY).selectWithCountStatement(SCOPE);
      expect(sql).not.toContain('MATERIALIZED');
      expect(sql).toContain('(SELECT count(*) AS count FROM groups r WHERE');
    }
  });

  it('matchesText: a match every row must satisfy, on the entity itself', () => {
    expect(matchesText(query({ $filter: "contains(name,'a')" }))).toBe(true);
    expect(matchesText(query({ $filter: "isActive eq true and startswith(groupKey,'ops')" }))).toBe(true);
    expect(matchesText(query({ $filter: "endswith(email,'.test') and (isActive or contains(notes,'x'))" }))).toBe(true);
    expect(matchesText(query({ $search: 'alpha' }))).toBe(true);
    expect(matchesText(query({ $search: 'alpha OR bravo' }))).toBe(true);
    expect(matchesText(query({ $search: 'alpha NOT bravo' }))).toBe(true);
    expect(matchesText(query({ $search: 'NOT alpha' }))).toBe(false);
    expect(matchesText(query({ $search: 'alpha OR NOT bravo' }))).toBe(false);
    expect(matchesText(query({ $filter: "contains(name,'a') or isActive" }))).toBe(false);
    expect(matchesText(query({ $filter: "not contains(name,'a')" }))).toBe(false);
    expect(matchesText(query({ $filter: "contains(tolower(name),'a')" }))).toBe(false);
    expect(matchesText(query({ $filter: "users/any(u: contains(u/name,'a'))" }))).toBe(false);
    expect(matchesText(query({ $filter: 'contains(name,groupKey)' }))).toBe(false);
    expect(matchesText(query({}))).toBe(false);
  });
});

describe('compileCollectionQuery: the row budget of a response', () => {
  const compile = (query: Record<string, string>, maxResponseRows?: number, maxPageSize?: number) =>
    compileCollectionQuery(query, GROUP_ENTITY, { maxResponseRows, maxPageSize });

  it('counts what one entity can bring: itself and each expansion ($top or the default 100) with its own', () => {
    expect(recordsPerEntity(parseQuery({ $expand: 'users' }).expand)).toBe(101);
    expect(recordsPerEntity(parseQuery({ $expand: 'users($top=1000)' }).expand)).toBe(1001);
    expect(recordsPerEntity(parseQuery({ $expand: 'users($top=10;$expand=groups($top=5))' }).expand)).toBe(1 + 10 * 6);
    expect(recordsPerEntity(undefined)).toBe(1);
  });

  it('cuts the page to what the budget allows and leaves the rest to the next link', () => {
    expect(compile({ $top: '1000', $expand: 'users($top=1000)' }, 50_000, 1000).pageSize).toBe(49);
    expect(compile({ $expand: 'users' }).pageSize).toBe(100); // the default page fits the default budget
    expect(compile({ $top: '10', $expand: 'users($top=1000)' }, 50_000).pageSize).toBe(10);
    expect(compile({ $top: '0', $expand: 'users($top=1000;$expand=groups($top=1000))' }, 1000).pageSize).toBe(0);
  });

  it('refuses with ResponseTooLarge when a single entity could pass the budget', () => {
    const error = thrownBy(() => compile({ $expand: 'users($top=1000;$expand=groups($top=1000))' }), ODataError);
    expect(error.code).toBe('ResponseTooLarge');
    expect(error.status).toBe(400);
    expect(error.message).toContain('50000, MAX_RESPONSE_ROWS');
  });
});
