import { describe, expect, it } from '@jest/globals';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { compileExpression, compileFilter } from './compile-filter.js';
import { compileSearch } from './compile-search.js';
import { EntityModel, GROUP_ENTITY, USER_ENTITY } from './entity-model.js';
import { ODataError } from './odata-error.js';
import { parseExpression } from './parse-expression.js';
import { parseSearch } from './parse-search.js';
import { newScope, SqlParams } from './sql.js';
import { thrownBy } from '../../test/support/thrown.js';

function compile(filter: string, model: EntityModel = GROUP_ENTITY, firstParam = 3): { sql: string; params: unknown[] } {
  const params = new SqlParams(firstParam);
  const sql = compileFilter({ option: '$filter', text: filter, expr: parseExpression(filter, '$filter') }, newScope(model, 'r', params));
  return { sql, params: params.values };
}

function errorOf(filter: string, model: EntityModel = GROUP_ENTITY): ODataError {
  const error = thrownBy(() => compile(filter, model), ODataError);
  expect(error.status).toBe(400);
  return error;
}

const MEMBERS_OF_R =
  'FROM memberships o_m1 JOIN users o_t1 ON o_t1.tenant_key = o_m1.tenant_key AND o_t1.org_key = o_m1.org_key AND o_t1.id = o_m1.user_id ' +
  'WHERE o_m1.tenant_key = r.tenant_key AND o_m1.org_key = r.org_key AND o_m1.group_id = r.id';

describe('literal', () => {
  it('binds every value as a typed parameter, numbered from firstParam', () => {
    expect(compile("name eq 'O''Brien'", GROUP_ENTITY, 7)).toEqual({ sql: '(r.name COLLATE "C" = $7::text)', params: ["O'Brien"] });
    expect(compile('isActive eq true')).toEqual({ sql: '(r.is_active = $3::boolean)', params: [true] });
    expect(compile('id eq 01234567-89ab-cdef-0123-456789abcdef')).toEqual({ sql: '(r.id = $3::uuid)', params: ['01234567-89ab-cdef-0123-456789abcdef'] });
    expect(compile('createdOn gt 2024-01-31T10:00:00.5+01:00')).toEqual({
      sql: '(r.created_on > $3::timestamptz)',
      params: ['2024-01-31T10:00:00.5+01:00'],
    });
    expect(compile('length(name) gt 5 and length(name) lt 9223372036854775807 and length(name) ne 1.5')).toEqual({
      sql: '(((char_length(r.name) > $3::bigint) AND (char_length(r.name) < $4::bigint)) AND (char_length(r.name) <> $5::numeric))',
      params: [5, '9223372036854775807', '1.5'],
    });
  });

  it('promotes a quoted GUID compared with a Guid, and a date compared with a DateTimeOffset', () => {
    expect(compile("id eq '01234567-89AB-cdef-0123-456789abcdef'").params).toEqual(['01234567-89ab-cdef-0123-456789abcdef']);
    expect(compile('createdOn ge 2024-05-01')).toEqual({ sql: '(r.created_on >= $3::timestamptz)', params: ['2024-05-01T00:00:00Z'] });
    expect(errorOf("id eq 'nope'").kind).toBe('typeMismatch');
  });

  it('compiles a constant filter', () => {
    expect(compile('true')).toEqual({ sql: '$3::boolean', params: [true] });
    expect(compile('true eq false').sql).toBe('($3::boolean = $4::boolean)');
  });
});

describe('null', () => {
  it('eq null / ne null → IS NULL / IS NOT NULL, on either side', () => {
    expect(compile('email eq null').sql).toBe('(r.email IS NULL)');
    expect(compile('null ne email').sql).toBe('(r.email IS NOT NULL)');
    expect(compile('null eq null').sql).toBe('TRUE');
  });

  it('refuses ordering comparisons with null', () => {
    expect(errorOf('email gt null').kind).toBe('typeMismatch');
  });
});

