import { describe, expect, it } from '@jest/globals';
import type { ExprNode } from './ast.js';
import { ODataError } from './odata-error.js';
import { parseExpression, parseOrderBy } from './parse-expression.js';
import { thrownBy } from '../../test/support/thrown.js';

function errorOf(work: () => unknown): ODataError {
  return thrownBy(work, ODataError);
}

/** A compact, position-free rendering of an expression, to assert on structure. */
function show(node: ExprNode): string {
  switch (node.kind) {
    case 'literal':
      return `${node.type.slice(4)}(${JSON.stringify(node.value)})`;
    case 'null':
      return 'null';
    case 'property':
      return `${node.root.kind === 'variable' ? `${node.root.name}/` : node.root.kind === 'it' ? '$it/' : ''}${node.segments.map((s) => s.name).join('/')}`;
    case 'count':
      return `${node.segments.map((s) => s.name).join('/')}/$count`;
    case 'any':
    case 'all':
      return `${node.segments.map((s) => s.name).join('/')}/${node.kind}(${node.variable ?? ''}${node.predicate ? `: ${show(node.predicate)}` : ''})`;
    case 'compare':
    case 'logical':
    case 'arithmetic':
      return `(${show(node.left)} ${node.operator} ${show(node.right)})`;
    case 'not':
      return `(not ${show(node.operand)})`;
    case 'negate':
      return `(-${show(node.operand)})`;
    case 'in':
      return `(${show(node.operand)} in [${node.items.map(show).join(', ')}])`;
    case 'call':
      return `${node.name}(${node.args.map(show).join(', ')})`;
  }
}

const parse = (text: string) => show(parseExpression(text, '$filter'));

describe('literal', () => {
  it('unescapes string literals and keeps any character inside them', () => {
    expect(parse("name eq 'O''Brien'")).toBe('(name eq String("O\'Brien"))');
    expect(parse("name eq ''''")).toBe(`(name eq String("'"))`);
    expect(parse("name eq ''")).toBe('(name eq String(""))');
    expect(parse("name eq '100% & more; (x) é 🎉 %27'")).toBe('(name eq String("100% & more; (x) é 🎉 %27"))');
  });

  it('types numbers: Int32, Int64, Decimal, Double', () => {
    expect(parse('x eq 5')).toBe('(x eq Int32("5"))');
    expect(parse('x eq -0005')).toBe('(x eq Int32("-5"))');
    expect(parse('x eq 2147483648')).toBe('(x eq Int64("2147483648"))');
    expect(parse('x eq 1.50')).toBe('(x eq Decimal("1.50"))');
    expect(parse('x eq 1.5e3')).toBe('(x eq Double("1.5e3"))');
  });

  it('parses Boolean, Guid, DateTimeOffset, Date and TimeOfDay literals to canonical values', () => {
    expect(parse('x eq true')).toBe('(x eq Boolean(true))');
    expect(parse('x eq 01234567-89AB-cdef-0123-456789ABCDEF')).toBe('(x eq Guid("01234567-89ab-cdef-0123-456789abcdef"))');
    expect(parse('x eq 2024-01-31T10:00Z')).toBe('(x eq DateTimeOffset("2024-01-31T10:00:00Z"))');
    expect(parse('x eq 2024-01-31T10:00:00.1234567+01:00')).toBe('(x eq DateTimeOffset("2024-01-31T10:00:00.123456+01:00"))');
    expect(parse('x eq 2024-02-29')).toBe('(x eq Date("2024-02-29"))');
    expect(parse('x eq 12:30')).toBe('(x eq TimeOfDay("12:30:00"))');
  });

  it.each([
    ['x eq 2023-02-29', 'invalid date literal'],
    ['x eq 0000-01-01', 'invalid date literal'],
    ['x eq 2024-01-01T10:00:00+15:00', 'invalid date-time literal'],
  ])('refuses %s (%s)', (text, message) => {
    const error = errorOf(() => parseExpression(text, '$filter'));
    expect(error.kind).toBe('syntax');
    expect(error.message).toContain(message);
    expect(error.position).toBe(5);
  });

  it('refuses what the parser refuses itself (out-of-range numbers, impossible months) as syntax errors', () => {
    for (const text of ['x eq 9223372036854775808', 'x eq 2024-13-01', 'x eq 2024-01-01T24:00:00Z']) {
      expect(errorOf(() => parseExpression(text, '$filter')).kind).toBe('syntax');
    }
  });

  it('refuses NaN/INF, durations, binary, enums and JSON literals as unsupported', () => {
    for (const text of ['x eq NaN', 'x eq -INF', "x eq duration'P1D'", "x eq binary'AAA='", 'x eq [1,2]', "x has Sales.Color'Red'"]) {
      expect(errorOf(() => parseExpression(text, '$filter')).kind).toBe('unsupported');
    }
  });
});

