import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { AppError } from '../common/errors/app-error.js';
import type { OrderKey } from './compile-orderby.js';
import { ODataError } from './odata-error.js';
import { compileKeyset, decodeSkipToken, encodeSkipToken, queryFingerprint } from './skiptoken.js';
import { SqlParams } from './sql.js';
import { thrownBy } from '../../test/support/thrown.js';

const name: OrderKey = { sql: 'r.name', type: 'string', nullable: false, direction: 'asc' };
const email: OrderKey = { sql: 'r.email', type: 'string', nullable: true, direction: 'asc' };
const count: OrderKey = { sql: 'c', type: 'integer', nullable: false, direction: 'desc' };
const created: OrderKey = { sql: 'r.created_on', type: 'datetime', nullable: false, direction: 'asc' };
const id = (direction: 'asc' | 'desc' = 'asc'): OrderKey => ({ sql: 'r.id', type: 'guid', nullable: false, direction });
const ID = '01234567-89ab-cdef-0123-456789abcdef';
const F = queryFingerprint(['Groups', 'x']);

function errorOf(work: () => unknown): ODataError {
  const error = thrownBy(work, ODataError);
  expect(error.kind).toBe('invalidSkipToken');
  return error;
}

describe('encodeSkipToken / decodeSkipToken', () => {
  it('round-trips the key values (base64url JSON with a version and the query fingerprint)', () => {
    const keys = [count, created, id()];
    const token = encodeSkipToken(['12', '2024-01-01T10:00:00.123456+00:00', ID], F);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(token, 'base64url').toString())).toEqual({ v: 1, f: F, k: ['12', '2024-01-01T10:00:00.123456+00:00', ID] });
    expect(decodeSkipToken(token, keys, F)).toEqual(['12', '2024-01-01T10:00:00.123456+00:00', ID]);
  });

  it('refuses a token of another query', () => {
    const token = encodeSkipToken(['a', ID], F);
    expect(errorOf(() => decodeSkipToken(token, [name, id()], queryFingerprint(['Groups', 'y']))).message).toContain('another query');
  });

  it.each([
    ['not base64 !', 'malformed'],
    [Buffer.from('not json').toString('base64url'), 'malformed'],
    [Buffer.from('[1,2]').toString('base64url'), 'malformed'],
    [Buffer.from(JSON.stringify({ v: 2, f: F, k: ['a', ID] })).toString('base64url'), 'unknown version'],
    [Buffer.from(JSON.stringify({ v: 1, f: F, k: ['a'] })).toString('base64url'), 'malformed'],
    [Buffer.from(JSON.stringify({ v: 1, f: F, k: [1, ID] })).toString('base64url'), 'malformed'],
    [Buffer.from(JSON.stringify({ v: 1, f: F, k: [null, ID] })).toString('base64url'), 'malformed'],
    [Buffer.from(JSON.stringify({ v: 1, f: F, k: ['a', 'not-a-uuid'] })).toString('base64url'), 'malformed'],
    ['A'.repeat(5000), 'malformed'],
  ])('refuses %j (%s)', (token, reason) => {
    expect(errorOf(() => decodeSkipToken(token, [name, id()], F)).message).toContain(reason);
  });

  it('validates each value against its key type', () => {
    const bad = (keys: OrderKey[], values: unknown[]) => errorOf(() => decodeSkipToken(encodeSkipToken(values, F), keys, F));
    bad([count, id()], ['1; DROP TABLE groups', ID]);
    bad([created, id()], ['2024-02-30T00:00:00Z', ID]);
    bad([{ ...name, type: 'boolean' }, id()], ['true', ID]);
    expect(decodeSkipToken(encodeSkipToken([null, ID], F), [email, id()], F)).toEqual([null, ID]);
  });

  it('never throws anything but a 400 for arbitrary tokens', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.base64String(), fc.json().map((json) => Buffer.from(json).toString('base64url'))), (token) => {
        try {
          decodeSkipToken(token, [email, count, id()], F);
        } catch (error) {
          expect(error).toBeInstanceOf(AppError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('compileKeyset', () => {
  it('uses a row comparison when all keys are non-null and go one way', () => {
    const params = new SqlParams(5);
    expect(compileKeyset([name, id()], ['m', ID], params)).toBe('((r.name COLLATE "C", r.id) > ($5::text, $6::uuid))');
    expect(params.values).toEqual(['m', ID]);
    expect(compileKeyset([count, id('desc')], ['3', ID], new SqlParams(3))).toBe('((c, r.id) < ($3::numeric, $4::uuid))');
  });

  it('expands to an OR chain for mixed directions', () => {
    expect(compileKeyset([count, name, id()], ['3', 'm', ID], new SqlParams(3))).toBe(
      '((c < $3::numeric) OR (c = $3::numeric AND r.name COLLATE "C" > $4::text) OR (c = $3::numeric AND r.name = $4::text AND r.id > $5::uuid))',
    );
  });

  it('handles nulls as the smallest values', () => {
    // ascending, last value null: every non-null comes after; among nulls, the id decides
    expect(compileKeyset([email, id()], [null, ID], new SqlParams(3))).toBe('((r.email IS NOT NULL) OR (r.email IS NULL AND r.id > $3::uuid))');
    // ascending, last value non-null: nulls are before it
    expect(compileKeyset([email, id()], ['x', ID], new SqlParams(3))).toBe(
      '((r.email COLLATE "C" > $3::text) OR (r.email = $3::text AND r.id > $4::uuid))',
    );
    const desc = { ...email, direction: 'desc' as const };
    // descending, last value non-null: smaller values and nulls come after
    expect(compileKeyset([desc, id('desc')], ['x', ID], new SqlParams(3))).toBe(
      '(((r.email COLLATE "C" < $3::text OR r.email IS NULL)) OR (r.email = $3::text AND r.id < $4::uuid))',
    );
    // descending, last value null: only other nulls with a smaller id
    expect(compileKeyset([desc, id('desc')], [null, ID], new SqlParams(3))).toBe('((r.email IS NULL AND r.id < $3::uuid))');
  });
});