describe('property', () => {
  it('maps names to columns of the model, exactly or case-insensitively', () => {
    expect(compile('isActive').sql).toBe('r.is_active');
    expect(compile("GroupKey eq 'A'").sql).toBe('(r.group_key COLLATE "C" = $3::text)');
    expect(compile("$it/groupkey eq 'A'").sql).toBe('(r.group_key COLLATE "C" = $3::text)');
    expect(compile("userKey eq 'a'", USER_ENTITY).sql).toBe('(r.user_key COLLATE "C" = $3::text)');
  });

  it('names unknown properties with their position', () => {
    const error = errorOf("name eq 'x' and colour eq 'red'");
    expect(error.kind).toBe('unknownProperty');
    expect(error.message).toBe("Unknown property 'colour' of Group at position 16 of $filter");
    expect(error.position).toBe(16);
    expect(errorOf("userKey eq 'a'").kind).toBe('unknownProperty');
    expect(errorOf("groupKey eq 'a'", USER_ENTITY).kind).toBe('unknownProperty');
  });

  it('refuses navigation properties used as values and paths through primitives', () => {
    expect(errorOf("users eq 'a'").message).toContain('users/any');
    expect(errorOf("users/name eq 'a'").kind).toBe('typeMismatch');
    expect(errorOf("name/length eq 'a'").kind).toBe('typeMismatch');
  });
});

describe('count', () => {
  it('counts the related rows, correlated on the outer row scope', () => {
    expect(compile('users/$count gt 10')).toEqual({
      sql:
        '((SELECT count(*) FROM memberships o_m1 WHERE o_m1.tenant_key = r.tenant_key AND o_m1.org_key = r.org_key AND o_m1.group_id = r.id) > $3::bigint)',
      params: [10],
    });
    expect(compile('groups/$count eq 0', USER_ENTITY).sql).toContain('o_m1.user_id = r.id');
  });

  it('refuses $count of a primitive', () => {
    expect(errorOf('name/$count gt 1').kind).toBe('typeMismatch');
  });
});

describe('any', () => {
  it('compiles to a correlated EXISTS joining the related table in the same scope', () => {
    expect(compile("users/any(u: u/userKey eq 'X')")).toEqual({ sql: `EXISTS (SELECT 1 ${MEMBERS_OF_R} AND (o_t1.user_key COLLATE "C" = $3::text))`, params: ['X'] });
  });

  it('any() means "has at least one"', () => {
    expect(compile('users/any()').sql).toBe(
      'EXISTS (SELECT 1 FROM memberships o_m1 WHERE o_m1.tenant_key = r.tenant_key AND o_m1.org_key = r.org_key AND o_m1.group_id = r.id)',
    );
  });

  it('lets the predicate refer to the outer row, and nests through variables', () => {
    expect(compile('users/any(u: u/name eq name)').sql).toBe(`EXISTS (SELECT 1 ${MEMBERS_OF_R} AND (o_t1.name COLLATE "C" = r.name))`);
    const nested = compile("users/any(u: u/groups/$count gt 1 and u/isActive) and not users/any(v: v/email eq 'x')").sql;
    expect(nested).toContain('o_m2.user_id = o_t1.id');
    expect(nested).toContain('o_m3.group_id = r.id');
  });

  it('refuses unknown variables, reused variables and non-Boolean predicates', () => {
    expect(errorOf("users/any(u: u/groupKey eq 'x')").kind).toBe('unknownProperty');
    expect(errorOf('users/any(u: u/name)').kind).toBe('typeMismatch');
  });
});

describe('all', () => {
  it('compiles to NOT EXISTS of a member for which the predicate is not true', () => {
    expect(compile('users/all(u: u/isActive)').sql).toBe(`NOT EXISTS (SELECT 1 ${MEMBERS_OF_R} AND NOT COALESCE(o_t1.is_active, FALSE))`);
  });
});

