import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PGlite } from '@electric-sql/pglite';
import fc from 'fast-check';
import type { QueryRunner } from 'typeorm';
import { InitialSchema1764115200000 } from '../database/migrations/1764115200000-initial-schema.js';
import { CompileCollectionOptions, compileCollectionQuery } from './compile-query.js';
import { EntityModel, GROUP_ENTITY, USER_ENTITY } from './entity-model.js';

/**
 * Compiled queries run on a real PostgreSQL (PGlite, in memory) against the migrated schema: the SQL
 * is valid, the results are the ones OData semantics give, keyset paging walks the same order as one
 * big page, navigation subqueries stay inside the outer row's tenant, and random filters agree with an
 * in-memory evaluation of the same filter.
 */

let pg: PGlite;

const G = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
const U = (n: number) => `10000000-0000-0000-0000-${String(n).padStart(12, '0')}`;

interface GroupRow {
  id: string;
  groupKey: string;
  name: string;
  email: string | null;
  notes: string | null;
  isActive: boolean;
  createdOn: string;
}

const GROUPS: GroupRow[] = [
  { id: G(1), groupKey: 'ops', name: 'Operations', email: 'ops@x.test', notes: null, isActive: true, createdOn: '2024-01-01T10:00:00Z' },
  { id: G(2), groupKey: 'Sales', name: 'Sales 100%', email: null, notes: 'notes_1', isActive: false, createdOn: '2024-06-01T23:30:00.123456Z' },
  { id: G(3), groupKey: 'dev', name: "O'Brien team", email: 'dev@x.test', notes: 'x', isActive: true, createdOn: '2025-02-28T00:00:00Z' },
  { id: G(4), groupKey: 'a_b', name: 'ab', email: 'AB@x.test', notes: null, isActive: true, createdOn: '2024-01-01T10:00:00Z' },
  { id: G(5), groupKey: 'aXb', name: 'ab', email: null, notes: 'é', isActive: false, createdOn: '2023-12-31T23:59:59.999Z' },
  { id: G(6), groupKey: 'B', name: 'Ab', email: 'b@x.test', notes: '', isActive: true, createdOn: '2024-01-01T10:00:00Z' },
];

beforeAll(async () => {
  pg = await PGlite.create();
  const shim = { query: (sql: string) => pg.query(sql) } as unknown as QueryRunner;
  await new InitialSchema1764115200000().up(shim);
  for (const g of GROUPS) {
    await pg.query(
      `INSERT INTO groups (tenant_key, org_key, id, group_key, name, email, notes, is_active, created_on) VALUES ('t', 'o', $1, $2, $3, $4, $5, $6, $7)`,
      [g.id, g.groupKey, g.name, g.email, g.notes, g.isActive, g.createdOn],
    );
  }
  await pg.exec(`
    INSERT INTO users (tenant_key, org_key, id, user_key, name, email, is_active) VALUES
      ('t', 'o', '${U(1)}', 'alice', 'Alice', 'alice@x.test', true),
      ('t', 'o', '${U(2)}', 'bob', 'Bob', NULL, false),
      ('t', 'o', '${U(3)}', 'carol', 'Carol', 'carol@x.test', true);
    INSERT INTO memberships (tenant_key, org_key, group_id, user_id) VALUES
      ('t', 'o', '${G(1)}', '${U(1)}'), ('t', 'o', '${G(1)}', '${U(2)}'), ('t', 'o', '${G(1)}', '${U(3)}'),
      ('t', 'o', '${G(3)}', '${U(2)}'), ('t', 'o', '${G(4)}', '${U(1)}');
    -- Another tenant reusing the same ids: subqueries that forgot the tenant would see these rows.
    INSERT INTO groups (tenant_key, org_key, id, group_key, name) VALUES ('t2', 'o', '${G(2)}', 'ops', 'Other'), ('t', 'o2', '${G(9)}', 'x', 'Other org');
    INSERT INTO users (tenant_key, org_key, id, user_key, name) VALUES ('t2', 'o', '${U(1)}', 'mallory', 'Mallory'), ('t2', 'o', '${U(9)}', 'trent', 'Trent');
    INSERT INTO memberships (tenant_key, org_key, group_id, user_id) VALUES ('t2', 'o', '${G(2)}', '${U(1)}'), ('t2', 'o', '${G(2)}', '${U(9)}');
  `);
}, 60_000);

