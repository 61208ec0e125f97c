import { describe, expect, it } from '@jest/globals';
import { describeDatabaseError, isDatabaseUnavailable, isStatementTimeout } from './database-failures.js';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('database failures', () => {
  it.each([
    ['admin shutdown (server stopped fast)', pgError('57P01', 'terminating connection due to administrator command')],
    ['crash shutdown (server stopped immediate)', pgError('57P02')],
    ['starting up', pgError('57P03', 'the database system is starting up')],
    ['too many connections', pgError('53300')],
    ['connection exception', pgError('08006')],
    ['refused', pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['reset', pgError('ECONNRESET')],
    ['connection ended under a query', new Error('Connection terminated unexpectedly')],
    ['pool wait past DB_POOL_WAIT_MS', new Error('timeout exceeded when trying to connect')],
    ['client broken earlier', new Error('Client has encountered a connection error and is not queryable')],
    ['pool closed (shutdown)', new Error('Cannot use a pool after calling end on the pool')],
    ['every address refused', Object.assign(new AggregateError([pgError('ECONNREFUSED'), pgError('ECONNREFUSED')]), { code: undefined })],
    ['wrapped by TypeORM', { driverError: pgError('57P01') }],
  ])('%s → unavailable', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['unique violation', pgError('23505')],
    ['syntax error', pgError('42601')],
    ['statement timeout', pgError('57014', 'canceling statement due to statement timeout')],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['nothing', undefined],
  ])('%s → not unavailable', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });

  it('tells a statement timeout from a cancel by request', () => {
    expect(isStatementTimeout(pgError('57014', 'canceling statement due to statement timeout'))).toBe(true);
    expect(isStatementTimeout(pgError('57014', 'canceling statement due to user request'))).toBe(false);
  });

  it('describes an error in one line with its code', () => {
    expect(describeDatabaseError(pgError('57P01', 'terminating connection\nDETAIL: …'))).toBe('terminating connection (57P01)');
  });
});
