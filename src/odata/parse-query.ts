import type { ExpandItem, ExpandOptions, ODataQuery, Select, SelectItem } from './ast.js';
import { ODataErrors } from './odata-error.js';
import { parseExpression, parseOrderBy } from './parse-expression.js';
import { parseSearch } from './parse-search.js';
import { findClose, MAX_NESTING_DEPTH, splitTopLevel, trimPart } from './source-text.js';

/**
 * The query options of an OData collection request → `ODataQuery` (see ast.ts), validated.
 *
 * Input: the query-string object as Express gives it (`{ $filter: '…', $top: '5' }`, values already
 * URL-decoded, a repeated key as a string array). Rules:
 * - System option names are matched case-insensitively (`$FILTER`, `$OrderBy`), and, as OData 4.01
 *   allows, also without the `$` (`filter=…`, `top=5`). Any other `$name` → 400 UnsupportedQueryOption
 *   (`$apply`, `$compute`, `$levels`, `$deltatoken`, …); `@alias` parameters → 400 (unsupported);
 *   other names are custom options, passed through in `custom` and otherwise ignored.
 * - An option given twice (same key repeated, or two spellings of one option, or both `$count` and
 *   `$inlinecount`) → 400.
 * - The whole query (names + values) may be at most 8 KB; parentheses nest at most 32 deep.
 * - `$top`: 0–1000; `$skip`: ≥ 0; `$count`: true|false; `$inlinecount`: allpages|none (Primavera
 *   clients; allpages ≡ `$count=true`); `$format`: json only; `$skiptoken`: opaque, checked later.
 * - Values are trimmed (a space after `=` is tolerated).
 */
export type RawQuery = Readonly<Record<string, unknown>>;

export const MAX_QUERY_LENGTH = 8 * 1024;
export const MAX_TOP = 1000;
export const MAX_EXPAND_DEPTH = 3;

const SYSTEM_OPTIONS = [
  '$filter',
  '$orderby',
  '$top',
  '$skip',
  '$count',
  '$select',
  '$expand',
  '$search',
  '$skiptoken',
  '$inlinecount',
  '$format',
] as const;
type SystemOption = (typeof SYSTEM_OPTIONS)[number];
const SYSTEM = new Set<string>(SYSTEM_OPTIONS);

/** Whether `raw` names the system query option `option` (`$skiptoken`), spelled as parseQuery accepts it (any case, `$` optional). */
export function hasSystemOption(raw: RawQuery, option: SystemOption): boolean {
  return Object.keys(raw).some((key) => {
    const lower = key.toLowerCase();
    return (lower.startsWith('$') ? lower : `$${lower}`) === option;
  });
}

