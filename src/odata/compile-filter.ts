import type {
  ArithmeticNode,
  CallNode,
  CompareNode,
  CountNode,
  ExprNode,
  InNode,
  LambdaNode,
  LiteralNode,
  OptionExpr,
  PathRoot,
  PathSegment,
  PropertyNode,
} from './ast.js';
import { NavigationModel, resolveMember } from './entity-model.js';
import { escapeLike } from './literals.js';
import { ODataErrors, SourceRef } from './odata-error.js';
import {
  Binding,
  CAST_OF,
  collateC,
  EDM_NAME,
  ExprScope,
  isNumeric,
  linkCorrelation,
  SqlExpr,
  SqlType,
  sqlTypeOf,
  targetJoin,
} from './sql.js';

/**
 * Expressions (`$filter`, `$orderby` keys) → typed PostgreSQL fragments.
 *
 * - Values are always bound parameters with an explicit cast (`$3::text`); identifiers come only
 *   from the entity model; navigation subqueries correlate on the outer row's tenant_key and
 *   org_key as well as its id. The root table's own scope predicate is NOT written here.
 * - OData semantics: comparisons never yield NULL (`email ne 'x'` is true for a null email, `eq null`
 *   is `IS NULL`, `gt` with a null operand is false); functions of null are null; string comparison
 *   is case-sensitive and orders by code point (COLLATE "C"); date parts are taken in UTC;
 *   `indexof`/`substring` are 0-based; arithmetic is exact (numeric), division by zero is null.
 * - Every type mismatch, unknown name or unsupported function is a 400 naming it and its position;
 *   an AST node kind this compiler does not know is a programming error (thrown as a plain Error).
 */

/** At most this many arithmetic operators per query (keeps numeric results bounded). */
export const MAX_ARITHMETIC_OPERATORS = 32;

export function compileFilter(filter: OptionExpr, scope: ExprScope): string {
  const compiled = compileExpression(filter.expr, scope, filter.option);
  if (compiled.type !== 'boolean') {
    throw ODataErrors.typeMismatch(`${filter.option} must be a Boolean expression, not ${EDM_NAME[compiled.type]}`, {
      option: filter.option,
      position: filter.expr.position,
    });
  }
  return compiled.sql;
}

export function compileExpression(node: ExprNode, scope: ExprScope, option: string): SqlExpr {
  return new ExpressionCompiler(option).compile(node, scope);
}

class ExpressionCompiler {
  constructor(private readonly option: string) {}

  private ref(position: number): SourceRef {
    return { option: this.option, position };
  }

  compile(node: ExprNode, scope: ExprScope): SqlExpr {
    switch (node.kind) {
      case 'literal':
        return this.literal(node, scope);
      case 'null':
        return { sql: 'NULL', type: 'null', nullable: true };
      case 'property':
        return this.property(node, scope);
      case 'count':
        return this.count(node, scope);
      case 'any':
      case 'all':
        return this.lambda(node, scope);
      case 'compare':
        return this.compare(node, scope);
      case 'logical': {
        const left = this.boolean(node.left, scope, node.operator);
        const right = this.boolean(node.right, scope, node.operator);
        return { sql: `(${left.sql} ${node.operator.toUpperCase()} ${right.sql})`, type: 'boolean', nullable: left.nullable || right.nullable };
      }
      case 'not': {
        const operand = this.boolean(node.operand, scope, 'not');
        return { sql: `(NOT ${operand.sql})`, type: 'boolean', nullable: operand.nullable };
      }
      case 'in':
        return this.in(node, scope);
      case 'arithmetic':
        return this.arithmetic(node, scope);
      case 'negate': {
        this.countArithmetic(scope, node.position);
        const operand = this.compile(node.operand, scope);
        if (!isNumeric(operand.type)) {
          throw ODataErrors.typeMismatch(`'-' needs a number, not ${EDM_NAME[operand.type]}`, this.ref(node.position));
        }
        return { sql: `(- (${operand.sql})::numeric)`, type: operand.type, nullable: operand.nullable };
      }
      case 'call':
        return this.call(node, scope);
      default: {
        const unknown: never = node;
        throw new Error(`Unknown OData AST node kind: ${JSON.stringify((unknown as { kind?: unknown }).kind)}`);
      }
    }
  }

