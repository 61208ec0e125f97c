import type { PropertyModel } from '../resources/resource-model.js';
import type { EntityModel, NavigationModel } from './entity-model.js';

/**
 * Shared pieces of the SQL compilers: typed SQL fragments, the parameter list, table aliases and the
 * scope of names an expression sees.
 */

/** The type of a compiled expression (EDM types folded to what SQL distinguishes). */
export type SqlType = 'string' | 'boolean' | 'guid' | 'datetime' | 'date' | 'time' | 'integer' | 'decimal' | 'null';

export const EDM_NAME: Record<SqlType, string> = {
  string: 'Edm.String',
  boolean: 'Edm.Boolean',
  guid: 'Edm.Guid',
  datetime: 'Edm.DateTimeOffset',
  date: 'Edm.Date',
  time: 'Edm.TimeOfDay',
  integer: 'an integer',
  decimal: 'Edm.Decimal',
  null: 'null',
};

/** The PostgreSQL cast a bound parameter of each type gets (so its type is never guessed). */
export const CAST_OF: Record<Exclude<SqlType, 'null'>, string> = {
  string: 'text',
  boolean: 'boolean',
  guid: 'uuid',
  datetime: 'timestamptz',
  date: 'date',
  time: 'time',
  integer: 'bigint',
  decimal: 'numeric',
};

export interface SqlExpr {
  readonly sql: string;
  readonly type: SqlType;
  /** Whether the value can be SQL NULL. */
  readonly nullable: boolean;
}

export function isNumeric(type: SqlType): boolean {
  return type === 'integer' || type === 'decimal';
}

export function sqlTypeOf(property: PropertyModel): SqlType {
  switch (property.type) {
    case 'Edm.String':
      return 'string';
    case 'Edm.Boolean':
      return 'boolean';
    case 'Edm.Guid':
      return 'guid';
    case 'Edm.DateTimeOffset':
      return 'datetime';
  }
}

/**
 * The values bound to `$N` placeholders, numbered from `first` (the repository binds the tenant scope
 * as $1 and $2, so compiled queries usually start at 3). Every placeholder carries an explicit cast.
 */
export class SqlParams {
  readonly values: unknown[] = [];

  constructor(readonly first: number) {
    if (!Number.isInteger(first) || first < 1) throw new Error(`firstParam must be a positive integer, got ${first}`);
  }

  add(value: unknown, cast: string): string {
    this.values.push(value);
    return `$${this.first + this.values.length - 1}::${cast}`;
  }

  get length(): number {
    return this.values.length;
  }
}

/**
 * `LIMIT n OFFSET m` with the numbers written into the SQL, not bound. PostgreSQL cannot estimate a
 * bound LIMIT when it plans a prepared statement generically (it assumes 10 % of the rows), so such
 * a plan always looks costlier than a custom one and every execution is planned anew — which cost
 * more than executing the page. With literals, repeated statements settle on one generic plan. The
 * numbers are the parser's validated integers; anything else is a programming error.
 */
export function limitClause(limit: number, offset: number): string {
  for (const value of [limit, offset]) {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`LIMIT/OFFSET must be non-negative safe integers, got ${value}`);
  }
  return `LIMIT ${limit} OFFSET ${offset}`;
}

/** Aliases for the tables of navigation subqueries: `o_m1`, `o_t1`, … (the root alias is the caller's). */
export class Aliases {
  private counter = 0;

  next(): { link: string; target: string } {
    this.counter += 1;
    return { link: `o_m${this.counter}`, target: `o_t${this.counter}` };
  }
}

export const ROOT_ALIAS_PATTERN = /^(?!o_)[a-z][a-z0-9_]{0,30}$/;

/** An entity instance an expression can refer to: its model and the SQL alias of its row. */
export interface Binding {
  readonly model: EntityModel;
  readonly alias: string;
}

/** What names mean inside an expression being compiled. */
export interface ExprScope {
  readonly params: SqlParams;
  readonly aliases: Aliases;
  /** The instance `$it` and unprefixed paths refer to. */
  readonly it: Binding;
  /** Lambda variables in scope. */
  readonly variables: ReadonlyMap<string, Binding>;
  /** Counts arithmetic operators (limited, see compile-filter). */
  readonly budget: { arithmetic: number };
}

export function newScope(model: EntityModel, alias: string, params: SqlParams, aliases = new Aliases()): ExprScope {
  return { params, aliases, it: { model, alias }, variables: new Map(), budget: { arithmetic: 0 } };
}

/** `<column> = <outer>.<id>` and the tenant/org correlation of a link row with its outer row. */
export function linkCorrelation(navigation: NavigationModel, link: string, outer: string): string {
  return (
    `${link}.tenant_key = ${outer}.tenant_key AND ${link}.org_key = ${outer}.org_key` +
    ` AND ${link}.${navigation.link.sourceColumn} = ${outer}.id`
  );
}

/** `JOIN <target table> <t> ON <t> is the link row's related record, in the same scope`. */
export function targetJoin(navigation: NavigationModel, link: string, target: string): string {
  return (
    `JOIN ${navigation.target().table} ${target} ON ${target}.tenant_key = ${link}.tenant_key` +
    ` AND ${target}.org_key = ${link}.org_key AND ${target}.id = ${link}.${navigation.link.targetColumn}`
  );
}

/** A string expression as ordered/compared by code point (agrees with a JS `<` on the same text). */
export function collateC(expr: SqlExpr): string {
  return expr.type === 'string' ? `${expr.sql} COLLATE "C"` : expr.sql;
}