export function parseQuery(raw: RawQuery): ODataQuery {
  checkLength(raw);
  const values = new Map<SystemOption, string>();
  const spelled = new Map<SystemOption, string>();
  const custom: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(raw)) {
    const lower = key.toLowerCase();
    let canonical: SystemOption | undefined;
    if (lower.startsWith('$')) {
      if (!SYSTEM.has(lower)) throw ODataErrors.unsupportedOption(key);
      canonical = lower as SystemOption;
    } else if (lower.startsWith('@')) {
      throw ODataErrors.unsupported(`The parameter alias ${key}`);
    } else if (SYSTEM.has(`$${lower}`)) {
      canonical = `$${lower}` as SystemOption;
    }
    if (!canonical) {
      if (typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))) custom[key] = value as string | string[];
      continue;
    }
    if (Array.isArray(value) && value.length > 1) throw ODataErrors.duplicate(key);
    const single: unknown = Array.isArray(value) ? value[0] : value;
    if (typeof single !== 'string') throw ODataErrors.invalidValue(key, `The query option ${key} must be a single text value`);
    const counterpart = canonical === '$count' ? '$inlinecount' : canonical === '$inlinecount' ? '$count' : undefined;
    const previous = spelled.get(canonical) ?? (counterpart ? spelled.get(counterpart) : undefined);
    if (previous !== undefined) {
      throw ODataErrors.duplicate(previous === key ? key : `${key} (also given as ${previous})`);
    }
    spelled.set(canonical, key);
    values.set(canonical, single.trim());
  }

  const query: { -readonly [K in keyof ODataQuery]: ODataQuery[K] } = { count: false, raw: {}, custom };
  const rawText: Record<string, string> = {};
  for (const [option, text] of values) {
    rawText[option] = text;
    switch (option) {
      case '$filter':
        query.filter = { option, text, expr: parseExpression(text, option) };
        break;
      case '$orderby':
        query.orderby = parseOrderBy(text, option);
        break;
      case '$top':
        query.top = parseTop(text, option);
        break;
      case '$skip':
        query.skip = parseSkip(text, option);
        break;
      case '$count':
        query.count = parseBoolean(text, option);
        break;
      case '$inlinecount':
        if (text !== 'allpages' && text !== 'none') throw ODataErrors.invalidValue(option, '$inlinecount must be allpages or none');
        query.count = text === 'allpages';
        break;
      case '$select':
        query.select = parseSelect(text, option);
        break;
      case '$expand':
        query.expand = parseExpand(text, option, 0, 1);
        break;
      case '$search':
        query.search = parseSearch(text, option);
        break;
      case '$skiptoken':
        if (text === '') throw ODataErrors.invalidSkipToken('empty');
        query.skiptoken = text;
        break;
      case '$format':
        if (!/^(json|application\/json)(\s*;.*)?$/i.test(text)) throw ODataErrors.unsupported(`$format=${text} (only JSON)`);
        query.format = 'json';
        break;
    }
  }
  query.raw = rawText;
  return query;
}

function checkLength(raw: RawQuery): void {
  let length = 0;
  for (const [key, value] of Object.entries(raw)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      length += key.length + 2 + (typeof item === 'string' ? item.length : 0);
    }
    if (length > MAX_QUERY_LENGTH) {
      throw ODataErrors.limit(`The query is longer than ${MAX_QUERY_LENGTH} characters`);
    }
  }
}

export function parseTop(text: string, option: string): number {
  if (!/^\d{1,16}$/.test(text)) throw ODataErrors.invalidValue(option, `${option} must be an integer from 0 to ${MAX_TOP}`);
  const top = Number(text);
  if (top > MAX_TOP) throw ODataErrors.limit(`${option} must be an integer from 0 to ${MAX_TOP}`, option);
  return top;
}

export function parseSkip(text: string, option: string): number {
  if (!/^\d{1,16}$/.test(text) || Number(text) > Number.MAX_SAFE_INTEGER) {
    throw ODataErrors.invalidValue(option, `${option} must be a non-negative integer`);
  }
  return Number(text);
}