  private boolean(node: ExprNode, scope: ExprScope, operator: string): SqlExpr {
    const compiled = this.compile(node, scope);
    if (compiled.type !== 'boolean') {
      throw ODataErrors.typeMismatch(`'${operator}' needs Boolean operands, not ${EDM_NAME[compiled.type]}`, this.ref(node.position));
    }
    return compiled;
  }

  // --- literals ------------------------------------------------------------------------------

  private literal(node: LiteralNode, scope: ExprScope, hint?: SqlType): SqlExpr {
    const bind = (value: unknown, type: Exclude<SqlType, 'null'>): SqlExpr => ({
      sql: scope.params.add(value, CAST_OF[type]),
      type,
      nullable: false,
    });
    switch (node.type) {
      case 'Edm.String':
        // A quoted GUID compared with a Guid property is taken as that GUID (lenient, common in clients).
        if (hint === 'guid') {
          const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(node.value) ? node.value.toLowerCase() : undefined;
          if (!guid) throw ODataErrors.typeMismatch(`'${node.value}' is not a GUID`, this.ref(node.position));
          return bind(guid, 'guid');
        }
        return bind(node.value, 'string');
      case 'Edm.Boolean':
        return bind(node.value, 'boolean');
      case 'Edm.Guid':
        return bind(node.value, 'guid');
      case 'Edm.DateTimeOffset':
        return bind(node.value, 'datetime');
      case 'Edm.Date':
        // Compared with a DateTimeOffset, a date means its midnight UTC.
        return hint === 'datetime' ? bind(`${node.value}T00:00:00Z`, 'datetime') : bind(node.value, 'date');
      case 'Edm.TimeOfDay':
        return bind(node.value, 'time');
      case 'Edm.Int32':
      case 'Edm.Int64':
        return bind(node.type === 'Edm.Int32' ? Number(node.value) : node.value, 'integer');
      case 'Edm.Decimal':
      case 'Edm.Double':
        return bind(node.value, 'decimal');
      default: {
        const unknown: never = node;
        throw new Error(`Unknown literal type: ${JSON.stringify((unknown as { type?: unknown }).type)}`);
      }
    }
  }

  /** Compiles `node`, giving a literal the type of the other operand where OData allows a promotion. */
  private operand(node: ExprNode, scope: ExprScope, other?: SqlType): SqlExpr {
    return node.kind === 'literal' ? this.literal(node, scope, other) : this.compile(node, scope);
  }

  /** Compiles a pair: the non-literal side first, so a literal can take its type. */
  private pair(left: ExprNode, right: ExprNode, scope: ExprScope): [SqlExpr, SqlExpr] {
    if (left.kind === 'literal' && right.kind !== 'literal') {
      const r = this.compile(right, scope);
      return [this.literal(left, scope, r.type), r];
    }
    const l = this.compile(left, scope);
    return [l, this.operand(right, scope, l.type)];
  }

  // --- paths -----------------------------------------------------------------------------------

  private binding(root: PathRoot, scope: ExprScope, position: number): Binding {
    if (root.kind !== 'variable') return scope.it;
    const bound = scope.variables.get(root.name);
    if (!bound) throw ODataErrors.unknownProperty(scope.it.model.entityType, root.name, this.ref(position));
    return bound;
  }