describe('compare', () => {
  it('uses = / <> when neither side can be null, IS [NOT] DISTINCT FROM otherwise (OData null semantics)', () => {
    expect(compile("name ne 'a'").sql).toBe('(r.name COLLATE "C" <> $3::text)');
    expect(compile("email eq 'a'").sql).toBe('(r.email IS NOT DISTINCT FROM $3::text)');
    expect(compile("email ne 'a'").sql).toBe('(r.email IS DISTINCT FROM $3::text)');
    expect(compile('email eq notes').sql).toBe('(r.email IS NOT DISTINCT FROM r.notes)');
  });

  it('orders strings by code point and never yields NULL for nullable operands', () => {
    expect(compile("name gt 'M'").sql).toBe('(r.name COLLATE "C" > $3::text)');
    expect(compile("email le 'M'").sql).toBe('COALESCE(r.email COLLATE "C" <= $3::text, FALSE)');
    expect(compile("'M' lt name").sql).toBe('($3::text COLLATE "C" < r.name)');
    expect(compile('createdOn lt modifiedOn').sql).toBe('(r.created_on < r.modified_on)');
  });

  it.each([
    ['name eq 5', 'cannot compare Edm.String with an integer'],
    ["isActive eq 'x'", 'cannot compare Edm.Boolean with Edm.String'],
    ['createdOn eq 5', 'cannot compare Edm.DateTimeOffset with an integer'],
    ["id eq 'x' or name eq id", 'is not a GUID'],
    ['isActive gt false', "Boolean values can only be compared with eq or ne, not 'gt'"],
    ['name eq 12:00:00', 'cannot compare Edm.String with Edm.TimeOfDay'],
  ])('refuses %s (type mismatch)', (filter, message) => {
    const error = errorOf(filter);
    expect(error.kind).toBe('typeMismatch');
    expect(error.code).toBe(ErrorCode.BadRequest);
    expect(error.message).toContain(message);
  });
});

describe('logical', () => {
  it('compiles and/or with parentheses that keep the precedence', () => {
    expect(compile("isActive and (name eq 'a' or email eq null)").sql).toBe('(r.is_active AND ((r.name COLLATE "C" = $3::text) OR (r.email IS NULL)))');
  });

  it('needs Boolean operands', () => {
    expect(errorOf("name and isActive").message).toContain("'and' needs Boolean operands");
    expect(errorOf('isActive or length(name)').kind).toBe('typeMismatch');
  });

  it('requires the whole filter to be Boolean', () => {
    expect(errorOf('name').message).toContain('$filter must be a Boolean expression');
    expect(errorOf('null').kind).toBe('typeMismatch');
  });
});

describe('not', () => {
  it('negates Boolean operands', () => {
    expect(compile("not contains(name,'x')").sql).toBe('(NOT (r.name LIKE $3::text))');
    expect(compile('not isActive').sql).toBe('(NOT r.is_active)');
  });

  it('binds tighter than eq: "not name eq …" is a type error (write not (name eq …))', () => {
    expect(errorOf("not name eq 'x'").message).toContain("'not' needs Boolean operands");
  });
});

describe('in', () => {
  it('compiles to IN with one parameter per item', () => {
    expect(compile("groupKey in ('a', 'b')")).toEqual({ sql: '(r.group_key COLLATE "C" IN ($3::text, $4::text))', params: ['a', 'b'] });
  });

  it('keeps OData null semantics for nullable operands and null items', () => {
    expect(compile("email in ('a')").sql).toBe('(COALESCE(r.email COLLATE "C" IN ($3::text), FALSE))');
    expect(compile("email in ('a', null)").sql).toBe('(COALESCE(r.email COLLATE "C" IN ($3::text), FALSE) OR r.email IS NULL)');
    expect(compile('email in (null)').sql).toBe('(r.email IS NULL)');
  });

  it('types the items by the operand', () => {
    expect(compile("id in ('01234567-89ab-cdef-0123-456789abcdef')").sql).toBe('(r.id IN ($3::uuid))');
    expect(errorOf("name in ('a', 1)").kind).toBe('typeMismatch');
  });
});

describe('arithmetic', () => {
  it('computes exactly in numeric, with division by zero as null', () => {
    expect(compile('length(name) add 1 gt 5').sql).toBe('(((char_length(r.name))::numeric + ($3::bigint)::numeric) > $4::bigint)');
    expect(compile('length(name) div 2 eq 1').sql).toBe(
      '(trunc((char_length(r.name))::numeric / NULLIF(($3::bigint)::numeric, 0)) IS NOT DISTINCT FROM $4::bigint)',
    );
    expect(compile('length(name) mod 2 eq 1').sql).toContain('mod((char_length(r.name))::numeric, NULLIF(($3::bigint)::numeric, 0))');
    expect(compile('users/$count sub 1 sub 1 eq 0').sql).toContain('((((SELECT count(*)');
  });

  it('refuses non-numbers and more than 32 operators', () => {
    expect(errorOf("name add 1 eq 'a'").message).toContain("'add' needs numbers, not Edm.String");
    expect(errorOf(`length(name)${' add 1'.repeat(33)} gt 0`).kind).toBe('limit');
  });
});

