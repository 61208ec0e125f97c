/**
 * Our own OData query AST: what `parseQuery` produces from the raw query options and what the
 * compilers consume. It knows nothing about the entity model (names are as the client wrote them) and
 * nothing about odata-v4-parser (whose loosely typed tree is converted, checked and corrected into
 * this one). Every node carries `position`: the 0-based offset in the option value it came from, and
 * `option` on the roots says which option (`$filter`, `$expand/users/$filter`, …) that is.
 */

/** EDM primitive types a literal can have. Integers that fit 32 bits are `Edm.Int32`. */
export type EdmLiteralType =
  | 'Edm.String'
  | 'Edm.Boolean'
  | 'Edm.Guid'
  | 'Edm.DateTimeOffset'
  | 'Edm.Date'
  | 'Edm.TimeOfDay'
  | 'Edm.Int32'
  | 'Edm.Int64'
  | 'Edm.Decimal'
  | 'Edm.Double';

interface Node {
  /** 0-based offset in the option value. */
  readonly position: number;
}

/**
 * A literal value, already unescaped and validated. Numbers, dates and times are kept as canonical
 * strings (exact: no float rounding, no time-zone shifts); they are bound as text and cast in SQL.
 */
export type LiteralNode = Node &
  (
    | { readonly kind: 'literal'; readonly type: 'Edm.String'; readonly value: string }
    | { readonly kind: 'literal'; readonly type: 'Edm.Boolean'; readonly value: boolean }
    /** lower-case 8-4-4-4-12 hex */
    | { readonly kind: 'literal'; readonly type: 'Edm.Guid'; readonly value: string }
    /** ISO 8601 with offset, validated (`2024-01-31T10:00:00.5+01:00`) */
    | { readonly kind: 'literal'; readonly type: 'Edm.DateTimeOffset'; readonly value: string }
    /** `YYYY-MM-DD`, a real calendar date */
    | { readonly kind: 'literal'; readonly type: 'Edm.Date'; readonly value: string }
    /** `HH:MM[:SS[.fffffff]]` */
    | { readonly kind: 'literal'; readonly type: 'Edm.TimeOfDay'; readonly value: string }
    /** decimal digits with optional `-`, within the type's range */
    | { readonly kind: 'literal'; readonly type: 'Edm.Int32' | 'Edm.Int64'; readonly value: string }
    /** `-12.50`, `1.5e3` (finite; NaN/INF are refused) */
    | { readonly kind: 'literal'; readonly type: 'Edm.Decimal' | 'Edm.Double'; readonly value: string }
  );

export interface NullNode extends Node {
  readonly kind: 'null';
}

/** One `/`-separated segment of a path, as written. */
export interface PathSegment extends Node {
  readonly name: string;
}

/**
 * Where a path starts: `implicit` = the current instance (`name`), `it` = `$it/name`, `variable` =
 * a lambda variable (`u/name` inside `users/any(u: …)`).
 */
export type PathRoot = { readonly kind: 'implicit' } | { readonly kind: 'it' } | { readonly kind: 'variable'; readonly name: string };

/** A property path: `name`, `$it/name`, `u/userKey` (segments are resolved against the model later). */
export interface PropertyNode extends Node {
  readonly kind: 'property';
  readonly root: PathRoot;
  readonly segments: readonly PathSegment[];
}

/** `users/$count`: the number of related records. */
export interface CountNode extends Node {
  readonly kind: 'count';
  readonly root: PathRoot;
  readonly segments: readonly PathSegment[];
}

/** `users/any(u: …)`, `users/any()`, `users/all(u: …)`. */
export interface LambdaNode extends Node {
  readonly kind: 'any' | 'all';
  readonly root: PathRoot;
  readonly segments: readonly PathSegment[];
  /** Absent only for `any()` (= "has at least one"). */
  readonly variable?: string;
  readonly predicate?: ExprNode;
}

export type ComparisonOperator = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';

export interface CompareNode extends Node {
  readonly kind: 'compare';
  readonly operator: ComparisonOperator;
  readonly left: ExprNode;
  readonly right: ExprNode;
}