  private property(node: PropertyNode, scope: ExprScope): SqlExpr {
    const binding = this.binding(node.root, scope, node.position);
    const [first, ...rest] = node.segments as [PathSegment, ...PathSegment[]];
    const member = resolveMember(binding.model, first.name, this.ref(first.position));
    if (member.kind === 'navigation') {
      throw ODataErrors.typeMismatch(
        `'${member.navigation.name}' is a collection: use ${member.navigation.name}/any(…), ${member.navigation.name}/all(…) or ${member.navigation.name}/$count`,
        this.ref(first.position),
      );
    }
    if (rest.length > 0) {
      throw ODataErrors.typeMismatch(`'${member.property.name}' is a primitive property and has no '${rest[0]!.name}'`, this.ref(rest[0]!.position));
    }
    return { sql: `${binding.alias}.${member.property.column}`, type: sqlTypeOf(member.property), nullable: member.property.nullable };
  }

  private navigation(root: PathRoot, segments: readonly PathSegment[], scope: ExprScope, position: number): { binding: Binding; navigation: NavigationModel } {
    const binding = this.binding(root, scope, position);
    const [first, ...rest] = segments as [PathSegment, ...PathSegment[]];
    const member = resolveMember(binding.model, first.name, this.ref(first.position));
    if (member.kind !== 'navigation') {
      throw ODataErrors.typeMismatch(`'${member.property.name}' is not a collection`, this.ref(first.position));
    }
    if (rest.length > 0) {
      throw ODataErrors.unsupported(`The path '${segments.map((s) => s.name).join('/')}'`, this.ref(rest[0]!.position));
    }
    return { binding, navigation: member.navigation };
  }

  private count(node: CountNode, scope: ExprScope): SqlExpr {
    const { binding, navigation } = this.navigation(node.root, node.segments, scope, node.position);
    const { link } = scope.aliases.next();
    return {
      sql: `(SELECT count(*) FROM ${navigation.link.table} ${link} WHERE ${linkCorrelation(navigation, link, binding.alias)})`,
      type: 'integer',
      nullable: false,
    };
  }

  private lambda(node: LambdaNode, scope: ExprScope): SqlExpr {
    const { binding, navigation } = this.navigation(node.root, node.segments, scope, node.position);
    const { link, target } = scope.aliases.next();
    const correlation = linkCorrelation(navigation, link, binding.alias);
    if (!node.predicate || node.variable === undefined) {
      if (node.kind === 'all') throw ODataErrors.syntax(this.option, node.position, 'all() needs a lambda expression');
      return { sql: `EXISTS (SELECT 1 FROM ${navigation.link.table} ${link} WHERE ${correlation})`, type: 'boolean', nullable: false };
    }
    if (scope.variables.has(node.variable) || node.variable === '$it') {
      throw ODataErrors.invalidValue(this.option, `The lambda variable '${node.variable}' is already in use`, node.position);
    }
    const inner: ExprScope = {
      ...scope,
      variables: new Map([...scope.variables, [node.variable, { model: navigation.target(), alias: target }]]),
    };
    const predicate = this.boolean(node.predicate, inner, node.kind);
    const from = `${navigation.link.table} ${link} ${targetJoin(navigation, link, target)}`;
    const sql =
      node.kind === 'any'
        ? `EXISTS (SELECT 1 FROM ${from} WHERE ${correlation} AND ${predicate.sql})`
        : `NOT EXISTS (SELECT 1 FROM ${from} WHERE ${correlation} AND NOT COALESCE(${predicate.sql}, FALSE))`;
    return { sql, type: 'boolean', nullable: false };
  }

  // --- operators -------------------------------------------------------------------------------

  private comparable(left: SqlExpr, right: SqlExpr, operator: string, position: number): void {
    if (left.type === right.type || (isNumeric(left.type) && isNumeric(right.type))) return;
    throw ODataErrors.typeMismatch(`cannot compare ${EDM_NAME[left.type]} with ${EDM_NAME[right.type]} using '${operator}'`, this.ref(position));
  }