describe('negate', () => {
  it('negates numbers', () => {
    expect(compile('-length(name) lt 0').sql).toBe('((- (char_length(r.name))::numeric) < $3::bigint)');
    expect(errorOf("-name eq 'a'").kind).toBe('typeMismatch');
  });
});

describe('call: string functions', () => {
  it('contains/startswith/endswith with a literal: LIKE with an escaped bound pattern', () => {
    expect(compile("contains(name,'50%_\\')")).toEqual({ sql: '(r.name LIKE $3::text)', params: ['%50\\%\\_\\\\%'] });
    expect(compile("startswith(name,'a%')")).toEqual({ sql: '(r.name LIKE $3::text)', params: ['a\\%%'] });
    expect(compile("endswith(name,'_z')")).toEqual({ sql: '(r.name LIKE $3::text)', params: ['%\\_z'] });
  });

  it('contains/startswith/endswith with an expression: no pattern at all', () => {
    expect(compile('contains(name,groupKey)').sql).toBe('(strpos(r.name, r.group_key) > 0)');
    expect(compile('startswith(name,groupKey)').sql).toBe('starts_with(r.name, r.group_key)');
    expect(compile('endswith(name,groupKey)').sql).toBe('(right(r.name, char_length(r.group_key)) = r.group_key)');
  });

  it('tolower, toupper, trim, length, indexof (0-based), substring (0-based), concat', () => {
    expect(compile("tolower(name) eq 'ops'").sql).toBe('(lower(r.name) COLLATE "C" = $3::text)');
    expect(compile("toupper(name) eq 'OPS'").sql).toBe('(upper(r.name) COLLATE "C" = $3::text)');
    expect(compile("trim(name) eq 'ops'").sql).toBe("(btrim(r.name, E' \\t\\n\\r') COLLATE \"C\" = $3::text)");
    expect(compile('length(name) eq 3').sql).toBe('(char_length(r.name) = $3::bigint)');
    expect(compile("indexof(name,'x') eq 0").sql).toBe('((strpos(r.name, $3::text) - 1) = $4::bigint)');
    expect(compile("substring(name,1) eq 'ps'").sql).toBe(
      '(substr(r.name, LEAST(GREATEST(($3::bigint)::numeric, 0), 2147483646)::integer + 1) COLLATE "C" = $4::text)',
    );
    expect(compile("substring(name,1,2) eq 'ps'").sql).toContain('LEAST(GREATEST(($4::bigint)::numeric, 0), 2147483646)::integer)');
    expect(compile("concat(name,'!') eq 'x!'").sql).toBe('((r.name || $3::text) COLLATE "C" = $4::text)');
  });

  it('refuses wrong argument types and counts', () => {
    expect(errorOf("contains(isActive,'a')").message).toContain('argument 1 of contains() must be Edm.String, not Edm.Boolean');
    expect(errorOf('contains(name,1)').message).toContain('argument 2 of contains() must be Edm.String');
    expect(errorOf('length(isActive) eq 1').kind).toBe('typeMismatch');
    expect(errorOf("substring(name,'a') eq 'b'").kind).toBe('typeMismatch');
    expect(errorOf("concat(name,1) eq 'b'").kind).toBe('typeMismatch');
  });
});

