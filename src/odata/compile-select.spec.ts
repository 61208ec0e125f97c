import { describe, expect, it } from '@jest/globals';
import { AppError } from '../common/errors/app-error.js';
import { compileExpand, compileSelect } from './compile-select.js';
import { GROUP_ENTITY, USER_ENTITY } from './entity-model.js';
import { parseExpand, parseSelect } from './parse-query.js';
import { Aliases, SqlParams } from './sql.js';

const select = (text: string | undefined, model = GROUP_ENTITY) => compileSelect(text === undefined ? undefined : parseSelect(text, '$select'), { model, alias: 'r' });

describe('compileSelect', () => {
  it('selects every property by default, aliased to its API name', () => {
    const all = select(undefined);
    expect(all.properties).toEqual(GROUP_ENTITY.properties.map((p) => p.name));
    expect(all.items).toContain('r.group_key AS "groupKey"');
    expect(select('*').properties).toEqual(all.properties);
  });

  it('selects the listed properties in model order, always with id, names matched case-insensitively', () => {
    expect(select('Name, isActive, name')).toEqual({
      items: ['r.id AS "id"', 'r.name AS "name"', 'r.is_active AS "isActive"'],
      properties: ['id', 'name', 'isActive'],
    });
    expect(select('userkey', USER_ENTITY).properties).toEqual(['id', 'userKey']);
  });

  it('refuses unknown and navigation properties', () => {
    expect(() => select('colour')).toThrow("Unknown property 'colour' of Group at position 0 of $select");
    expect(() => select('name,users')).toThrow('use $expand');
    expect(() => select('name,users')).toThrow(AppError);
  });
});

describe('compileExpand', () => {
  const expand = (text: string, model = GROUP_ENTITY) => {
    const params = new SqlParams(3);
    const compiled = compileExpand(parseExpand(text, '$expand', 0, 1), { model, alias: 'r' }, params, new Aliases());
    return { ...compiled, params: params.values };
  };

  it('builds a correlated JSON-array subquery, scoped to the outer row (default top 100, order by key then id)', () => {
    const { items, columns, params } = expand('users');
    expect(columns).toEqual(['users']);
    expect(params).toEqual([]);
    expect(items[0]).toBe(
      "COALESCE((SELECT json_agg(json_build_object('id', o_t1_x.\"id\", 'userKey', o_t1_x.\"userKey\", 'name', o_t1_x.\"name\", 'email', o_t1_x.\"email\", " +
        "'isActive', o_t1_x.\"isActive\", 'createdOn', o_t1_x.\"createdOn\", 'modifiedOn', o_t1_x.\"modifiedOn\", 'createdBy', o_t1_x.\"createdBy\", " +
        "'modifiedBy', o_t1_x.\"modifiedBy\") ORDER BY o_t1_x.o_n) FROM (SELECT o_t1.id AS \"id\", o_t1.user_key AS \"userKey\", o_t1.name AS \"name\", " +
        'o_t1.email AS "email", o_t1.is_active AS "isActive", ' +
        "to_char(o_t1.created_on AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS \"createdOn\", " +
        "to_char(o_t1.modified_on AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS \"modifiedOn\", " +
        'o_t1.created_by AS "createdBy", o_t1.modified_by AS "modifiedBy", ' +
        'row_number() OVER (ORDER BY o_t1.user_key COLLATE "C" ASC, o_t1.id ASC) AS o_n ' +
        'FROM memberships o_m1 JOIN users o_t1 ON o_t1.tenant_key = o_m1.tenant_key AND o_t1.org_key = o_m1.org_key AND o_t1.id = o_m1.user_id ' +
        'WHERE o_m1.tenant_key = r.tenant_key AND o_m1.org_key = r.org_key AND o_m1.group_id = r.id ' +
        'ORDER BY o_t1.user_key COLLATE "C" ASC, o_t1.id ASC LIMIT 100 OFFSET 0) o_t1_x), \'[]\'::json) AS "users"',
    );
  });

  it('applies nested $select, $filter, $orderby, $top, $skip, $search and $count', () => {
    const { items, columns, params } = expand("Users($select=userKey;$filter=startswith(name,'A');$orderby=name desc;$top=5;$skip=2;$search=x;$count=true)");
    expect(columns).toEqual(['users', 'users@odata.count']);
    expect(items[0]).toContain("json_build_object('id', o_t1_x.\"id\", 'userKey', o_t1_x.\"userKey\")");
    expect(items[0]).toContain('AND (o_t1.name LIKE $3::text) AND (o_t1.user_key ILIKE $4::text');
    expect(items[0]).toContain('ORDER BY o_t1.name COLLATE "C" DESC, o_t1.id DESC LIMIT 5 OFFSET 2');
    expect(items[1]).toMatch(/^\(SELECT count\(\*\) FROM memberships o_m2 JOIN users o_t2 .* AND \(o_t2\.name LIKE \$5::text\) AND .*\) AS "users@odata\.count"$/);
    expect(params).toEqual(['A%', '%x%', 'A%', '%x%']);
  });

  it('nests expansions, each correlated on its own outer row', () => {
    const { items } = expand('groups($expand=users($select=userKey))', USER_ENTITY);
    expect(items[0]).toContain('o_m1.user_id = r.id');
    expect(items[0]).toContain('o_m2.group_id = o_t1.id');
    expect(items[0]).toContain("'users', o_t1_x.\"users\"");
  });

  it('refuses unknown navigation properties', () => {
    expect(() => expand('groups')).toThrow("Unknown property 'groups' of Group");
    expect(() => expand('name')).toThrow('is not a navigation property');
  });
});
