import { createHash } from 'node:crypto';
import type { OrderKey } from './compile-orderby.js';
import { canonicalDate, canonicalDateTimeOffset, canonicalGuid, canonicalTimeOfDay } from './literals.js';
import { ODataErrors } from './odata-error.js';
import { CAST_OF, collateC, SqlParams, SqlType } from './sql.js';

/**
 * `$skiptoken`: an opaque keyset cursor. It holds the sort-key values of the last row of a page
 * (the `$orderby` keys and the id tie-breaker) and a fingerprint of the query it belongs to, as
 * base64url JSON `{"v":1,"f":"<fingerprint>","k":[…]}`. The next page continues strictly after that
 * row, so page N costs what page 1 costs and rows inserted or deleted meanwhile shift nothing.
 *
 * A token from another query (other `$filter`/`$search`/`$orderby`/collection), of another version,
 * or malformed in any way → 400. Values are re-validated against the key types before being bound
 * (as parameters, never as SQL text), so a forged token can only ever select rows of the same scope.
 */
export const SKIPTOKEN_VERSION = 1;
const MAX_TOKEN_LENGTH = 4096;

/** A short hash of whatever defines a query's row set and order. */
export function queryFingerprint(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);
}

export function encodeSkipToken(values: readonly unknown[], fingerprint: string): string {
  return Buffer.from(JSON.stringify({ v: SKIPTOKEN_VERSION, f: fingerprint, k: values }), 'utf8').toString('base64url');
}

export type KeyValue = string | boolean | null;

export function decodeSkipToken(token: string, keys: readonly OrderKey[], fingerprint: string): KeyValue[] {
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) throw ODataErrors.invalidSkipToken('malformed');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw ODataErrors.invalidSkipToken('malformed');
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw ODataErrors.invalidSkipToken('malformed');
  const { v, f, k } = payload as { v?: unknown; f?: unknown; k?: unknown };
  if (v !== SKIPTOKEN_VERSION) throw ODataErrors.invalidSkipToken('unknown version');
  if (typeof f !== 'string' || !Array.isArray(k)) throw ODataErrors.invalidSkipToken('malformed');
  if (f !== fingerprint) throw ODataErrors.invalidSkipToken('it belongs to another query ($filter, $search or $orderby differ)');
  if (k.length !== keys.length) throw ODataErrors.invalidSkipToken('malformed');
  return keys.map((key, index) => validValue(k[index], key));
}

function validValue(value: unknown, key: OrderKey): KeyValue {
  if (value === null) {
    if (!key.nullable) throw ODataErrors.invalidSkipToken('malformed');
    return null;
  }
  const bad = () => ODataErrors.invalidSkipToken('malformed');
  switch (key.type) {
    case 'boolean':
      if (typeof value !== 'boolean') throw bad();
      return value;
    case 'string':
      if (typeof value !== 'string' || value.length > MAX_TOKEN_LENGTH || value.includes('\u0000')) throw bad();
      return value;
    case 'integer':
    case 'decimal':
      if (typeof value !== 'string' || !/^-?\d{1,1000}(\.\d{1,1000})?$/.test(value)) throw bad();
      return value;
    case 'guid':
      return checked(value, canonicalGuid, bad);
    case 'datetime':
      return checked(value, canonicalDateTimeOffset, bad);
    case 'date':
      return checked(value, canonicalDate, bad);
    case 'time':
      return checked(value, canonicalTimeOfDay, bad);
    case 'null':
      throw bad();
  }
}

function checked(value: unknown, canonical: (text: string) => string | undefined, bad: () => Error): string {
  const result = typeof value === 'string' ? canonical(value) : undefined;
  if (result === undefined) throw bad();
  return result;
}

/**
 * The predicate "row comes after the token's row" in the order of `keys` (nulls smallest).
 * All keys non-null and in one direction: a row comparison `(k1, k2, id) > ($a, $b, $c)` (an index on
 * the same columns serves it). Otherwise the expanded form
 * `k1 after a OR (k1 = a AND k2 after b) OR (k1 = a AND k2 = b AND id after c)`, where for a null
 * value "equal" is `IS NULL` and "after" follows the nulls-first ordering.
 */
export function compileKeyset(keys: readonly OrderKey[], values: readonly KeyValue[], params: SqlParams): string {
  const bound = values.map((value, index) => {
    const key = keys[index]!;
    if (value === null) return null;
    const type: Exclude<SqlType, 'null'> = key.type === 'integer' || key.type === 'decimal' ? 'decimal' : (key.type as Exclude<SqlType, 'null'>);
    return params.add(value, CAST_OF[type]);
  });
  const sameDirection = keys.every((key) => key.direction === keys[0]!.direction);
  if (sameDirection && keys.every((key, index) => !key.nullable && bound[index] !== null)) {
    const symbol = keys[0]!.direction === 'asc' ? '>' : '<';
    return `((${keys.map(collateC).join(', ')}) ${symbol} (${bound.join(', ')}))`;
  }
  const terms: string[] = [];
  const equals: string[] = [];
  keys.forEach((key, index) => {
    const param = bound[index] ?? null;
    let after: string | undefined;
    if (key.direction === 'asc') after = param === null ? (key.nullable ? `${key.sql} IS NOT NULL` : 'TRUE') : `${collateC(key)} > ${param}`;
    else if (param !== null) after = key.nullable ? `(${collateC(key)} < ${param} OR ${key.sql} IS NULL)` : `${collateC(key)} < ${param}`;
    if (after !== undefined) terms.push(`(${[...equals, after].join(' AND ')})`);
    equals.push(param === null ? `${key.sql} IS NULL` : `${key.sql} = ${param}`);
  });
  return terms.length === 0 ? 'FALSE' : `(${terms.join(' OR ')})`;
}
