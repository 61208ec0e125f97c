import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '../common/errors/error-code.js';
import { ODataError } from './odata-error.js';
import { MAX_QUERY_LENGTH, parseQuery } from './parse-query.js';
import { parseSearch } from './parse-search.js';
import { thrownBy } from '../../test/support/thrown.js';

function errorOf(work: () => unknown): ODataError {
  const error = thrownBy(work, ODataError);
  expect(error.status).toBe(400);
  return error;
}

describe('parseQuery: option names', () => {
  it('defaults to nothing asked', () => {
    expect(parseQuery({})).toEqual({ count: false, raw: {}, custom: {} });
  });

  it('matches system options case-insensitively and without $ (OData 4.01)', () => {
    const query = parseQuery({ $FILTER: 'isActive', OrderBy: 'name', top: '5', $Skip: '2', COUNT: 'true' });
    expect(query.filter?.expr.kind).toBe('property');
    expect(query.orderby?.items).toHaveLength(1);
    expect(query.top).toBe(5);
    expect(query.skip).toBe(2);
    expect(query.count).toBe(true);
    expect(query.raw).toEqual({ $filter: 'isActive', $orderby: 'name', $top: '5', $skip: '2', $count: 'true' });
  });

  it('passes custom options through and ignores them', () => {
    expect(parseQuery({ page: '2', foo: ['a', 'b'] }).custom).toEqual({ page: '2', foo: ['a', 'b'] });
  });

  it.each(['$apply', '$compute', '$levels', '$deltatoken', '$id', '$foo', '$'])('refuses the unknown option %s with UnsupportedQueryOption', (name) => {
    const error = errorOf(() => parseQuery({ [name]: 'x' }));
    expect(error.code).toBe(ErrorCode.UnsupportedQueryOption);
    expect(error.target).toBe(name);
    expect(error.message).toContain(name);
  });

  it('refuses parameter aliases', () => {
    expect(errorOf(() => parseQuery({ $filter: 'name eq @p', '@p': "'x'" })).kind).toBe('unsupported');
  });

  it.each([
    [{ $top: ['1', '2'] }, '$top'],
    [{ $filter: 'true', filter: 'false' }, 'filter'],
    [{ $filter: 'true', $FILTER: 'false' }, '$FILTER'],
    [{ $count: 'true', $inlinecount: 'allpages' }, '$inlinecount'],
  ])('refuses duplicates %j', (raw, target) => {
    const error = errorOf(() => parseQuery(raw));
    expect(error.kind).toBe('duplicateOption');
    expect(error.target).toContain(target);
  });

  it('refuses non-text values', () => {
    expect(errorOf(() => parseQuery({ $filter: { a: 1 } })).kind).toBe('invalidValue');
  });
});

describe('parseQuery: limits', () => {
  it(`refuses a query longer than ${MAX_QUERY_LENGTH} characters`, () => {
    const long = `name eq '${'x'.repeat(MAX_QUERY_LENGTH)}'`;
    const error = errorOf(() => parseQuery({ $filter: long }));
    expect(error.kind).toBe('limit');
    expect(errorOf(() => parseQuery({ a: 'x'.repeat(5000), b: 'y'.repeat(5000) })).kind).toBe('limit');
    expect(() => parseQuery({ $filter: `name eq '${'x'.repeat(8000)}'` })).not.toThrow();
  });

  it('refuses nesting deeper than 32 in $filter, $orderby, $search and $expand', () => {
    const deep = (n: number) => `${'('.repeat(n)}isActive${')'.repeat(n)}`;
    expect(() => parseQuery({ $filter: deep(32) })).not.toThrow();
    expect(errorOf(() => parseQuery({ $filter: deep(33) })).kind).toBe('limit');
    expect(() => parseQuery({ $filter: `${'not '.repeat(32)}isActive` })).not.toThrow();
    expect(errorOf(() => parseQuery({ $filter: `${'not '.repeat(33)}isActive` })).kind).toBe('limit');
    expect(errorOf(() => parseQuery({ $orderby: `length(${deep(32)})` })).kind).toBe('limit');
    expect(errorOf(() => parseQuery({ $search: `${'('.repeat(33)}a${')'.repeat(33)}` })).kind).toBe('limit');
    expect(errorOf(() => parseQuery({ $search: `${'NOT '.repeat(33)}a` })).kind).toBe('limit');
  });
});

describe('parseQuery: $top, $skip, $count, $inlinecount, $format, $skiptoken', () => {
  it('accepts $top 0..1000 and $skip ≥ 0', () => {
    expect(parseQuery({ $top: '0' }).top).toBe(0);
    expect(parseQuery({ $top: '1000' }).top).toBe(1000);
    expect(parseQuery({ $top: ' 7 ' }).top).toBe(7);
    expect(parseQuery({ $skip: '123456789' }).skip).toBe(123456789);
  });

  it.each(['-1', '1001', '1e3', 'abc', '', '5.0', '+5'])('refuses $top=%j', (value) => {
    expect(errorOf(() => parseQuery({ $top: value })).target).toBe('$top');
  });

  it.each(['-1', 'x', '', '99999999999999999'])('refuses $skip=%j', (value) => {
    expect(errorOf(() => parseQuery({ $skip: value })).target).toBe('$skip');
  });

  it('reads $count and $inlinecount=allpages as the same thing', () => {
    expect(parseQuery({ $count: 'true' }).count).toBe(true);
    expect(parseQuery({ $count: 'false' }).count).toBe(false);
    expect(parseQuery({ $inlinecount: 'allpages' }).count).toBe(true);
    expect(parseQuery({ $inlinecount: 'none' }).count).toBe(false);
    expect(errorOf(() => parseQuery({ $count: '' })).target).toBe('$count');
    expect(errorOf(() => parseQuery({ $inlinecount: 'true' })).target).toBe('$inlinecount');
  });

  it('accepts only JSON as $format', () => {
    expect(parseQuery({ $format: 'json' }).format).toBe('json');
    expect(parseQuery({ $format: 'application/json;odata.metadata=minimal' }).format).toBe('json');
    expect(errorOf(() => parseQuery({ $format: 'xml' })).code).toBe(ErrorCode.UnsupportedQueryOption);
  });

  it('keeps $skiptoken opaque, refusing an empty one', () => {
    expect(parseQuery({ $skiptoken: 'abc' }).skiptoken).toBe('abc');
    expect(errorOf(() => parseQuery({ $skiptoken: '' })).kind).toBe('invalidSkipToken');
  });
});