  private compare(node: CompareNode, scope: ExprScope): SqlExpr {
    const { operator } = node;
    if (node.left.kind === 'null' || node.right.kind === 'null') {
      if (operator !== 'eq' && operator !== 'ne') {
        throw ODataErrors.typeMismatch(`null can only be compared with eq or ne, not '${operator}'`, this.ref(node.position));
      }
      const other = node.left.kind === 'null' ? node.right : node.left;
      if (other.kind === 'null') return { sql: operator === 'eq' ? 'TRUE' : 'FALSE', type: 'boolean', nullable: false };
      const value = this.compile(other, scope);
      return { sql: `(${value.sql} ${operator === 'eq' ? 'IS NULL' : 'IS NOT NULL'})`, type: 'boolean', nullable: false };
    }
    const [left, right] = this.pair(node.left, node.right, scope);
    this.comparable(left, right, operator, node.position);
    const nullable = left.nullable || right.nullable;
    if (operator === 'eq' || operator === 'ne') {
      const sql = nullable
        ? `(${left.sql} ${operator === 'eq' ? 'IS NOT DISTINCT FROM' : 'IS DISTINCT FROM'} ${right.sql})`
        : // COLLATE "C": the same equality (the collation is deterministic), but it lets the
          // (tenant, org, key COLLATE "C", id) index serve `groupKey eq 'x'` — a scan of the scope otherwise.
          `(${collateC(left)} ${operator === 'eq' ? '=' : '<>'} ${right.sql})`;
      return { sql, type: 'boolean', nullable: false };
    }
    if (left.type === 'boolean') {
      throw ODataErrors.typeMismatch(`Boolean values can only be compared with eq or ne, not '${operator}'`, this.ref(node.position));
    }
    const symbol = { gt: '>', ge: '>=', lt: '<', le: '<=' }[operator];
    const comparison = `${collateC(left)} ${symbol} ${right.sql}`;
    return { sql: nullable ? `COALESCE(${comparison}, FALSE)` : `(${comparison})`, type: 'boolean', nullable: false };
  }

  private in(node: InNode, scope: ExprScope): SqlExpr {
    const operand = this.compile(node.operand, scope);
    const values: string[] = [];
    let withNull = false;
    let nullable = operand.nullable;
    for (const item of node.items) {
      if (item.kind === 'null') {
        withNull = true;
        continue;
      }
      const value = this.operand(item, scope, operand.type);
      this.comparable(operand, value, 'in', item.position);
      nullable ||= value.nullable;
      values.push(value.sql);
    }
    const parts: string[] = [];
    if (values.length > 0) {
      const test = `${collateC(operand)} IN (${values.join(', ')})`;
      parts.push(nullable ? `COALESCE(${test}, FALSE)` : test);
    }
    if (withNull) parts.push(`${operand.sql} IS NULL`);
    return { sql: `(${parts.join(' OR ')})`, type: 'boolean', nullable: false };
  }

  private countArithmetic(scope: ExprScope, position: number): void {
    if (++scope.budget.arithmetic > MAX_ARITHMETIC_OPERATORS) {
      throw ODataErrors.limit(`At most ${MAX_ARITHMETIC_OPERATORS} arithmetic operators are allowed (position ${position} of ${this.option})`, this.option);
    }
  }

  private arithmetic(node: ArithmeticNode, scope: ExprScope): SqlExpr {
    this.countArithmetic(scope, node.position);
    const left = this.compile(node.left, scope);
    const right = this.compile(node.right, scope);
    for (const side of [left, right]) {
      if (!isNumeric(side.type)) {
        throw ODataErrors.typeMismatch(`'${node.operator}' needs numbers, not ${EDM_NAME[side.type]}`, this.ref(node.position));
      }
    }
    const integers = left.type === 'integer' && right.type === 'integer';
    const a = `(${left.sql})::numeric`;
    const b = `(${right.sql})::numeric`;
    const nullable = left.nullable || right.nullable;
    switch (node.operator) {
      case 'add':
        return { sql: `(${a} + ${b})`, type: integers ? 'integer' : 'decimal', nullable };
      case 'sub':
        return { sql: `(${a} - ${b})`, type: integers ? 'integer' : 'decimal', nullable };
      case 'mul':
        return { sql: `(${a} * ${b})`, type: integers ? 'integer' : 'decimal', nullable };
      case 'div':
        return integers
          ? { sql: `trunc(${a} / NULLIF(${b}, 0))`, type: 'integer', nullable: true }
          : { sql: `(${a} / NULLIF(${b}, 0))`, type: 'decimal', nullable: true };
      case 'divby':
        return { sql: `(${a} / NULLIF(${b}, 0))`, type: 'decimal', nullable: true };
      case 'mod':
        return { sql: `mod(${a}, NULLIF(${b}, 0))`, type: integers ? 'integer' : 'decimal', nullable: true };
      default: {
        const unknown: never = node.operator;
        throw new Error(`Unknown arithmetic operator ${String(unknown)}`);
      }
    }
  }