afterAll(async () => {
  await pg?.close();
});

const SCOPE = 'r.tenant_key = $1 AND r.org_key = $2';

async function run(query: Record<string, unknown>, model: EntityModel = GROUP_ENTITY, options: CompileCollectionOptions = {}) {
  const compiled = compileCollectionQuery(query, model, options);
  const page = await pg.query<Record<string, unknown>>(compiled.selectStatement(SCOPE), ['t', 'o', ...compiled.params]);
  const count = await pg.query<{ count: number | string }>(compiled.countStatement(SCOPE), ['t', 'o', ...compiled.countParams]);
  const keys = page.rows.map((row) => (row.groupKey ?? row.userKey) as string);
  return { compiled, rows: page.rows, keys, count: Number(count.rows[0]!.count) };
}

async function keysOf(filter: string, model: EntityModel = GROUP_ENTITY): Promise<string[]> {
  return (await run({ $filter: filter }, model)).keys;
}

describe('compiled queries on PostgreSQL (PGlite)', () => {
  it('lists the scope in key order (code point: upper case first), counting it', async () => {
    const { keys, count } = await run({ $count: 'true' });
    expect(keys).toEqual(['B', 'Sales', 'aXb', 'a_b', 'dev', 'ops']);
    expect(count).toBe(6);
  });

  it('filters strings case-sensitively, with OData null semantics', async () => {
    expect(await keysOf("name eq 'ab'")).toEqual(['aXb', 'a_b']);
    expect(await keysOf("tolower(name) eq 'ab'")).toEqual(['B', 'aXb', 'a_b']);
    expect(await keysOf("name eq 'O''Brien team'")).toEqual(['dev']);
    expect(await keysOf("email ne 'ops@x.test'")).toEqual(['B', 'Sales', 'aXb', 'a_b', 'dev']);
    expect(await keysOf("not (email eq 'ops@x.test')")).toEqual(['B', 'Sales', 'aXb', 'a_b', 'dev']);
    expect(await keysOf('email eq null')).toEqual(['Sales', 'aXb']);
    expect(await keysOf("not (email gt 'c')")).toEqual(['B', 'Sales', 'aXb', 'a_b']);
    expect(await keysOf("name gt 'Z'")).toEqual(['aXb', 'a_b']);
    expect(await keysOf("name lt 'P'")).toEqual(['B', 'dev', 'ops']);
  });

  it('escapes LIKE wildcards in contains/startswith/endswith', async () => {
    expect(await keysOf("contains(name,'100%')")).toEqual(['Sales']);
    expect(await keysOf("contains(groupKey,'_')")).toEqual(['a_b']);
    expect(await keysOf("startswith(groupKey,'a_')")).toEqual(['a_b']);
    expect(await keysOf("endswith(notes,'_1')")).toEqual(['Sales']);
    expect(await keysOf("contains(notes,'')")).toEqual(['B', 'Sales', 'aXb', 'dev']);
  });

  it('evaluates in, string functions (0-based), date parts in UTC and arithmetic', async () => {
    expect(await keysOf("groupKey in ('ops', 'dev', 'nope')")).toEqual(['dev', 'ops']);
    expect(await keysOf("notes in ('x', null)")).toEqual(['a_b', 'dev', 'ops']);
    expect(await keysOf("indexof(name,'team') eq 8 and substring(name,2,5) eq 'Brien'")).toEqual(['dev']);
    expect(await keysOf("substring(name,-5,-3) eq '' and substring(name, 2147483647) eq '' and length(name) div 0 eq null")).toHaveLength(6);
    expect(await keysOf("trim(concat(' ', name)) eq name and toupper(groupKey) eq 'SALES'")).toEqual(['Sales']);
    expect(await keysOf('year(createdOn) eq 2024 and month(createdOn) ge 6')).toEqual(['Sales']);
    expect(await keysOf('date(createdOn) eq 2024-06-01 and hour(createdOn) eq 23 and second(createdOn) eq 0')).toEqual(['Sales']);
    expect(await keysOf('createdOn gt 2024-06-01T23:30:00.123455Z and createdOn lt 2024-06-01T23:30:00.123457Z')).toEqual(['Sales']);
    expect(await keysOf('createdOn lt 2024-01-01')).toEqual(['aXb']);
    expect(await keysOf('length(name) mul 9223372036854775807 mul 9223372036854775807 gt 0 and length(name) sub 1 sub 1 eq 0')).toEqual(['B', 'aXb', 'a_b']);
    expect(await keysOf('id eq 00000000-0000-0000-0000-000000000003')).toEqual(['dev']);
  });

  it('keeps navigation subqueries inside the outer row’s tenant and org', async () => {
    expect(await keysOf('users/$count ge 1')).toEqual(['a_b', 'dev', 'ops']);
    expect(await keysOf('users/$count eq 3')).toEqual(['ops']);
    // Sales (G2) has two members in tenant t2 only.
    expect(await keysOf('users/any()')).not.toContain('Sales');
    expect(await keysOf("users/any(u: u/userKey eq 'mallory')")).toEqual([]);
    expect(await keysOf("users/any(u: u/userKey eq 'bob')")).toEqual(['dev', 'ops']);
    expect(await keysOf('users/all(u: u/isActive)')).toEqual(['B', 'Sales', 'aXb', 'a_b']);
    expect(await keysOf("users/any(u: u/name eq 'Alice' and u/groups/$count gt 1)")).toEqual(['a_b', 'ops']);
    expect(await keysOf("groups/any(g: g/groupKey eq 'ops') and not groups/any(g: g/groupKey eq 'dev')", USER_ENTITY)).toEqual(['alice', 'carol']);
  });

  it('searches case-insensitively in every text field, wildcards literal', async () => {
    expect((await run({ $search: 'OPS' })).keys).toEqual(['ops']);
    expect((await run({ $search: '"100%"' })).keys).toEqual(['Sales']);
    expect((await run({ $search: 'a_b OR é' })).keys).toEqual(['aXb', 'a_b']);
    expect((await run({ $search: 'NOT test' })).keys).toEqual(['Sales', 'aXb']);
    expect((await run({ $search: 'b@x' }, USER_ENTITY)).keys).toEqual([]);
  });

  it('selects and expands (JSON arrays, nested options, counts), within the scope', async () => {
    const { rows } = await run({
      $filter: "groupKey in ('ops','Sales')",
      $select: 'groupKey',
      $expand: 'users($select=userKey;$filter=isActive or email eq null;$orderby=userKey desc;$top=2;$count=true;$expand=groups($select=groupKey))',
    });
    expect(rows.map((row) => Object.keys(row).sort())).toEqual([
      ['__keyset', 'groupKey', 'id', 'users', 'users@odata.count'],
      ['__keyset', 'groupKey', 'id', 'users', 'users@odata.count'],
    ]);
    expect(rows[0]).toMatchObject({ groupKey: 'Sales', users: [], 'users@odata.count': 0 });
    expect(rows[1]).toMatchObject({
      groupKey: 'ops',
      'users@odata.count': 3,
      users: [
        { id: U(3), userKey: 'carol', groups: [{ id: G(1), groupKey: 'ops' }] },
        { id: U(2), userKey: 'bob', groups: [{ id: G(3), groupKey: 'dev' }, { id: G(1), groupKey: 'ops' }] },
      ],
    });
    const { rows: full } = await run({ $filter: "groupKey eq 'a_b'", $expand: 'users' });
    expect(full[0]!.users).toEqual([
      {
        id: U(1),
        userKey: 'alice',
        name: 'Alice',
        email: 'alice@x.test',
        isActive: true,
        createdOn: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        modifiedOn: expect.stringMatching(/Z$/),
        createdBy: null,
        modifiedBy: null,
      },
    ]);
  });

  it.each([
    'name',
    'name desc',
    'email',
    'email desc',
    'notes, isActive desc',
    'notes desc, name',
    'createdOn',
    'createdOn desc, groupKey',
    'users/$count desc, createdOn',
    'tolower(name) desc',
    'length(name) sub 3',
    'isActive, email desc',
  ])('pages with $skiptoken through exactly the unpaged order: $orderby=%s', async (orderby) => {
    const all = (await run({ $orderby: orderby })).keys;
    const seen: string[] = [];
    let query: Record<string, unknown> = { $orderby: orderby, $count: 'true' };
    for (let page = 0; page < 10; page++) {
      const { compiled, rows, count } = await run(query, GROUP_ENTITY, { maxPageSize: 2 });
      expect(count).toBe(6);
      seen.push(...rows.slice(0, compiled.pageSize).map((row) => row.groupKey as string));
      if (rows.length <= compiled.pageSize) break;
      query = compiled.nextLinkQuery(rows[compiled.pageSize - 1]!);
    }
    expect(seen).toEqual(all);
  });

  it('honours $top across pages and $skip on the first page', async () => {
    const first = await run({ $top: '3', $skip: '1' }, GROUP_ENTITY, { maxPageSize: 2 });
    expect(first.keys).toEqual(['Sales', 'aXb', 'a_b']);
    const next = first.compiled.nextLinkQuery(first.rows[1]!);
    expect(next.$top).toBe('1');
    const second = await run(next, GROUP_ENTITY, { maxPageSize: 2 });
    expect(second.keys.slice(0, second.compiled.pageSize)).toEqual(['a_b']);
  });

  it('pageJsonStatement: the select statement’s rows as one JSON array, same order, same columns', async () => {
    // JSON-typed properties only: timestamps arrive as Date from the driver but as text in JSON.
    const jsonSafe = ['groupKey', 'name', 'email', 'notes', 'isActive'];
    const orderKey = fc.tuple(fc.constantFrom(...jsonSafe, 'createdOn'), fc.constantFrom('', ' desc')).map(([name, direction]) => name + direction);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(orderKey, { minLength: 0, maxLength: 3, selector: (key) => key.split(' ')[0] }),
        fc.subarray(jsonSafe, { minLength: 1 }),
        fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }),
        fc.integer({ min: 0, max: 7 }),
        fc.constantFrom(undefined, 'isActive', "name ne 'ab'", "groupKey eq 'none'"),
        async (orderby, select, top, skip, filter) => {
          const raw = {
            ...(orderby.length > 0 ? { $orderby: orderby.join(',') } : {}),
            ...(select.length > 0 ? { $select: select.join(',') } : {}),
            ...(top === undefined ? {} : { $top: String(top) }),
            ...(filter === undefined ? {} : { $filter: filter }),
            $skip: String(skip),
          };
          const compiled = compileCollectionQuery(raw, GROUP_ENTITY, { maxPageSize: 3 });
          const page = await pg.query<Record<string, unknown>>(compiled.selectStatement(SCOPE), ['t', 'o', ...compiled.params]);
          const json = await pg.query<{ rows: Record<string, unknown>[] }>(`SELECT (${compiled.pageJsonStatement(SCOPE)}) AS rows`, ['t', 'o', ...compiled.params]);
          const rows = json.rows[0]!.rows.map(({ [compiled.rowNumberColumn]: position, ...row }) => {
            expect(typeof position).toBe('number');
            return row;
          });
          expect(rows).toEqual(page.rows);
          expect(rows.map((row) => Object.keys(row))).toEqual(page.rows.map((row) => Object.keys(row)));
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);

  // ---- differential: random filters, SQL vs an in-memory evaluation of OData semantics ----------

  type V = string | number | boolean | null;
  type Expr = { sql: string; eval: (g: GroupRow) => V };
  const alphabet = fc.constantFrom('a', 'A', 'b', 'B', '_', '%', "'", 'é', ' ', '1');
  const literal = fc.string({ unit: alphabet, maxLength: 4 });
  const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;
  const prop = fc.constantFrom<keyof GroupRow>('groupKey', 'name', 'email', 'notes');
  const stringExpr: fc.Arbitrary<Expr> = fc.oneof(
    prop.map((p) => ({ sql: p, eval: (g: GroupRow) => g[p] as V })),
    prop.map((p) => ({ sql: `tolower(${p})`, eval: (g: GroupRow) => (g[p] === null ? null : (g[p] as string).toLowerCase()) })),
  );
  const cmp = (op: string, a: V, b: V): boolean => {
    if (op === 'eq') return a === b;
    if (op === 'ne') return a !== b;
    if (a === null || b === null) return false;
    return op === 'gt' ? a > b : op === 'ge' ? a >= b : op === 'lt' ? a < b : a <= b;
  };
  const and3 = (a: V, b: V): V => (a === false || b === false ? false : a === null || b === null ? null : true);
  const or3 = (a: V, b: V): V => (a === true || b === true ? true : a === null || b === null ? null : false);
  const boolExpr: fc.Arbitrary<Expr> = fc.letrec<{ b: Expr }>((tie) => ({
    b: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant({ sql: 'isActive', eval: (g: GroupRow) => g.isActive }),
      fc.tuple(stringExpr, fc.constantFrom('eq', 'ne', 'gt', 'ge', 'lt', 'le'), literal).map(([s, op, v]) => ({
        sql: `${s.sql} ${op} ${quote(v)}`,
        eval: (g: GroupRow) => cmp(op, s.eval(g), v),
      })),
      fc.tuple(stringExpr, fc.constantFrom('eq', 'ne'), stringExpr).map(([a, op, b]) => ({ sql: `${a.sql} ${op} ${b.sql}`, eval: (g: GroupRow) => cmp(op, a.eval(g), b.eval(g)) })),
      fc.tuple(prop, fc.constantFrom('eq', 'ne')).map(([p, op]) => ({ sql: `${p} ${op} null`, eval: (g: GroupRow) => (op === 'eq') === (g[p] === null) })),
      fc.tuple(fc.constantFrom('contains', 'startswith', 'endswith'), stringExpr, literal).map(([fn, s, v]) => ({
        sql: `${fn}(${s.sql},${quote(v)})`,
        eval: (g: GroupRow) => {
          const value = s.eval(g) as string | null;
          if (value === null) return null;
          return fn === 'contains' ? value.includes(v) : fn === 'startswith' ? value.startsWith(v) : value.endsWith(v);
        },
      })),
      fc.tuple(prop, fc.constantFrom('eq', 'ne', 'gt', 'lt'), fc.integer({ min: 0, max: 12 })).map(([p, op, n]) => ({
        sql: `length(${p}) ${op} ${n}`,
        eval: (g: GroupRow) => cmp(op, g[p] === null ? null : [...(g[p] as string)].length, n),
      })),
      fc.tuple(prop, fc.array(literal, { minLength: 1, maxLength: 3 })).map(([p, items]) => ({
        sql: `${p} in (${items.map(quote).join(',')})`,
        eval: (g: GroupRow) => items.includes(g[p] as string),
      })),
      tie('b').map((e) => ({ sql: `not (${e.sql})`, eval: (g: GroupRow) => { const v = e.eval(g); return v === null ? null : !v; } })),
      fc.tuple(tie('b'), fc.constantFrom('and', 'or'), tie('b')).map(([a, op, b]) => ({
        sql: `(${a.sql}) ${op} (${b.sql})`,
        eval: (g: GroupRow) => (op === 'and' ? and3(a.eval(g), b.eval(g)) : or3(a.eval(g), b.eval(g))),
      })),
    ),
  })).b;

  it('agrees with an in-memory evaluation of random filters and searches', async () => {
    await fc.assert(
      fc.asyncProperty(boolExpr, fc.option(fc.string({ unit: alphabet, minLength: 1, maxLength: 3 }).filter((s) => s.trim() !== '' && !/^(AND|OR|NOT)$/.test(s)), { nil: undefined }), async (filter, term) => {
        const search = term === undefined ? undefined : `"${term}"`;
        const expected = GROUPS.filter((g) => filter.eval(g) === true)
          .filter((g) => term === undefined || [g.groupKey, g.name, g.email, g.notes].some((v) => v !== null && v.toLowerCase().includes(term.toLowerCase())))
          .map((g) => g.groupKey)
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const { keys, count } = await run({ $filter: filter.sql, ...(search ? { $search: search } : {}) });
        expect({ filter: filter.sql, search, keys }).toEqual({ filter: filter.sql, search, keys: expected });
        expect(count).toBe(expected.length);
      }),
      { numRuns: 250 },
    );
  }, 60_000);
});
