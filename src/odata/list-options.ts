import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';

/**
 * The query options of an OData collection request, validated. This slice understands paging and
 * counting ($top, $skip, $count, and $inlinecount=allpages for Primavera clients); every other
 * system query option is refused with a 400 naming it rather than ignored, so a client never mistakes
 * an unfiltered answer for a filtered one.
 */
export interface ListOptions {
  top?: number;
  skip: number;
  count: boolean;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

const SUPPORTED = new Set(['$top', '$skip', '$count', '$inlinecount']);

export function parseListOptions(query: Record<string, unknown>): ListOptions {
  const options: ListOptions = { skip: 0, count: false };
  for (const [name, raw] of Object.entries(query)) {
    const option = name.toLowerCase();
    if (!option.startsWith('$')) continue; // custom query options are allowed and ignored (OData §5.2)
    if (!SUPPORTED.has(option)) {
      throw new AppError(ErrorCode.UnsupportedQueryOption, `The query option ${name} is not supported`, name);
    }
    if (Array.isArray(raw) || typeof raw !== 'string') {
      throw new AppError(ErrorCode.BadRequest, `The query option ${name} may be given only once`, name);
    }
    switch (option) {
      case '$top':
        options.top = parseInteger(name, raw, 0, MAX_PAGE_SIZE);
        break;
      case '$skip':
        options.skip = parseInteger(name, raw, 0, Number.MAX_SAFE_INTEGER);
        break;
      case '$count':
        if (raw !== 'true' && raw !== 'false') {
          throw new AppError(ErrorCode.BadRequest, `$count must be true or false`, name);
        }
        options.count = raw === 'true';
        break;
      case '$inlinecount':
        if (raw !== 'allpages' && raw !== 'none') {
          throw new AppError(ErrorCode.BadRequest, `$inlinecount must be allpages or none`, name);
        }
        options.count = raw === 'allpages';
        break;
    }
  }
  return options;
}

function parseInteger(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) {
    throw new AppError(ErrorCode.BadRequest, `${name} must be a non-negative integer`, name);
  }
  const value = Number(raw);
  if (value < min || value > max) {
    throw new AppError(ErrorCode.BadRequest, `${name} must be between ${min} and ${max}`, name);
  }
  return value;
}

/** The rows a page asks the database for: one more than it shows, to know whether more exist. */
export function pageWindow(options: ListOptions): { limit: number; offset: number; pageSize: number } {
  const pageSize = Math.min(options.top ?? DEFAULT_PAGE_SIZE, DEFAULT_PAGE_SIZE);
  return { limit: pageSize + 1, offset: options.skip, pageSize };
}

export interface ODataCollection<T> {
  '@odata.context': string;
  '@odata.count'?: number;
  value: T[];
  '@odata.nextLink'?: string;
}

/**
 * Shapes a page: trims the look-ahead row and, when more rows remain (within $top, if given), links
 * to the next page with the same options.
 */
export function collectionPage<T>(
  rows: T[],
  options: ListOptions,
  context: { metadataUrl: string; entitySet: string; selfPath: string; count?: number },
): ODataCollection<T> {
  const { pageSize } = pageWindow(options);
  const value = rows.slice(0, pageSize);
  const remaining = options.top === undefined ? Infinity : options.top - value.length;
  const body: ODataCollection<T> = {
    '@odata.context': `${context.metadataUrl}#${context.entitySet}`,
    ...(context.count === undefined ? {} : { '@odata.count': context.count }),
    value,
  };
  if (rows.length > pageSize && remaining > 0) {
    const next = new URLSearchParams();
    if (options.top !== undefined) next.set('$top', String(remaining));
    next.set('$skip', String(options.skip + value.length));
    if (options.count) next.set('$count', 'true');
    body['@odata.nextLink'] = `${context.selfPath}?${next.toString().replaceAll('%24', '$')}`;
  }
  return body;
}
