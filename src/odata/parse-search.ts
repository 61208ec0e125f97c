import type { Search, SearchNode } from './ast.js';
import { ODataErrors } from './odata-error.js';
import { MAX_NESTING_DEPTH } from './source-text.js';

/**
 * `$search` (OData 4.01 §5.1.7): words, "quoted phrases" (with `\"` and `\\` escapes), `AND` (also
 * implied between adjacent terms), `OR`, `NOT` and parentheses; precedence NOT > AND > OR.
 *
 * Parsed here rather than by odata-v4-parser, which refuses implicit AND (`blue green`), any `%`
 * in the (already URL-decoded) text and phrases with escapes.
 */
type Token =
  | { readonly t: 'word'; readonly value: string; readonly position: number }
  | { readonly t: 'phrase'; readonly value: string; readonly position: number }
  | { readonly t: 'and' | 'or' | 'not' | 'open' | 'close'; readonly position: number };

const SPECIAL = /[\s()"]/;

function tokenize(text: string, option: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(') {
      tokens.push({ t: 'open', position: i++ });
    } else if (c === ')') {
      tokens.push({ t: 'close', position: i++ });
    } else if (c === '"') {
      const start = i++;
      let value = '';
      for (;;) {
        if (i >= text.length) throw ODataErrors.syntax(option, start, 'unterminated search phrase');
        const d = text[i]!;
        if (d === '\\') {
          const escaped = text[i + 1];
          if (escaped !== '"' && escaped !== '\\') throw ODataErrors.syntax(option, i, 'only \\" and \\\\ may be escaped in a search phrase');
          value += escaped;
          i += 2;
        } else if (d === '"') {
          i++;
          break;
        } else {
          value += d;
          i++;
        }
      }
      if (value.trim() === '') throw ODataErrors.syntax(option, start, 'empty search phrase');
      tokens.push({ t: 'phrase', value, position: start });
    } else {
      const start = i;
      while (i < text.length && !SPECIAL.test(text[i]!)) i++;
      const word = text.slice(start, i);
      if (word === 'AND') tokens.push({ t: 'and', position: start });
      else if (word === 'OR') tokens.push({ t: 'or', position: start });
      else if (word === 'NOT') tokens.push({ t: 'not', position: start });
      else tokens.push({ t: 'word', value: word, position: start });
    }
  }
  return tokens;
}

export function parseSearch(text: string, option = '$search'): Search {
  const tokens = tokenize(text, option);
  if (tokens.length === 0) throw ODataErrors.syntax(option, 0, 'a search term is expected');
  let i = 0;
  let depth = 0;
  const enter = () => {
    if (++depth > MAX_NESTING_DEPTH) throw ODataErrors.limit(`${option} is nested more than ${MAX_NESTING_DEPTH} levels deep`, option);
  };
  const unexpected = (token: Token | undefined) =>
    ODataErrors.syntax(option, token ? token.position : text.length, token ? `unexpected '${text.slice(token.position).split(/\s/)[0]}'` : 'a search term is expected at the end');

  function or(): SearchNode {
    let left = and();
    while (tokens[i]?.t === 'or') {
      i++;
      left = { kind: 'or', left, right: and(), position: left.position };
    }
    return left;
  }
  function and(): SearchNode {
    let left = unary();
    for (;;) {
      const token = tokens[i];
      if (token?.t === 'and') i++;
      else if (!token || !(token.t === 'word' || token.t === 'phrase' || token.t === 'not' || token.t === 'open')) return left;
      left = { kind: 'and', left, right: unary(), position: left.position };
    }
  }
  function unary(): SearchNode {
    const token = tokens[i];
    if (token?.t === 'not') {
      i++;
      enter();
      const operand = unary();
      depth--;
      return { kind: 'not', operand, position: token.position };
    }
    return primary();
  }
  function primary(): SearchNode {
    const token = tokens[i++];
    if (token?.t === 'word' || token?.t === 'phrase') {
      return { kind: 'term', value: token.value, phrase: token.t === 'phrase', position: token.position };
    }
    if (token?.t === 'open') {
      enter();
      const inner = or();
      depth--;
      const close = tokens[i++];
      if (close?.t !== 'close') throw unexpected(close);
      return inner;
    }
    throw unexpected(token);
  }

  const expr = or();
  if (i < tokens.length) throw unexpected(tokens[i]);
  return { option, text, expr };
}
