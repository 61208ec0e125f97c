import { filter as parseCommonExpression } from 'odata-v4-parser';
import type {
  ArithmeticOperator,
  ComparisonOperator,
  ExprNode,
  LambdaNode,
  LiteralNode,
  OrderBy,
  OrderByItem,
  PathRoot,
  PathSegment,
} from './ast.js';
import {
  canonicalDate,
  canonicalDateTimeOffset,
  canonicalDecimal,
  canonicalDouble,
  canonicalGuid,
  canonicalInteger,
  canonicalTimeOfDay,
} from './literals.js';
import { ODataErrors, SourceRef } from './odata-error.js';
import { InListSpan, MAX_NESTING_DEPTH, scanExpression, ScannedExpression, splitTopLevel, trimPart } from './source-text.js';

/**
 * One OData common expression (a `$filter`, an `$orderby` key, an `in` list item) → our AST.
 *
 * odata-v4-parser does the grammar; this module
 * 1. pre-scans the text (`source-text.ts`: string literals, `in` lists, parentheses, depth limit),
 * 2. maps the parser's `Unexpected character at N` to a 400 with the position,
 * 3. converts its loosely typed tree, refusing (400, named) every node kind it does not know,
 * 4. re-associates operators with the OData precedence and left associativity (the parser nests
 *    every binary operator to the right, so `a sub b sub c` came out as `a sub (b sub c)`,
 *    `a mul b add c` as `a mul (b add c)` and `not a and b` as `not (a and b)`).
 */

/** The parser's node shape (its typings say `value: any`). */
interface ParserNode {
  readonly type: string;
  readonly value: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly position: number;
  readonly next: number;
}

interface Context {
  readonly option: string;
  /** The original (trimmed) text; positions in it equal positions in `scan.masked`. */
  readonly text: string;
  readonly offset: number;
  readonly depth: number;
  readonly scan: ScannedExpression;
  /** Lambda variables declared around the current node. */
  readonly variables: ReadonlySet<string>;
}

export function parseExpression(text: string, option: string, offset = 0, depth = 0): ExprNode {
  const part = trimPart({ text, start: offset });
  if (part.text === '') {
    throw ODataErrors.syntax(option, part.start, 'an expression is expected');
  }
  const scan = scanExpression(part.text, option, part.start, depth);
  let tree: ParserNode;
  try {
    tree = parseCommonExpression(scan.masked) as unknown as ParserNode;
  } catch (error) {
    const reported = /at (\d+)/.exec(error instanceof Error ? error.message : '');
    const position = reported ? Number(reported[1]) : 0;
    throw shifted(option, part.text, part.start, position);
  }
  if (!tree || typeof tree !== 'object' || tree.next !== scan.masked.length) {
    const position = tree && typeof tree.next === 'number' ? tree.next : 0;
    throw shifted(option, part.text, part.start, position);
  }
  const context: Context = { option, text: part.text, offset: part.start, depth, scan, variables: new Set() };
  const expr = convert(tree, context);
  if (depth + nesting(expr) > MAX_NESTING_DEPTH) {
    throw ODataErrors.limit(`${option} is nested more than ${MAX_NESTING_DEPTH} levels deep`, option);
  }
  return expr;
}

/**
 * Nesting that parentheses do not show: unary operators, calls and lambdas each add a level (chains of
 * one binary operator do not; parentheses are counted by the scanner).
 */
function nesting(node: ExprNode): number {
  switch (node.kind) {
    case 'literal':
    case 'null':
    case 'property':
    case 'count':
      return 0;
    case 'not':
    case 'negate':
      return 1 + nesting(node.operand);
    case 'in':
      return 1 + nesting(node.operand);
    case 'call':
      return 1 + Math.max(0, ...node.args.map(nesting));
    case 'any':
    case 'all':
      return 1 + (node.predicate ? nesting(node.predicate) : 0);
    case 'compare':
    case 'logical':
    case 'arithmetic':
      return Math.max(nesting(node.left), nesting(node.right));
  }
}

