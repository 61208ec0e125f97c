import { describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { TableStatistics } from './table-statistics.js';

/** A DataSource that records statements and reports `reltuples` as given. */
function fakeDataSource(reltuples: Record<string, number>) {
  const statements: string[] = [];
  const dataSource = {
    isInitialized: true,
    query: async (sql: string, params?: unknown[]) => {
      statements.push(sql);
      if (sql.startsWith('SELECT reltuples')) return [{ rows: reltuples[String(params?.[0])] ?? 0 }];
      return [];
    },
  };
  return { dataSource: dataSource as unknown as DataSource, statements };
}

const settle = () => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

describe('TableStatistics', () => {
  it('analyzes every table at start-up', async () => {
    const { dataSource, statements } = fakeDataSource({});
    await new TableStatistics(dataSource).onApplicationBootstrap();
    expect(statements.filter((sql) => sql.startsWith('ANALYZE'))).toEqual(['ANALYZE groups', 'ANALYZE users', 'ANALYZE memberships']);
  });

  it('analyzes a table once its writes pass 50 + 10 % of its analyzed size, in the background', async () => {
    const { dataSource, statements } = fakeDataSource({ memberships: 10_000 });
    const statistics = new TableStatistics(dataSource);
    await statistics.onApplicationBootstrap(); // memberships now known to hold 10,000 rows → threshold 1,050
    statements.length = 0;

    statistics.noteWrites('memberships', 1_000);
    await settle();
    expect(statements).toEqual([]);

    statistics.noteWrites('memberships', 49);
    await settle();
    expect(statements).toEqual([]);

    statistics.noteWrites('memberships', 1);
    expect(statements).toEqual([]); // not inside the caller's turn
    await settle();
    expect(statements[0]).toBe('ANALYZE memberships');

    statements.length = 0;
    statistics.noteWrites('memberships', 100); // the count started again after the ANALYZE
    statistics.noteWrites('users', 0);
    await settle();
    expect(statements).toEqual([]);
  });

  it('vacuums as well on the embedded database, which runs no autovacuum', async () => {
    const { dataSource, statements } = fakeDataSource({});
    const statistics = new TableStatistics(dataSource, 'vacuum');
    await statistics.onApplicationBootstrap();
    expect(statements.filter((sql) => !sql.startsWith('SELECT'))).toEqual(['VACUUM (ANALYZE) groups', 'VACUUM (ANALYZE) users', 'VACUUM (ANALYZE) memberships']);
    statements.length = 0;
    statistics.noteWrites('groups', 50);
    await settle();
    expect(statements[0]).toBe('VACUUM (ANALYZE) groups');
  });

  it('never throws into the caller when ANALYZE fails', async () => {
    const dataSource = { isInitialized: true, query: async () => Promise.reject(new Error('gone')) } as unknown as DataSource;
    const statistics = new TableStatistics(dataSource);
    await expect(statistics.onApplicationBootstrap()).resolves.toBeUndefined();
    statistics.noteWrites('users', 500);
    await settle();
  });
});