  // --- functions -------------------------------------------------------------------------------

  private args(node: CallNode, scope: ExprScope, expected: ReadonlyArray<ReadonlyArray<SqlType>>, minimum = expected.length): SqlExpr[] {
    if (node.args.length < minimum || node.args.length > expected.length) {
      const count = minimum === expected.length ? `${minimum}` : `${minimum} to ${expected.length}`;
      throw ODataErrors.typeMismatch(`${node.name}() takes ${count} argument(s), not ${node.args.length}`, this.ref(node.position));
    }
    return node.args.map((arg, index) => {
      const compiled = this.compile(arg, scope);
      const allowed = expected[index]!;
      if (!allowed.includes(compiled.type)) {
        throw ODataErrors.typeMismatch(
          `argument ${index + 1} of ${node.name}() must be ${allowed.map((type) => EDM_NAME[type]).join(' or ')}, not ${EDM_NAME[compiled.type]}`,
          this.ref(arg.position),
        );
      }
      return compiled;
    });
  }

  /** contains/startswith/endswith: a LIKE with an escaped, bound pattern when the needle is a literal. */
  private match(node: CallNode, scope: ExprScope, pattern: (needle: string) => string, fallback: (s: string, t: string) => string): SqlExpr {
    if (node.args.length !== 2) {
      throw ODataErrors.typeMismatch(`${node.name}() takes 2 argument(s), not ${node.args.length}`, this.ref(node.position));
    }
    const [haystack] = this.args({ ...node, args: node.args.slice(0, 1) }, scope, [['string']]);
    const needleNode = node.args[1]!;
    if (needleNode.kind === 'literal' && needleNode.type === 'Edm.String') {
      const like = scope.params.add(pattern(escapeLike(needleNode.value)), 'text');
      // One LIKE on the column as stored: the table's trigram index is on the stored columns (its
      // trigrams are case-insensitive, the LIKE recheck is exact). A second, redundant predicate
      // such as `lower(col) LIKE lower(p)` would be multiplied into a far too small row estimate.
      return { sql: `(${haystack!.sql} LIKE ${like})`, type: 'boolean', nullable: haystack!.nullable };
    }
    const needle = this.compile(needleNode, scope);
    if (needle.type !== 'string') {
      throw ODataErrors.typeMismatch(`argument 2 of ${node.name}() must be Edm.String, not ${EDM_NAME[needle.type]}`, this.ref(needleNode.position));
    }
    return { sql: fallback(haystack!.sql, needle.sql), type: 'boolean', nullable: haystack!.nullable || needle.nullable };
  }

