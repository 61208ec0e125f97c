import { ODataErrors } from './odata-error.js';

/**
 * Character-level scanning of option values, done before odata-v4-parser sees them:
 * - string literals are found (with `''` escapes) and unescaped here, and their content is masked
 *   (`'O''Brien'` → `'xxxxxxx'`, same length) so the parser never trips over `%`, `&` or non-ASCII
 *   text inside them and positions stay the same;
 * - `x in (a, b)` (OData 4.01, unknown to the parser) is rewritten to `x eq '……'` of the same length,
 *   the list remembered by position and its items parsed separately;
 * - parentheses are balanced and their nesting depth limited before any recursive parser runs.
 */

export const MAX_NESTING_DEPTH = 32;

export interface StringLiteralSpan {
  readonly start: number;
  readonly end: number; // exclusive
  readonly value: string;
}

export interface InListSpan {
  /** Offset of the `(` of the list (where the masked placeholder literal starts). */
  readonly start: number;
  readonly end: number; // exclusive, after `)`
  readonly items: ReadonlyArray<{ readonly text: string; readonly start: number }>;
  /** Parenthesis depth inside the list (for the nesting limit when its items are parsed). */
  readonly depth: number;
}

export interface ScannedExpression {
  readonly masked: string;
  readonly strings: ReadonlyMap<number, StringLiteralSpan>;
  readonly inLists: ReadonlyMap<number, InListSpan>;
}

const IDENTIFIER_CHAR = /[A-Za-z0-9_.$]/;
const WHITESPACE = /\s/;

/**
 * Index just after the quoted run starting at `start` (`'…'` with `''` escapes, or `"…"` with `\`
 * escapes), or -1 when it is not closed.
 */
export function skipQuoted(text: string, start: number): number {
  const quote = text[start];
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (quote === "'" && c === "'") {
      if (text[i + 1] === "'") {
        i += 2;
        continue;
      }
      return i + 1;
    }
    if (quote === '"' && c === '\\') {
      i += 2;
      continue;
    }
    if (quote === '"' && c === '"') return i + 1;
    i++;
  }
  return -1;
}

/** Index of the `)` matching the `(` at `open` (quotes skipped), or -1. */
export function findClose(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = skipQuoted(text, i);
      if (end < 0) return -1;
      i = end - 1;
    } else if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/**
 * Splits at `separator` outside quotes and parentheses. Parts keep their offsets; quoting and
 * balance problems are left for the caller's parser to report (unbalanced text yields one part).
 */
export function splitTopLevel(text: string, separator: ',' | ';'): Array<{ text: string; start: number }> {
  const parts: Array<{ text: string; start: number }> = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = skipQuoted(text, i);
      if (end < 0) break;
      i = end - 1;
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === separator && depth === 0) {
      parts.push({ text: text.slice(from, i), start: from });
      from = i + 1;
    }
  }
  parts.push({ text: text.slice(from), start: from });
  return parts;
}

/** Trims a part, keeping its offset right. */
export function trimPart(part: { text: string; start: number }): { text: string; start: number } {
  const leading = part.text.length - part.text.trimStart().length;
  return { text: part.text.trim(), start: part.start + leading };
}

/**
 * Scans one expression. `offset` is where `text` starts within the option value and `depth` the
 * parenthesis depth around it (both only for messages and limits).
 */
export function scanExpression(text: string, option: string, offset: number, depth: number): ScannedExpression {
  const strings = new Map<number, StringLiteralSpan>();
  const inLists = new Map<number, InListSpan>();
  const masked: string[] = [];
  const fail = (position: number, problem: string) => ODataErrors.syntax(option, offset + position, problem);
  const opens: number[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'") {
      const end = skipQuoted(text, i);
      if (end < 0) throw fail(i, 'unterminated string literal');
      const typed = i > 0 && IDENTIFIER_CHAR.test(text[i - 1]!);
      if (typed) {
        // duration'P1D', binary'…', Namespace.Enum'…': kept as written; refused later as unsupported.
        masked.push(text.slice(i, end));
      } else {
        strings.set(i, { start: i, end, value: text.slice(i + 1, end - 1).replaceAll("''", "'") });
        masked.push(`'${'x'.repeat(end - i - 2)}'`);
      }
      i = end;
      continue;
    }
    if (c === '"') {
      // Only JSON literals use double quotes in expressions (unsupported); skip them as a unit.
      const end = skipQuoted(text, i);
      if (end < 0) throw fail(i, 'unterminated double-quoted string');
      masked.push(text.slice(i, end));
      i = end;
      continue;
    }
    if (c === '(') {
      opens.push(i);
      if (depth + opens.length > MAX_NESTING_DEPTH) {
        throw ODataErrors.limit(`${option} is nested more than ${MAX_NESTING_DEPTH} levels deep`, option);
      }
    } else if (c === ')') {
      if (opens.pop() === undefined) throw fail(i, "')' without a matching '('");
    } else if (IDENTIFIER_CHAR.test(c) && (i === 0 || !IDENTIFIER_CHAR.test(text[i - 1]!))) {
      let end = i;
      while (end < text.length && IDENTIFIER_CHAR.test(text[end]!)) end++;
      const word = text.slice(i, end);
      if (word === 'in' && i > 0 && WHITESPACE.test(text[i - 1]!) && end < text.length && WHITESPACE.test(text[end]!)) {
        let open = end;
        while (open < text.length && WHITESPACE.test(text[open]!)) open++;
        if (text[open] === '(') {
          const close = findClose(text, open);
          if (close < 0) throw fail(open, "'(' without a matching ')'");
          if (depth + opens.length + 1 > MAX_NESTING_DEPTH) {
            throw ODataErrors.limit(`${option} is nested more than ${MAX_NESTING_DEPTH} levels deep`, option);
          }
          const inner = text.slice(open + 1, close);
          const items = inner.trim() === '' ? [] : splitTopLevel(inner, ',').map((part) => ({ text: part.text, start: open + 1 + part.start }));
          inLists.set(open, { start: open, end: close + 1, items, depth: depth + opens.length + 1 });
          masked.push('eq', text.slice(end, open), `'${'x'.repeat(close - open - 1)}'`);
          i = close + 1;
          continue;
        }
      }
      masked.push(word);
      i = end;
      continue;
    }
    masked.push(c);
    i++;
  }
  if (opens.length > 0) throw fail(opens[opens.length - 1]!, "'(' without a matching ')'");
  return { masked: masked.join(''), strings, inLists };
}