function describeAt(text: string, position: number): string {
  if (position >= text.length) return 'end of input';
  const shown = text.slice(position, position + 20);
  return `'${shown}${text.length > position + 20 ? '…' : ''}'`;
}

/** A syntax error at `position` of `text`, which starts at `offset` of the option value. */
function shifted(option: string, text: string, offset: number, position: number) {
  return ODataErrors.syntax(option, offset + position, `unexpected ${describeAt(text, position)}`);
}

/** `$orderby`: comma-separated expressions, each optionally followed by `asc` or `desc`. */
export function parseOrderBy(text: string, option: string, depth = 0): OrderBy {
  const items: OrderByItem[] = [];
  for (const raw of splitTopLevel(text, ',')) {
    const part = trimPart(raw);
    if (part.text === '') throw ODataErrors.syntax(option, part.start, 'an $orderby key is expected');
    const suffix = /\s+(asc|desc)$/i.exec(part.text);
    const exprText = suffix ? part.text.slice(0, suffix.index) : part.text;
    const expr = parseExpression(exprText, option, part.start, depth);
    items.push({ expr, direction: suffix?.[1]!.toLowerCase() === 'desc' ? 'desc' : 'asc', position: part.start });
  }
  return { option, text, items };
}

function ref(context: Context, position: number): SourceRef {
  return { option: context.option, position: context.offset + position };
}

// ---------------------------------------------------------------------------------------------
// Operators: flatten the parser's operator nodes to the written sequence, then rebuild with the
// OData precedence (grouping > primary (in) > unary (not, -) > mul div divby mod > add sub >
// gt ge lt le > eq ne > and > or), all binary operators left-associative.

type BinaryOperator = 'and' | 'or' | ComparisonOperator | ArithmeticOperator | 'in';

const BINARY_OF: Record<string, BinaryOperator> = {
  AndExpression: 'and',
  OrExpression: 'or',
  EqualsExpression: 'eq',
  NotEqualsExpression: 'ne',
  LesserThanExpression: 'lt',
  LesserOrEqualsExpression: 'le',
  GreaterThanExpression: 'gt',
  GreaterOrEqualsExpression: 'ge',
  AddExpression: 'add',
  SubExpression: 'sub',
  MulExpression: 'mul',
  DivExpression: 'div',
  ModExpression: 'mod',
};

const PRECEDENCE: Record<BinaryOperator, number> = {
  or: 1,
  and: 2,
  eq: 3,
  ne: 3,
  gt: 4,
  ge: 4,
  lt: 4,
  le: 4,
  add: 5,
  sub: 5,
  mul: 6,
  div: 6,
  divby: 6,
  mod: 6,
  in: 8,
};

type ChainItem =
  | { readonly t: 'operand'; readonly node: ExprNode }
  | { readonly t: 'list'; readonly items: readonly ExprNode[]; readonly position: number }
  | { readonly t: 'binary'; readonly op: BinaryOperator }
  | { readonly t: 'prefix'; readonly op: 'not' | '-'; readonly position: number };

function isOperatorNode(node: ParserNode): boolean {
  return node.type in BINARY_OF || node.type === 'NotExpression' || node.type === 'NegateExpression' || node.type === 'CommonExpression';
}

function flatten(node: ParserNode, context: Context, out: ChainItem[]): void {
  const binary = BINARY_OF[node.type];
  if (binary) {
    flatten(node.value.left, context, out);
    const right = node.value.right as ParserNode;
    const list = binary === 'eq' && right.type === 'Literal' ? context.scan.inLists.get(right.position) : undefined;
    if (list) {
      out.push({ t: 'binary', op: 'in' });
      out.push({ t: 'list', items: parseInList(list, context), position: context.offset + list.start });
    } else {
      out.push({ t: 'binary', op: binary });
      flatten(right, context, out);
    }
    return;
  }
  switch (node.type) {
    case 'CommonExpression':
      flatten(node.value, context, out);
      return;
    case 'NotExpression':
      out.push({ t: 'prefix', op: 'not', position: context.offset + node.position });
      flatten(node.value, context, out);
      return;
    case 'NegateExpression':
      out.push({ t: 'prefix', op: '-', position: context.offset + node.position });
      flatten(node.value, context, out);
      return;
    default:
      out.push({ t: 'operand', node: convertAtom(node, context) });
  }
}