describe('null', () => {
  it('is its own node kind', () => {
    expect(parse('email eq null')).toBe('(email eq null)');
    expect(parse('null ne email')).toBe('(null ne email)');
  });
});

describe('property', () => {
  it('covers plain, $it-prefixed and multi-segment paths', () => {
    expect(parse('isActive')).toBe('isActive');
    expect(parse("$it/name eq 'a'")).toBe('($it/name eq String("a"))');
    expect(parse("users/name eq 'a'")).toBe('(users/name eq String("a"))');
  });

  it('records positions relative to the option value', () => {
    const node = parseExpression("  name eq 'x'", '$filter');
    expect(node.kind === 'compare' && node.left.position).toBe(2);
    expect(node.kind === 'compare' && node.right.position).toBe(10);
  });
});

describe('count', () => {
  it('parses nav/$count', () => {
    expect(parse('users/$count gt 10')).toBe('(users/$count gt Int32("10"))');
  });
});

describe('any / all', () => {
  it('parses lambdas with a variable, and any() without', () => {
    expect(parse("users/any(u: u/userKey eq 'X')")).toBe('users/any(u: (u/userKey eq String("X")))');
    expect(parse('users/all(u:u/isActive)')).toBe('users/all(u: u/isActive)');
    expect(parse('users/any()')).toBe('users/any()');
    expect(parse('users/any(u: name eq u/name)')).toBe('users/any(u: (name eq u/name))');
  });

  it('refuses all() without a predicate and any without a path', () => {
    expect(errorOf(() => parseExpression('users/all()', '$filter')).kind).toBe('syntax');
    expect(errorOf(() => parseExpression('any()', '$filter')).kind).toBe('syntax');
  });
});

describe('compare', () => {
  it.each(['eq', 'ne', 'gt', 'ge', 'lt', 'le'])('parses %s', (op) => {
    expect(parse(`name ${op} 'Milk'`)).toBe(`(name ${op} String("Milk"))`);
  });
});

describe('logical', () => {
  it('binds and tighter than or, left-associative', () => {
    expect(parse('a or b and c')).toBe('(a or (b and c))');
    expect(parse('a and b or c')).toBe('((a and b) or c)');
    expect(parse('a or b or c')).toBe('((a or b) or c)');
    expect(parse('(a or b) and c')).toBe('((a or b) and c)');
  });
});

describe('not', () => {
  it('binds tighter than and (the parser nests "not a and b" as not (a and b))', () => {
    expect(parse('not a and b')).toBe('((not a) and b)');
    expect(parse('not (a and b)')).toBe('(not (a and b))');
    expect(parse("not endswith(name,'ilk')")).toBe('(not endswith(name, String("ilk")))');
    expect(parse('not not a')).toBe('(not (not a))');
  });

  it('is unary per the OData precedence: not a eq b = (not a) eq b', () => {
    expect(parse('not a eq b')).toBe('((not a) eq b)');
  });
});

describe('in', () => {
  it('parses lists of literals (unknown to odata-v4-parser)', () => {
    expect(parse("groupKey in ('a', 'b')")).toBe('(groupKey in [String("a"), String("b")])');
    expect(parse("name in ('Milk', 'Cheese') and x in (1,null)")).toBe('((name in [String("Milk"), String("Cheese")]) and (x in [Int32("1"), null]))');
    expect(parse("not name in ('a,b', 'c)')")).toBe('(not (name in [String("a,b"), String("c)")]))');
  });

  it('works inside lambdas and parentheses', () => {
    expect(parse("users/any(u: u/userKey in ('x','y'))")).toBe('users/any(u: (u/userKey in [String("x"), String("y")]))');
  });

  it('refuses empty lists and non-literal items', () => {
    expect(errorOf(() => parseExpression('name in ()', '$filter')).message).toContain("'in' must not be empty");
    const error = errorOf(() => parseExpression('name in (name, email)', '$filter'));
    expect(error.message).toContain('must be literals');
    expect(error.position).toBe(9);
  });
});