describe('parseQuery: $select', () => {
  it('lists properties and *', () => {
    expect(parseQuery({ $select: 'name, email' }).select?.items).toEqual([
      { kind: 'property', name: 'name', position: 0 },
      { kind: 'property', name: 'email', position: 6 },
    ]);
    expect(parseQuery({ $select: '*' }).select?.items).toEqual([{ kind: 'all', position: 0 }]);
  });

  it('refuses empty items, paths and qualified names', () => {
    expect(errorOf(() => parseQuery({ $select: 'name,' })).kind).toBe('syntax');
    expect(errorOf(() => parseQuery({ $select: '' })).kind).toBe('syntax');
    expect(errorOf(() => parseQuery({ $select: 'Address/City' })).kind).toBe('unsupported');
    expect(errorOf(() => parseQuery({ $select: 'Model.*' })).kind).toBe('unsupported');
    expect(errorOf(() => parseQuery({ $select: 'na-me' })).kind).toBe('syntax');
  });
});

describe('parseQuery: $expand', () => {
  it('parses items with nested options (quotes and parentheses respected)', () => {
    const [users] = parseQuery({
      $expand: "users($select=userKey,name;$filter=contains(name,'a;b)') and isActive;$orderby=name desc;$top=5;$skip=1;$count=true;$search=x)",
    }).expand!;
    expect(users!.path).toBe('users');
    expect(users!.options.select?.items.map((item) => (item.kind === 'property' ? item.name : '*'))).toEqual(['userKey', 'name']);
    expect(users!.options.filter?.text).toBe("contains(name,'a;b)') and isActive");
    expect(users!.options.filter?.option).toBe('$expand/users/$filter');
    expect(users!.options.orderby?.items[0]?.direction).toBe('desc');
    expect(users!.options).toMatchObject({ top: 5, skip: 1, count: true });
    expect(users!.options.search?.expr).toMatchObject({ kind: 'term', value: 'x' });
  });

  it('parses several items and nested $expand', () => {
    const items = parseQuery({ $expand: 'users($expand=groups($select=groupKey)), groups' }).expand!;
    expect(items.map((item) => item.path)).toEqual(['users', 'groups']);
    expect(items[0]!.options.expand?.[0]?.path).toBe('groups');
  });

  it.each([
    ['users($top=1001)', 'limit'],
    ['users($levels=2)', 'unsupported'],
    ['users($apply=x)', 'unsupported'],
    ['*', 'unsupported'],
    ['users/$ref', 'unsupported'],
    ['users/$count', 'unsupported'],
    ['users(', 'syntax'],
    ['users($top=1))', 'syntax'],
    ['users($top=1;$top=2)', 'duplicateOption'],
    ['users,users', 'invalidValue'],
    ['users($filter=)', 'syntax'],
    ['users($top)', 'syntax'],
    ['a($expand=b($expand=c($expand=d)))', 'limit'],
  ])('refuses %j (%s)', (value, kind) => {
    expect(errorOf(() => parseQuery({ $expand: value })).kind).toBe(kind);
  });
});

describe('parseSearch', () => {
  const show = (text: string): string => {
    const walk = (node: ReturnType<typeof parseSearch>['expr']): string =>
      node.kind === 'term'
        ? node.phrase
          ? JSON.stringify(node.value)
          : node.value
        : node.kind === 'not'
          ? `(NOT ${walk(node.operand)})`
          : `(${walk(node.left)} ${node.kind.toUpperCase()} ${walk(node.right)})`;
    return walk(parseSearch(text).expr);
  };

  it('parses words, phrases, implicit and explicit AND, OR, NOT and parentheses', () => {
    expect(show('blue')).toBe('blue');
    expect(show('blue green')).toBe('(blue AND green)');
    expect(show('"blue green"')).toBe('"blue green"');
    expect(show('blue OR green AND NOT red')).toBe('(blue OR (green AND (NOT red)))');
    expect(show('(foo OR that) AND (bar OR baz) AND NOT quux')).toBe('(((foo OR that) AND (bar OR baz)) AND (NOT quux))');
    expect(show('100% a_b \\x')).toBe('((100% AND a_b) AND \\x)');
    expect(show('"say \\"hi\\" \\\\"')).toBe('"say \\"hi\\" \\\\"');
  });

  it.each([
    ['', 0],
    ['"blue', 0],
    ['blue OR', 7],
    ['AND', 0],
    ['(blue', 5],
    ['blue)', 4],
    ['""', 0],
    ['"a\\b"', 2],
  ])('refuses %j with the position %d', (text, position) => {
    const error = errorOf(() => parseSearch(text));
    expect(error.kind).toBe('syntax');
    expect(error.position).toBe(position);
  });
});
