import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { QueryFailedError } from 'typeorm';
import { AppError } from './app-error.js';
import { ErrorCode } from './error-code.js';
import { translatePostgresError } from './postgres-errors.js';

/** What node-postgres raises: an Error carrying the server's fields. */
function pgError(fields: { code: string; constraint?: string; detail?: string; message?: string }): Error {
  return Object.assign(new Error(fields.message ?? 'postgres said no'), fields);
}

/** What TypeORM raises around it. */
function wrapped(driverError: Error): QueryFailedError {
  return new QueryFailedError('INSERT INTO groups …', ['t', 'o', 'ops'], driverError);
}

describe('translatePostgresError', () => {
  describe('23505 unique_violation', () => {
    it('names groupKey and the taken key for uq_groups_scope_group_key', () => {
      const error = translatePostgresError(
        pgError({
          code: '23505',
          constraint: 'uq_groups_scope_group_key',
          detail: 'Key (tenant_key, org_key, lower(group_key::text))=(acme, hq, ops) already exists.',
        }),
      );
      expect(error).toBeInstanceOf(AppError);
      expect(error?.code).toBe(ErrorCode.Conflict);
      expect(error?.status).toBe(409);
      expect(error?.target).toBe('groupKey');
      expect(error?.message).toBe("groupKey 'ops' is already taken in this scope");
    });

    it('names userKey for uq_users_scope_user_key', () => {
      const error = translatePostgresError(
        pgError({
          code: '23505',
          constraint: 'uq_users_scope_user_key',
          detail: 'Key (tenant_key, org_key, lower(user_key::text))=(acme, hq, alice) already exists.',
        }),
      );
      expect(error?.code).toBe(ErrorCode.Conflict);
      expect(error?.target).toBe('userKey');
      expect(error?.message).toBe("userKey 'alice' is already taken in this scope");
    });

    it('keeps going without a readable detail (empty key, still the field)', () => {
      const error = translatePostgresError(pgError({ code: '23505', constraint: 'uq_users_scope_user_key' }));
      expect(error?.code).toBe(ErrorCode.Conflict);
      expect(error?.target).toBe('userKey');
      expect(error?.message).toBe("userKey '' is already taken in this scope");
    });

    it('answers a generic 409 for another constraint (e.g. a membership primary key), without a target', () => {
      const error = translatePostgresError(
        pgError({ code: '23505', constraint: 'pk_memberships', detail: 'Key (tenant_key, org_key, group_id, user_id)=(…) already exists.' }),
      );
      expect(error?.code).toBe(ErrorCode.Conflict);
      expect(error?.target).toBeUndefined();
      expect(error?.message).toBe('The request conflicts with an existing record');
    });

    it('answers a generic 409 without a constraint name', () => {
      const error = translatePostgresError(pgError({ code: '23505' }));
      expect(error?.code).toBe(ErrorCode.Conflict);
      expect(error?.target).toBeUndefined();
    });

    it('does not treat an inherited property name as a known constraint', () => {
      const error = translatePostgresError(pgError({ code: '23505', constraint: 'toString' }));
      expect(error?.code).toBe(ErrorCode.Conflict);
      expect(error?.message).toBe('The request conflicts with an existing record');
      expect(error?.target).toBeUndefined();
    });
  });

  it('maps 23503 foreign_key_violation to a 409 asking to retry', () => {
    const error = translatePostgresError(pgError({ code: '23503', constraint: 'fk_memberships_user' }));
    expect(error?.code).toBe(ErrorCode.Conflict);
    expect(error?.message).toMatch(/deleted concurrently; retry/);
  });

  it.each(['40001', '40P01'])('maps %s (serialization failure / deadlock) to a 409 asking to retry', (code) => {
    const error = translatePostgresError(pgError({ code }));
    expect(error?.code).toBe(ErrorCode.Conflict);
    expect(error?.message).toBe('The request conflicted with a concurrent change; retry it');
  });

  it.each(['22001', '22021', '22P02', '22P05', '22007', '22008'])('maps data exception %s to a 400 carrying the message', (code) => {
    const error = translatePostgresError(pgError({ code, message: 'invalid byte sequence for encoding "UTF8": 0x00' }));
    expect(error?.code).toBe(ErrorCode.ValidationFailed);
    expect(error?.status).toBe(400);
    expect(error?.message).toBe('Invalid value: invalid byte sequence for encoding "UTF8": 0x00');
  });

  it.each(['42P01', '53300', '57014', '08006', '23502', '42703', 'XX000'])('leaves %s (a server fault) untranslated', (code) => {
    expect(translatePostgresError(pgError({ code }))).toBeUndefined();
  });

  it('unwraps TypeORM QueryFailedError through driverError', () => {
    const error = translatePostgresError(
      wrapped(
        pgError({
          code: '23505',
          constraint: 'uq_groups_scope_group_key',
          detail: 'Key (tenant_key, org_key, lower(group_key::text))=(t, o, Sales) already exists.',
        }),
      ),
    );
    expect(error?.target).toBe('groupKey');
    expect(error?.message).toBe("groupKey 'Sales' is already taken in this scope");
    expect(translatePostgresError(wrapped(pgError({ code: '40001' })))?.code).toBe(ErrorCode.Conflict);
    expect(translatePostgresError(wrapped(pgError({ code: '42P01' })))).toBeUndefined();
  });

  it('unwraps any object carrying driverError', () => {
    expect(translatePostgresError({ driverError: { code: '23503', message: 'fk' } })?.code).toBe(ErrorCode.Conflict);
  });

  it('takes the key after the last ", " of the detail (scope values come first)', () => {
    const error = translatePostgresError(
      pgError({
        code: '23505',
        constraint: 'uq_groups_scope_group_key',
        detail: 'Key (tenant_key, org_key, lower(group_key::text))=(ten-ant, o_1, a.b@c) already exists.',
      }),
    );
    expect(error?.message).toBe("groupKey 'a.b@c' is already taken in this scope");
  });

  it.each([
    ['a plain Error', new Error('boom')],
    ['null', null],
    ['undefined', undefined],
    ['a string', '23505'],
    ['a numeric code', { code: 23505 }],
    ['a Node system error code', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })],
    ['a lower-case code', { code: '2200a' }],
    ['a too-long code', { code: '235050' }],
    ['a wrapper without a driver code', { driverError: new Error('x') }],
  ])('returns undefined for %s', (_label, error) => {
    expect(translatePostgresError(error)).toBeUndefined();
  });

  it('property: never throws, and returns undefined or a 4xx AppError for anything', () => {
    const code = fc.oneof(fc.string(), fc.constantFrom('23505', '23503', '40001', '40P01', '22021', '22P02', '42P01'));
    const candidate = fc.oneof(
      fc.anything(),
      fc.record({ code, constraint: fc.option(fc.string(), { nil: undefined }), detail: fc.option(fc.string(), { nil: undefined }), message: fc.string() }),
    );
    fc.assert(
      fc.property(fc.oneof(candidate, candidate.map((driverError) => ({ driverError }))), (error) => {
        const translated = translatePostgresError(error);
        if (translated !== undefined) {
          expect(translated).toBeInstanceOf(AppError);
          expect(translated.status).toBeGreaterThanOrEqual(400);
          expect(translated.status).toBeLessThan(500);
        }
      }),
    );
  });
});
