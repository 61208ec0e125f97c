import { describe, expect, it } from '@jest/globals';
import { AppError } from '../common/errors/app-error.js';
import { compileOrderKeys, keysetSelectItem, orderByClause } from './compile-orderby.js';
import { GROUP_ENTITY, USER_ENTITY } from './entity-model.js';
import { parseOrderBy } from './parse-expression.js';
import { newScope, SqlParams } from './sql.js';

function order(text: string, model = GROUP_ENTITY) {
  const params = new SqlParams(3);
  const keys = compileOrderKeys(parseOrderBy(text, '$orderby'), newScope(model, 'r', params));
  return { keys, clause: orderByClause(keys), params: params.values };
}

describe('compileOrderKeys / orderByClause', () => {
  it('orders strings by code point and always ends with the id tie-breaker', () => {
    expect(order('name').clause).toBe('r.name COLLATE "C" ASC, r.id ASC');
    expect(order('name desc, createdOn').clause).toBe('r.name COLLATE "C" DESC, r.created_on ASC, r.id ASC');
  });

  it('gives the tie-breaker the direction of the last key', () => {
    expect(order('createdOn desc').clause).toBe('r.created_on DESC, r.id DESC');
  });

  it('does not repeat id when the order already has it', () => {
    expect(order('id desc').clause).toBe('r.id DESC');
    expect(order('ID, name').clause).toBe('r.id ASC, r.name COLLATE "C" ASC');
  });

  it('puts nulls first ascending and last descending (nulls are the smallest values)', () => {
    expect(order('email').clause).toBe('r.email COLLATE "C" ASC NULLS FIRST, r.id ASC');
    expect(order('email desc').clause).toBe('r.email COLLATE "C" DESC NULLS LAST, r.id DESC');
  });

  it('accepts expressions as keys, with bound literals', () => {
    expect(order("users/$count desc, tolower(name), indexof(name,'x')")).toMatchObject({
      clause:
        '(SELECT count(*) FROM memberships o_m1 WHERE o_m1.tenant_key = r.tenant_key AND o_m1.org_key = r.org_key AND o_m1.group_id = r.id) DESC, ' +
        'lower(r.name) COLLATE "C" ASC, (strpos(r.name, $3::text) - 1) ASC, r.id ASC',
      params: ['x'],
    });
    expect(order('groups/$count', USER_ENTITY).clause).toContain('o_m1.user_id = r.id');
  });

  it('refuses unknown properties, navigation properties and null keys', () => {
    for (const text of ['colour', 'users', 'null']) expect(() => order(text)).toThrow(AppError);
  });
});

describe('keysetSelectItem', () => {
  it('collects the key values as a JSON array, numbers as text', () => {
    const { keys } = order('users/$count desc, name');
    expect(keysetSelectItem(keys, '__keyset')).toMatch(/^json_build_array\(\(\(SELECT count\(\*\) .*\)\)::text, r\.name, r\.id\) AS "__keyset"$/);
  });
});