function parseInList(list: InListSpan, context: Context): ExprNode[] {
  if (list.items.length === 0) {
    throw ODataErrors.syntax(context.option, context.offset + list.start, "the list of 'in' must not be empty");
  }
  return list.items.map((item) => {
    const parsed = parseExpression(item.text, context.option, context.offset + item.start, list.depth);
    // OData's listExpr holds primitive literals only (`name in (name, email)` is not OData).
    if (parsed.kind !== 'literal' && parsed.kind !== 'null') {
      throw ODataErrors.syntax(context.option, parsed.position, "the items of an 'in' list must be literals");
    }
    return parsed;
  });
}

function convert(node: ParserNode, context: Context): ExprNode {
  if (!isOperatorNode(node)) return convertAtom(node, context);
  const chain: ChainItem[] = [];
  flatten(node, context, chain);
  return rebuild(chain);
}

function rebuild(chain: readonly ChainItem[]): ExprNode {
  let i = 0;
  const internal = (what: string) => new Error(`OData expression rebuild: ${what}`);

  function primary(): ExprNode {
    const item = chain[i++];
    if (!item || item.t !== 'operand') throw internal('operand expected');
    let left = item.node;
    while (chain[i]?.t === 'binary' && (chain[i] as { op: BinaryOperator }).op === 'in') {
      i++;
      const list = chain[i++];
      if (!list || list.t !== 'list') throw internal('in list expected');
      left = { kind: 'in', operand: left, items: list.items, position: left.position };
    }
    return left;
  }

  function unary(): ExprNode {
    const item = chain[i];
    if (item?.t === 'prefix') {
      i++;
      const operand = unary();
      return item.op === 'not'
        ? { kind: 'not', operand, position: item.position }
        : { kind: 'negate', operand, position: item.position };
    }
    return primary();
  }

  function binary(minimum: number): ExprNode {
    let left = unary();
    for (;;) {
      const item = chain[i];
      if (!item || item.t !== 'binary' || PRECEDENCE[item.op] < minimum || item.op === 'in') return left;
      i++;
      const right = binary(PRECEDENCE[item.op] + 1);
      left = make(item.op, left, right);
    }
  }

  const result = binary(0);
  if (i !== chain.length) throw internal('trailing items');
  return result;
}

function make(op: Exclude<BinaryOperator, 'in'>, left: ExprNode, right: ExprNode): ExprNode {
  const position = left.position;
  switch (op) {
    case 'and':
    case 'or':
      return { kind: 'logical', operator: op, left, right, position };
    case 'eq':
    case 'ne':
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le':
      return { kind: 'compare', operator: op, left, right, position };
    default:
      return { kind: 'arithmetic', operator: op, left, right, position };
  }
}

// ---------------------------------------------------------------------------------------------
// Atoms

const UNSUPPORTED_NODES: Record<string, string> = {
  HasExpression: "The 'has' operator",
  IsOfExpression: 'isof()',
  CastExpression: 'cast()',
  RootExpression: '$root',
  ParameterAlias: 'A parameter alias (@name)',
  ArrayOrObject: 'A JSON array or object literal',
  Array: 'A JSON array literal',
  Object: 'A JSON object literal',
  Enum: 'An enumeration literal',
  FunctionExpression: 'A bound or custom function',
  ImplicitVariableExpression: '$it as a value',
  LambdaVariableExpression: 'A lambda variable as a value',
};

function convertAtom(node: ParserNode, context: Context): ExprNode {
  switch (node.type) {
    case 'Literal':
      return convertLiteral(node, context);
    case 'ParenExpression':
    case 'BoolParenExpression':
      return convert(node.value, context);
    case 'MethodCallExpression': {
      const args = ((node.value.parameters ?? []) as ParserNode[]).map((parameter) => convert(parameter, context));
      return { kind: 'call', name: String(node.value.method).toLowerCase(), args, position: context.offset + node.position };
    }
    case 'FirstMemberExpression':
    case 'MemberExpression':
    case 'PropertyPathExpression':
      return convertMember(node, context);
    default: {
      const what = UNSUPPORTED_NODES[node.type] ?? `The expression '${context.text.slice(node.position, node.next)}'`;
      throw ODataErrors.unsupported(what, ref(context, node.position));
    }
  }
}