describe('call: date and time functions', () => {
  it('takes date parts in UTC', () => {
    expect(compile('year(createdOn) eq 2024').sql).toBe("(EXTRACT(YEAR FROM (r.created_on AT TIME ZONE 'UTC'))::integer = $3::bigint)");
    for (const [fn, field] of [
      ['month', 'MONTH'],
      ['day', 'DAY'],
      ['hour', 'HOUR'],
      ['minute', 'MINUTE'],
    ]) {
      expect(compile(`${fn}(modifiedOn) eq 1`).sql).toBe(`(EXTRACT(${field} FROM (r.modified_on AT TIME ZONE 'UTC'))::integer = $3::bigint)`);
    }
    expect(compile('second(createdOn) eq 1').sql).toBe("(floor(EXTRACT(SECOND FROM (r.created_on AT TIME ZONE 'UTC')))::integer = $3::bigint)");
    expect(compile('fractionalseconds(createdOn) gt 0').sql).toContain('EXTRACT(SECOND FROM');
  });

  it('date(), time() and now()', () => {
    expect(compile('date(createdOn) eq 2024-01-31')).toEqual({ sql: "((r.created_on AT TIME ZONE 'UTC')::date = $3::date)", params: ['2024-01-31'] });
    expect(compile('time(createdOn) lt 12:00').sql).toBe("((r.created_on AT TIME ZONE 'UTC')::time < $3::time)");
    expect(compile('createdOn lt now()').sql).toBe('(r.created_on < now())');
    expect(compile('year(date(createdOn)) eq 2024').sql).toContain("EXTRACT(YEAR FROM (r.created_on AT TIME ZONE 'UTC')::date)");
  });

  it('refuses date functions on other types', () => {
    expect(errorOf('year(name) eq 2024').message).toContain('argument 1 of year() must be Edm.DateTimeOffset or Edm.Date, not Edm.String');
    expect(errorOf('date(name) eq 2024-01-01').kind).toBe('typeMismatch');
    expect(errorOf('now(name) gt createdOn').kind).not.toBe(undefined);
  });
});

describe('call: math and unsupported functions', () => {
  it('round/floor/ceiling on numbers', () => {
    expect(compile('round(1.5) eq 2').sql).toBe('(round(($3::numeric)::numeric) = $4::bigint)');
    expect(compile('ceiling(1.2) eq 2').sql).toContain('ceil(');
  });

  it.each(['totaloffsetminutes(createdOn) eq 0', 'maxdatetime() eq createdOn', "matchesPattern(name,'a')", 'geo.distance(a,b) lt 1'])(
    'refuses %s (400, naming it)',
    (filter) => {
      const error = errorOf(filter);
      expect(['unsupported', 'syntax']).toContain(error.kind);
      expect(error.status).toBe(400);
    },
  );

  it('names the unsupported function', () => {
    const error = errorOf('totaloffsetminutes(createdOn) eq 0');
    expect(error.code).toBe(ErrorCode.UnsupportedQueryOption);
    expect(error.message).toBe('The function totaloffsetminutes() is not supported at position 0 of $filter');
  });
});

describe('compileExpression', () => {
  it('reports the type and nullability of an expression', () => {
    const scope = newScope(GROUP_ENTITY, 'g', new SqlParams(1));
    expect(compileExpression(parseExpression('email', '$orderby'), scope, '$orderby')).toEqual({ sql: 'g.email', type: 'string', nullable: true });
    expect(compileExpression(parseExpression('users/$count', '$orderby'), scope, '$orderby')).toMatchObject({ type: 'integer', nullable: false });
  });

  it('throws a plain Error on an AST node kind it does not know (a programming error, not a 400)', () => {
    const scope = newScope(GROUP_ENTITY, 'r', new SqlParams(3));
    expect(() => compileExpression({ kind: 'mystery', position: 0 } as never, scope, '$filter')).toThrow('Unknown OData AST node kind: "mystery"');
    expect(() => compileExpression({ kind: 'mystery', position: 0 } as never, scope, '$filter')).not.toThrow(AppError);
  });
});

describe('compileSearch', () => {
  const search = (text: string, model: EntityModel = GROUP_ENTITY) => {
    const params = new SqlParams(3);
    return { sql: compileSearch(parseSearch(text), { model, alias: 'r' }, params), params: params.values };
  };

  it('matches a term case-insensitively in every search property (nullable ones never unknown)', () => {
    expect(search('ops')).toEqual({
      sql:
        '(r.group_key ILIKE $3::text OR r.name ILIKE $3::text OR ' +
        '(r.email ILIKE $3::text AND r.email IS NOT NULL) OR (r.notes ILIKE $3::text AND r.notes IS NOT NULL))',
      params: ['%ops%'],
    });
    expect(search('bob', USER_ENTITY).sql).toBe(
      '(r.user_key ILIKE $3::text OR r.name ILIKE $3::text OR (r.email ILIKE $3::text AND r.email IS NOT NULL))',
    );
  });

  it('escapes LIKE wildcards and combines with AND/OR/NOT', () => {
    const compiled = search('"50% off" OR NOT a_b');
    expect(compiled.params).toEqual(['%50\\% off%', '%a\\_b%']);
    expect(compiled.sql).toMatch(/^\(\(.*\) OR \(NOT \(.*\)\)\)$/);
  });
});