export interface LogicalNode extends Node {
  readonly kind: 'logical';
  readonly operator: 'and' | 'or';
  readonly left: ExprNode;
  readonly right: ExprNode;
}

export interface NotNode extends Node {
  readonly kind: 'not';
  readonly operand: ExprNode;
}

/** `operand in (a, b, …)` (OData 4.01); at least one item. */
export interface InNode extends Node {
  readonly kind: 'in';
  readonly operand: ExprNode;
  readonly items: readonly ExprNode[];
}

export type ArithmeticOperator = 'add' | 'sub' | 'mul' | 'div' | 'divby' | 'mod';

export interface ArithmeticNode extends Node {
  readonly kind: 'arithmetic';
  readonly operator: ArithmeticOperator;
  readonly left: ExprNode;
  readonly right: ExprNode;
}

export interface NegateNode extends Node {
  readonly kind: 'negate';
  readonly operand: ExprNode;
}

/** A built-in function call; `name` is lower-case as OData function names are. */
export interface CallNode extends Node {
  readonly kind: 'call';
  readonly name: string;
  readonly args: readonly ExprNode[];
}

export type ExprNode =
  | LiteralNode
  | NullNode
  | PropertyNode
  | CountNode
  | LambdaNode
  | CompareNode
  | LogicalNode
  | NotNode
  | InNode
  | ArithmeticNode
  | NegateNode
  | CallNode;

export type ExprKind = ExprNode['kind'];

/** An expression together with the option it was written in (for error messages). */
export interface OptionExpr {
  readonly option: string;
  readonly text: string;
  readonly expr: ExprNode;
}

export interface OrderByItem {
  readonly expr: ExprNode;
  readonly direction: 'asc' | 'desc';
  readonly position: number;
}

export interface OrderBy {
  readonly option: string;
  readonly text: string;
  readonly items: readonly OrderByItem[];
}

/** `$select`: `*` or property names as written (resolved against the model by the compiler). */
export type SelectItem = { readonly kind: 'all'; readonly position: number } | { readonly kind: 'property'; readonly name: string; readonly position: number };

export interface Select {
  readonly option: string;
  readonly items: readonly SelectItem[];
}

/** `$search`: words and "phrases", combined with AND (also implicit), OR, NOT and parentheses. */
export type SearchNode =
  | { readonly kind: 'term'; readonly value: string; readonly phrase: boolean; readonly position: number }
  | { readonly kind: 'and' | 'or'; readonly left: SearchNode; readonly right: SearchNode; readonly position: number }
  | { readonly kind: 'not'; readonly operand: SearchNode; readonly position: number };

export interface Search {
  readonly option: string;
  readonly text: string;
  readonly expr: SearchNode;
}

/** The options allowed inside `$expand=nav(…)`. */
export interface ExpandOptions {
  readonly filter?: OptionExpr;
  readonly orderby?: OrderBy;
  readonly select?: Select;
  readonly search?: Search;
  readonly top?: number;
  readonly skip?: number;
  readonly count?: boolean;
  readonly expand?: readonly ExpandItem[];
}

export interface ExpandItem {
  /** The navigation property as written (`users`). */
  readonly path: string;
  readonly position: number;
  /** `$expand` or `$expand/users/$expand` … (for messages). */
  readonly option: string;
  readonly options: ExpandOptions;
}

/** Everything a collection request asked for. Absent = not given. */
export interface ODataQuery {
  readonly filter?: OptionExpr;
  readonly orderby?: OrderBy;
  readonly select?: Select;
  readonly expand?: readonly ExpandItem[];
  readonly search?: Search;
  readonly top?: number;
  readonly skip?: number;
  /** `$count=true` or `$inlinecount=allpages`. */
  readonly count: boolean;
  /** Raw (opaque) `$skiptoken`; decoded against the compiled order by `skiptoken.ts`. */
  readonly skiptoken?: string;
  /** `$format` when given (only JSON is accepted). */
  readonly format?: 'json';
  /** The trimmed text of each system option given, by canonical name (`$filter` → text): for next links. */
  readonly raw: Readonly<Record<string, string>>;
  /** Custom query options (names without `$` that are not system options): passed through, unused. */
  readonly custom: Readonly<Record<string, string | string[]>>;
}