function parseBoolean(text: string, option: string): boolean {
  const lower = text.toLowerCase();
  if (lower !== 'true' && lower !== 'false') throw ODataErrors.invalidValue(option, `${option} must be true or false`);
  return lower === 'true';
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `$select=name,email` or `*`. Paths, qualified names and options in parentheses are refused. */
export function parseSelect(text: string, option: string): Select {
  const items: SelectItem[] = [];
  for (const raw of splitTopLevel(text, ',')) {
    const part = trimPart(raw);
    if (part.text === '') throw ODataErrors.syntax(option, part.start, 'a property name is expected');
    if (part.text === '*') items.push({ kind: 'all', position: part.start });
    else if (IDENTIFIER.test(part.text)) items.push({ kind: 'property', name: part.text, position: part.start });
    else if (/^[A-Za-z_][\w.]*(\/|\(|\.\*?$)/.test(part.text) || part.text.includes('.')) {
      throw ODataErrors.unsupported(`The $select item '${part.text}'`, { option, position: part.start });
    } else {
      throw ODataErrors.syntax(option, part.start, `'${part.text}' is not a property name`);
    }
  }
  return { option, items };
}

const EXPAND_OPTIONS = new Set(['$filter', '$orderby', '$select', '$top', '$skip', '$count', '$search', '$expand']);

/**
 * `$expand=users`, `$expand=users($select=…;$filter=…;$orderby=…;$top=…;$skip=…;$count=true;
 * $search=…;$expand=…)`. Items are split here (quotes and parentheses respected); each nested option
 * is parsed like its top-level counterpart. `*`, `/$ref`, `/$count` and `$levels` are refused.
 */
export function parseExpand(text: string, option: string, depth: number, level: number): ExpandItem[] {
  if (level > MAX_EXPAND_DEPTH) throw ODataErrors.limit(`$expand may be nested at most ${MAX_EXPAND_DEPTH} levels deep`, option);
  const items: ExpandItem[] = [];
  const seen = new Set<string>();
  for (const raw of splitTopLevel(text, ',')) {
    const part = trimPart(raw);
    if (part.text === '') throw ODataErrors.syntax(option, part.start, 'a navigation property is expected');
    const head = /^[^(\s]*/.exec(part.text)![0];
    if (!IDENTIFIER.test(head)) {
      if (head === '*' || head.includes('/') || head.includes('.') || head.startsWith('@') || head.startsWith('$')) {
        throw ODataErrors.unsupported(`$expand of '${head}'`, { option, position: part.start });
      }
      throw ODataErrors.syntax(option, part.start, `'${head || part.text}' is not a navigation property`);
    }
    const lower = head.toLowerCase();
    if (seen.has(lower)) throw ODataErrors.invalidValue(option, `${head} is expanded twice`, part.start);
    seen.add(lower);
    const rest = part.text.slice(head.length);
    const openAt = rest.search(/\S/);
    let options: ExpandOptions = {};
    if (openAt >= 0) {
      const open = head.length + openAt;
      if (part.text[open] !== '(') throw ODataErrors.syntax(option, part.start + open, `unexpected '${part.text.slice(open, open + 20)}'`);
      const close = findClose(part.text, open);
      if (close < 0) throw ODataErrors.syntax(option, part.start + open, "'(' without a matching ')'");
      if (close !== part.text.length - 1) throw ODataErrors.syntax(option, part.start + close + 1, `unexpected '${part.text.slice(close + 1, close + 21)}'`);
      if (depth + 1 > MAX_NESTING_DEPTH) throw ODataErrors.limit(`${option} is nested more than ${MAX_NESTING_DEPTH} levels deep`, option);
      options = parseExpandOptions(part.text.slice(open + 1, close), `${option}/${head}`, depth + 1, level);
    }
    items.push({ path: head, position: part.start, option, options });
  }
  return items;
}

function parseExpandOptions(text: string, prefix: string, depth: number, level: number): ExpandOptions {
  const result: { -readonly [K in keyof ExpandOptions]: ExpandOptions[K] } = {};
  const seen = new Set<string>();
  for (const raw of splitTopLevel(text, ';')) {
    const part = trimPart(raw);
    if (part.text === '') throw ODataErrors.syntax(prefix, 0, 'an expand option is expected');
    const equals = part.text.indexOf('=');
    const name = (equals < 0 ? part.text : part.text.slice(0, equals)).trim();
    let canonical = name.toLowerCase();
    if (!canonical.startsWith('$')) canonical = `$${canonical}`;
    if (!EXPAND_OPTIONS.has(canonical)) {
      throw ODataErrors.unsupported(`The option ${name} inside $expand`, { option: prefix, position: part.start });
    }
    if (equals < 0) throw ODataErrors.syntax(prefix, part.start + name.length, `'=' and a value are expected after ${name}`);
    if (seen.has(canonical)) throw ODataErrors.duplicate(`${prefix}/${canonical}`);
    seen.add(canonical);
    const option = `${prefix}/${canonical}`;
    const value = part.text.slice(equals + 1).trim();
    switch (canonical) {
      case '$filter':
        result.filter = { option, text: value, expr: parseExpression(value, option, 0, depth) };
        break;
      case '$orderby':
        result.orderby = parseOrderBy(value, option, depth);
        break;
      case '$select':
        result.select = parseSelect(value, option);
        break;
      case '$top':
        result.top = parseTop(value, option);
        break;
      case '$skip':
        result.skip = parseSkip(value, option);
        break;
      case '$count':
        result.count = parseBoolean(value, option);
        break;
      case '$search':
        result.search = parseSearch(value, option);
        break;
      case '$expand':
        result.expand = parseExpand(value, option, depth, level + 1);
        break;
    }
  }
  return result;
}