describe('arithmetic', () => {
  it('is left-associative (the parser makes a sub b sub c into a sub (b sub c))', () => {
    expect(parse('a sub b sub c eq 1')).toBe('(((a sub b) sub c) eq Int32("1"))');
    expect(parse('a div b mod c eq 1')).toBe('(((a div b) mod c) eq Int32("1"))');
  });

  it('binds mul/div/mod tighter than add/sub (the parser makes a mul b add c into a mul (b add c))', () => {
    expect(parse('a mul b add c eq 1')).toBe('(((a mul b) add c) eq Int32("1"))');
    expect(parse('a add b mul c eq 1')).toBe('((a add (b mul c)) eq Int32("1"))');
    expect(parse('a mul (b add c) eq 1')).toBe('((a mul (b add c)) eq Int32("1"))');
  });
});

describe('negate', () => {
  it('parses unary minus on expressions; negative number literals stay literals', () => {
    expect(parse('-length(name) lt 0')).toBe('((-length(name)) lt Int32("0"))');
    expect(parse('x eq -5')).toBe('(x eq Int32("-5"))');
  });
});

describe('call', () => {
  it('parses built-in functions with their arguments', () => {
    expect(parse("contains(name,'x')")).toBe('contains(name, String("x"))');
    expect(parse("substring(name, 1, 2) eq 'a'")).toBe('(substring(name, Int32("1"), Int32("2")) eq String("a"))');
    expect(parse('now() gt createdOn')).toBe('(now() gt createdOn)');
    expect(parse("concat(concat(notes,'-'),email)")).toBe('concat(concat(notes, String("-")), email)');
  });

  it('refuses unknown functions, isof, cast and custom functions', () => {
    expect(errorOf(() => parseExpression('foo(name)', '$filter')).kind).toBe('syntax');
    expect(errorOf(() => parseExpression('isof(name,Edm.String)', '$filter')).kind).toBe('unsupported');
    expect(errorOf(() => parseExpression('Model.Fn(x=1) eq 1', '$filter')).kind).toBe('unsupported');
  });
});

describe('syntax errors', () => {
  it.each([
    ["name eq 'a' garbage", 11],
    ['name eq', 4],
    ["name eq 'unterminated", 8],
    ["(name eq 'a'", 0],
    ["name eq 'a')", 11],
    ['name EQ 1', 4],
    ['', 0],
  ])('%j → 400 at position %d', (text, position) => {
    const error = errorOf(() => parseExpression(text, '$filter'));
    expect(error.kind).toBe('syntax');
    expect(error.status).toBe(400);
    expect(error.position).toBe(position);
    expect(error.message).toContain(`at position ${position}`);
    expect(error.target).toBe('$filter');
  });

  it('limits parenthesis nesting to 32', () => {
    expect(() => parseExpression(`${'('.repeat(32)}a${')'.repeat(32)}`, '$filter')).not.toThrow();
    const error = errorOf(() => parseExpression(`${'('.repeat(33)}a${')'.repeat(33)}`, '$filter'));
    expect(error.kind).toBe('limit');
    expect(errorOf(() => parseExpression(`${'('.repeat(5000)}a`, '$filter')).kind).toBe('limit');
  });
});

describe('parseOrderBy', () => {
  it('splits keys and reads directions', () => {
    const orderby = parseOrderBy('name desc, concat(name, email) asc,users/$count,email\tdesc', '$orderby');
    expect(orderby.items.map((item) => `${show(item.expr)} ${item.direction}`)).toEqual([
      'name desc',
      'concat(name, email) asc',
      'users/$count asc',
      'email desc',
    ]);
    expect(orderby.items.map((item) => item.position)).toEqual([0, 11, 35, 48]);
  });

  it('refuses empty keys', () => {
    expect(errorOf(() => parseOrderBy('name,', '$orderby')).position).toBe(5);
    expect(errorOf(() => parseOrderBy('', '$orderby')).kind).toBe('syntax');
  });
});