function convertLiteral(node: ParserNode, context: Context): LiteralNode | ExprNode {
  const raw = context.text.slice(node.position, node.next);
  const position = context.offset + node.position;
  const bad = (what: string) => ODataErrors.syntax(context.option, position, `${what} '${raw}'`);
  switch (node.value) {
    case 'Edm.String': {
      const span = context.scan.strings.get(node.position);
      if (!span || span.end !== node.next) throw bad('invalid string literal');
      return { kind: 'literal', type: 'Edm.String', value: span.value, position };
    }
    case 'Edm.Boolean': {
      const lower = raw.toLowerCase();
      if (lower !== 'true' && lower !== 'false') throw bad('invalid Boolean literal');
      return { kind: 'literal', type: 'Edm.Boolean', value: lower === 'true', position };
    }
    case 'null':
      if (raw !== 'null') throw bad('invalid null literal');
      return { kind: 'null', position };
    case 'Edm.SByte':
    case 'Edm.Byte':
    case 'Edm.Int16':
    case 'Edm.Int32':
    case 'Edm.Int64': {
      const integer = canonicalInteger(raw);
      if (!integer) throw bad('integer literal out of the Edm.Int64 range:');
      return { kind: 'literal', type: integer.int32 ? 'Edm.Int32' : 'Edm.Int64', value: integer.value, position };
    }
    case 'Edm.Decimal': {
      const value = canonicalDecimal(raw);
      if (value === undefined) throw bad('invalid decimal literal');
      return { kind: 'literal', type: 'Edm.Decimal', value, position };
    }
    case 'Edm.Double':
    case 'Edm.Single': {
      const value = canonicalDouble(raw);
      if (value === undefined) throw ODataErrors.unsupported(`The number '${raw}'`, { option: context.option, position });
      return { kind: 'literal', type: 'Edm.Double', value, position };
    }
    case 'Edm.Guid': {
      const value = canonicalGuid(raw);
      if (value === undefined) throw bad('invalid GUID literal');
      return { kind: 'literal', type: 'Edm.Guid', value, position };
    }
    case 'Edm.DateTimeOffset': {
      const value = canonicalDateTimeOffset(raw);
      if (value === undefined) throw bad('invalid date-time literal');
      return { kind: 'literal', type: 'Edm.DateTimeOffset', value, position };
    }
    case 'Edm.Date': {
      const value = canonicalDate(raw);
      if (value === undefined) throw bad('invalid date literal');
      return { kind: 'literal', type: 'Edm.Date', value, position };
    }
    case 'Edm.TimeOfDay': {
      const value = canonicalTimeOfDay(raw);
      if (value === undefined) throw bad('invalid time-of-day literal');
      return { kind: 'literal', type: 'Edm.TimeOfDay', value, position };
    }
    default:
      throw ODataErrors.unsupported(`A literal of type ${String(node.value)} ('${raw}')`, { option: context.option, position });
  }
}

/**
 * `name`, `$it/name`, `u/name`, `users/$count`, `users/any(…)`: the parser nests these as
 * FirstMemberExpression → MemberExpression → PropertyPathExpression { current, next } chains.
 */