  private call(node: CallNode, scope: ExprScope): SqlExpr {
    const string: SqlType[] = ['string'];
    const number: SqlType[] = ['integer', 'decimal'];
    const integer: SqlType[] = ['integer'];
    const stringFn = (sql: (...args: string[]) => string, type: SqlType, shape: SqlType[][], minimum?: number): SqlExpr => {
      const args = this.args(node, scope, shape, minimum);
      return { sql: sql(...args.map((arg) => arg.sql)), type, nullable: args.some((arg) => arg.nullable) };
    };
    /** A date/time part, taken in UTC for DateTimeOffset values. */
    const part = (field: string, accepts: SqlType[], wrap = (sql: string) => `${sql}::integer`): SqlExpr => {
      const [value] = this.args(node, scope, [accepts]);
      const source = value!.type === 'datetime' ? `(${value!.sql} AT TIME ZONE 'UTC')` : value!.sql;
      return { sql: wrap(`EXTRACT(${field} FROM ${source})`), type: 'integer', nullable: value!.nullable };
    };
    /** A non-negative int for substr(): clamped, so no argument can make PostgreSQL raise an error. */
    const clamp = (sql: string) => `LEAST(GREATEST((${sql})::numeric, 0), 2147483646)::integer`;

    switch (node.name) {
      case 'contains':
        return this.match(node, scope, (n) => `%${n}%`, (s, t) => `(strpos(${s}, ${t}) > 0)`);
      case 'startswith':
        return this.match(node, scope, (n) => `${n}%`, (s, t) => `starts_with(${s}, ${t})`);
      case 'endswith':
        return this.match(node, scope, (n) => `%${n}`, (s, t) => `(right(${s}, char_length(${t})) = ${t})`);
      case 'tolower':
        return stringFn((s) => `lower(${s})`, 'string', [string]);
      case 'toupper':
        return stringFn((s) => `upper(${s})`, 'string', [string]);
      case 'trim':
        return stringFn((s) => `btrim(${s}, E' \\t\\n\\r')`, 'string', [string]);
      case 'length':
        return stringFn((s) => `char_length(${s})`, 'integer', [string]);
      case 'indexof':
        return stringFn((s, t) => `(strpos(${s}, ${t}) - 1)`, 'integer', [string, string]);
      case 'concat':
        return stringFn((s, t) => `(${s} || ${t})`, 'string', [string, string]);
      case 'substring':
        return stringFn(
          (s, start, length) => (length === undefined ? `substr(${s}, ${clamp(start!)} + 1)` : `substr(${s}, ${clamp(start!)} + 1, ${clamp(length)})`),
          'string',
          [string, integer, integer],
          2,
        );
      case 'year':
        return part('YEAR', ['datetime', 'date']);
      case 'month':
        return part('MONTH', ['datetime', 'date']);
      case 'day':
        return part('DAY', ['datetime', 'date']);
      case 'hour':
        return part('HOUR', ['datetime', 'time']);
      case 'minute':
        return part('MINUTE', ['datetime', 'time']);
      case 'second':
        return part('SECOND', ['datetime', 'time'], (sql) => `floor(${sql})::integer`);
      case 'fractionalseconds': {
        const [value] = this.args(node, scope, [['datetime', 'time']]);
        const source = value!.type === 'datetime' ? `(${value!.sql} AT TIME ZONE 'UTC')` : value!.sql;
        const seconds = `EXTRACT(SECOND FROM ${source})`;
        return { sql: `(${seconds} - floor(${seconds}))`, type: 'decimal', nullable: value!.nullable };
      }
      case 'date': {
        const [value] = this.args(node, scope, [['datetime']]);
        return { sql: `(${value!.sql} AT TIME ZONE 'UTC')::date`, type: 'date', nullable: value!.nullable };
      }
      case 'time': {
        const [value] = this.args(node, scope, [['datetime']]);
        return { sql: `(${value!.sql} AT TIME ZONE 'UTC')::time`, type: 'time', nullable: value!.nullable };
      }
      case 'now':
        this.args(node, scope, []);
        return { sql: 'now()', type: 'datetime', nullable: false };
      case 'round':
      case 'floor':
      case 'ceiling': {
        const [value] = this.args(node, scope, [number]);
        const fn = node.name === 'ceiling' ? 'ceil' : node.name;
        return { sql: `${fn}((${value!.sql})::numeric)`, type: value!.type, nullable: value!.nullable };
      }
      default:
        throw ODataErrors.unsupported(`The function ${node.name}()`, this.ref(node.position));
    }
  }
}
