import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { compileCollectionQuery } from './compile-query.js';
import { GROUP_ENTITY, USER_ENTITY } from './entity-model.js';
import { CompiledQueryCache } from './query-cache.js';

const SCOPE = 'r.tenant_key = $1 AND r.org_key = $2';

describe('CompiledQueryCache', () => {
  it('hands out the same compiled query for the same options, model and compile options', () => {
    const cache = new CompiledQueryCache(10);
    const first = cache.compile({ $filter: "name eq 'a'", $top: '5' }, GROUP_ENTITY);
    expect(cache.compile({ $filter: "name eq 'a'", $top: '5' }, GROUP_ENTITY)).toBe(first);
    expect(cache.compile({ $filter: "name eq 'a'", $top: '5' }, USER_ENTITY)).not.toBe(first);
    expect(cache.compile({ $filter: "name eq 'a'", $top: '5' }, GROUP_ENTITY, { maxPageSize: 2 })).not.toBe(first);
    expect(cache.compile({ $filter: "name eq 'b'", $top: '5' }, GROUP_ENTITY)).not.toBe(first);
    const member = cache.compile({}, USER_ENTITY, { firstParam: 4, tokenContext: 'g1' });
    expect(cache.compile({}, USER_ENTITY, { firstParam: 4, tokenContext: 'g2' })).not.toBe(member);
    expect(cache.size).toBe(6);
  });

  it('keeps the most recently used, up to its capacity', () => {
    const cache = new CompiledQueryCache(2);
    const a = cache.compile({ $top: '1' }, GROUP_ENTITY);
    const b = cache.compile({ $top: '2' }, GROUP_ENTITY);
    expect(cache.compile({ $top: '1' }, GROUP_ENTITY)).toBe(a); // a is now the most recent
    cache.compile({ $top: '3' }, GROUP_ENTITY); // evicts b
    expect(cache.size).toBe(2);
    expect(cache.compile({ $top: '1' }, GROUP_ENTITY)).toBe(a);
    expect(cache.compile({ $top: '2' }, GROUP_ENTITY)).not.toBe(b);
  });

  it('keeps no failure: an invalid query throws every time', () => {
    const cache = new CompiledQueryCache(10);
    for (let i = 0; i < 3; i++) expect(() => cache.compile({ $filter: 'colour eq 1' }, GROUP_ENTITY)).toThrow("Unknown property 'colour' of Group");
    expect(cache.size).toBe(0);
  });

  it('keeps nothing with a capacity of 0', () => {
    const cache = new CompiledQueryCache(0);
    expect(cache.compile({}, GROUP_ENTITY)).not.toBe(cache.compile({}, GROUP_ENTITY));
    expect(cache.size).toBe(0);
    expect(() => new CompiledQueryCache(-1)).toThrow(Error);
  });

  it('always answers what compiling afresh answers', () => {
    const cache = new CompiledQueryCache(8);
    const option = fc.record(
      {
        $filter: fc.constantFrom("name eq 'a'", "contains(name,'x')", 'isActive', "groupKey in ('a','b')"),
        $orderby: fc.constantFrom('name', 'groupKey desc', 'createdOn'),
        $top: fc.constantFrom('1', '20'),
        $skip: fc.constantFrom('0', '7'),
        $count: fc.constantFrom('true', 'false'),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(option, fc.constantFrom(undefined, 10, 1000), (raw, maxPageSize) => {
        const kept = cache.compile(raw, GROUP_ENTITY, { maxPageSize });
        const fresh = compileCollectionQuery(raw, GROUP_ENTITY, { maxPageSize });
        expect(kept.selectWithCountStatement(SCOPE)).toBe(fresh.selectWithCountStatement(SCOPE));
        expect(kept.params).toEqual(fresh.params);
        expect({ pageSize: kept.pageSize, top: kept.top, count: kept.count, offset: kept.offset }).toEqual({
          pageSize: fresh.pageSize,
          top: fresh.top,
          count: fresh.count,
          offset: fresh.offset,
        });
      }),
      { numRuns: 300 },
    );
  });
});