function convertMember(node: ParserNode, context: Context): ExprNode {
  let root: PathRoot = { kind: 'implicit' };
  let member: ParserNode = node;
  if (node.type === 'FirstMemberExpression') {
    if (Array.isArray(node.value)) {
      const [head, rest] = node.value as [ParserNode, ParserNode | undefined];
      if (!rest || node.value.length !== 2) throw shifted(context.option, context.text, context.offset, node.position);
      if (head.type === 'ImplicitVariableExpression') root = { kind: 'it' };
      else if (head.type === 'LambdaVariableExpression') {
        const name = String(head.value.name);
        if (!context.variables.has(name)) {
          // Inside a lambda the parser takes any leading identifier for a lambda variable.
          const tail = convertMember(rest, context);
          if (tail.kind !== 'property' && tail.kind !== 'count' && tail.kind !== 'any' && tail.kind !== 'all') return tail;
          return { ...tail, segments: [{ name, position: context.offset + head.position }, ...tail.segments], position: context.offset + node.position };
        }
        root = { kind: 'variable', name };
      } else return convertAtom(head, context);
      member = rest;
    } else if (node.value?.type === 'LambdaVariableExpression' && !context.variables.has(String(node.value.value.name))) {
      // `name` inside a lambda: the parser calls it a lambda variable; it is a property of $it.
      return { kind: 'property', root, segments: [identifier(node.value, context)], position: context.offset + node.position };
    } else {
      member = node.value;
    }
  }
  if (member.type === 'MemberExpression') member = member.value;
  if (member.type !== 'PropertyPathExpression') return convertAtom(member, context);

  const segments: PathSegment[] = [];
  let current: ParserNode = member;
  for (;;) {
    const value = current.value;
    if (value?.type === 'ODataIdentifier') {
      segments.push(identifier(value, context));
      return { kind: 'property', root, segments, position: context.offset + node.position };
    }
    const head = value?.current as ParserNode | undefined;
    if (!head || head.type !== 'ODataIdentifier') {
      throw ODataErrors.unsupported(`The path '${context.text.slice(current.position, current.next)}'`, ref(context, current.position));
    }
    segments.push(identifier(head, context));
    const next = value.next as ParserNode | undefined;
    if (!next) {
      // The parser sometimes stops inside a path and returns the prefix (`$it/users/any(…)`).
      if (current.next !== head.next) throw shifted(context.option, context.text, context.offset, head.next);
      return { kind: 'property', root, segments, position: context.offset + node.position };
    }
    if (next.type === 'SingleNavigationExpression') {
      let inner: ParserNode = next.value;
      if (inner.type === 'MemberExpression') inner = inner.value;
      if (inner.type !== 'PropertyPathExpression') return convertAtom(inner, context);
      current = inner;
      continue;
    }
    if (next.type === 'CollectionPathExpression') {
      const tail = next.value as ParserNode;
      if (tail.type === 'CountExpression') return { kind: 'count', root, segments, position: context.offset + node.position };
      if (tail.type === 'AnyExpression' || tail.type === 'AllExpression') return lambda(tail, root, segments, context.offset + node.position, context);
      throw ODataErrors.unsupported(`The path '${context.text.slice(current.position, current.next)}'`, ref(context, next.position));
    }
    throw ODataErrors.unsupported(`The path '${context.text.slice(current.position, current.next)}'`, ref(context, next.position));
  }
}

function identifier(node: ParserNode, context: Context): PathSegment {
  const { name, namespace } = node.value as { name: string; namespace?: string };
  if (namespace) throw ODataErrors.unsupported(`The qualified name '${namespace}.${name}'`, ref(context, node.position));
  return { name: String(name), position: context.offset + node.position };
}

function lambda(tail: ParserNode, root: PathRoot, segments: PathSegment[], position: number, context: Context): LambdaNode {
  const kind = tail.type === 'AnyExpression' ? 'any' : 'all';
  const variable = tail.value?.variable as ParserNode | undefined;
  const predicate = tail.value?.predicate as ParserNode | undefined;
  if (!variable || !predicate) {
    if (kind === 'all') throw ODataErrors.syntax(context.option, context.offset + tail.position, 'all() needs a lambda expression');
    return { kind, root, segments, position };
  }
  const body = predicate.type === 'LambdaPredicateExpression' ? (predicate.value as ParserNode) : predicate;
  const name = String(variable.value.name);
  const inner: Context = { ...context, variables: new Set([...context.variables, name]) };
  return { kind, root, segments, variable: name, predicate: convert(body, inner), position };
}
