/**
 * Validation and canonical forms of literal values. Whatever passes here is accepted by PostgreSQL's
 * input functions for the cast the compiler puts on the bound parameter (uuid, timestamptz, date, time,
 * bigint, numeric), so a client value can never make the database raise an error (= a 500).
 */

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,12})?)?$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,12})?)?([Zz]|[+-]\d{2}:\d{2})$/;
const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?\d+(?:\.\d+)?$/;
const DOUBLE = /^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

export const INT32_MIN = -(2n ** 31n);
export const INT32_MAX = 2n ** 31n - 1n;
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

export function canonicalGuid(text: string): string | undefined {
  return GUID.test(text) ? text.toLowerCase() : undefined;
}

function validDate(year: number, month: number, day: number): boolean {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const days = [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return day <= days[month - 1]!;
}

/** `YYYY-MM-DD` (years 0001–9999) → itself, else undefined. */
export function canonicalDate(text: string): string | undefined {
  const m = DATE.exec(text);
  if (!m) return undefined;
  return validDate(Number(m[1]), Number(m[2]), Number(m[3])) ? text : undefined;
}

/** `HH:MM[:SS[.f…]]` → `HH:MM:SS[.f…]` (fraction cut to microseconds), else undefined. */
export function canonicalTimeOfDay(text: string): string | undefined {
  const m = TIME.exec(text);
  if (!m) return undefined;
  const [hour, minute, second] = [Number(m[1]), Number(m[2]), Number(m[3] ?? '0')];
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  return `${m[1]}:${m[2]}:${m[3] ?? '00'}${m[4] ? m[4].slice(0, 7) : ''}`;
}

/**
 * ISO 8601 date-time with a `Z` or `±hh:mm` offset (years 0001–9999, offsets up to ±14:59) →
 * canonical `YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±hh:mm)`, else undefined.
 */
export function canonicalDateTimeOffset(text: string): string | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? '0')) as [number, number, number, number, number, number];
  if (!validDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return undefined;
  const zone = m[8]!.toUpperCase();
  if (zone !== 'Z' && (Number(zone.slice(1, 3)) > 14 || Number(zone.slice(4, 6)) > 59)) return undefined;
  const fraction = m[7] ? m[7].slice(0, 7) : '';
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${fraction}${zone}`;
}

/** An integer literal → `{ value, int32 }` (canonical decimal text), or undefined if not within int64. */
export function canonicalInteger(text: string): { value: string; int32: boolean } | undefined {
  if (!INTEGER.test(text)) return undefined;
  const value = BigInt(text);
  if (value < INT64_MIN || value > INT64_MAX) return undefined;
  return { value: value.toString(), int32: value >= INT32_MIN && value <= INT32_MAX };
}

/**
 * At most this many characters per number: with the cap on arithmetic operators per query, numeric
 * results stay far inside PostgreSQL's numeric limits (no overflow error can be provoked).
 */
export const MAX_NUMBER_LENGTH = 100;

/** A decimal literal (`-12.50`) → canonical text, else undefined. */
export function canonicalDecimal(text: string): string | undefined {
  if (!DECIMAL.test(text) || text.length > MAX_NUMBER_LENGTH) return undefined;
  return text.startsWith('+') ? text.slice(1) : text;
}

/** A double literal (`1.5e3`): finite, exponent within ±308, else undefined. */
export function canonicalDouble(text: string): string | undefined {
  if (!DOUBLE.test(text) || text.length > MAX_NUMBER_LENGTH) return undefined;
  const exponent = /[eE]([+-]?\d+)$/.exec(text);
  if (exponent && Math.abs(Number(exponent[1])) > 308) return undefined;
  return text.startsWith('+') ? text.slice(1) : text;
}

/** `\`, `%` and `_` escaped for a LIKE pattern (PostgreSQL's default escape character is `\`). */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
