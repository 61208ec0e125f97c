import type { CompiledCollectionQuery } from './compile-query.js';

/** An OData JSON collection response (OData JSON Format §12). */
export interface ODataCollection<T> {
  '@odata.context': string;
  '@odata.count'?: number;
  value: T[];
  '@odata.nextLink'?: string;
}

/**
 * Shapes one page of a compiled query: drops the look-ahead row, the keyset, count and row-number columns and, when more
 * rows remain (within `$top`, if given), links to the next page through an opaque `$skiptoken`.
 */
export function collectionBody(
  rows: readonly Record<string, unknown>[],
  query: CompiledCollectionQuery,
  count: number | undefined,
  links: { context: string; selfPath: string },
): ODataCollection<Record<string, unknown> & { id: string }> {
  const page = rows.slice(0, query.pageSize);
  // `$expand=x($count=true)` columns are SQL count(*) (bigint), which the driver hands over as text.
  const counts = query.expanded.filter((column) => column.endsWith('@odata.count'));
  const value = page.map(({ [query.keysetColumn]: _keyset, [query.countColumn]: _count, [query.rowNumberColumn]: _row, ...row }) => {
    for (const column of counts) if (typeof row[column] === 'string') row[column] = Number(row[column]);
    return row as Record<string, unknown> & { id: string };
  });
  const body: ODataCollection<Record<string, unknown> & { id: string }> = {
    '@odata.context': links.context,
    ...(count === undefined ? {} : { '@odata.count': count }),
    value,
  };
  const topLeft = query.top === undefined ? Number.POSITIVE_INFINITY : query.top - page.length;
  if (rows.length > query.pageSize && topLeft > 0) {
    const next = new URLSearchParams(query.nextLinkQuery(page[page.length - 1]!));
    body['@odata.nextLink'] = `${links.selfPath}?${next.toString().replaceAll('%24', '$')}`;
  }
  return body;
}
