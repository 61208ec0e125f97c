import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { AppError } from '../errors/app-error.js';
import { ErrorCode } from '../errors/error-code.js';
import { MAX_REFERENCES_PER_CALL, parseMemberKeys, parseReferenceList } from './reference-list.js';
import { thrownBy } from '../../../test/support/thrown.js';

/** Runs `work`, which must throw an AppError, and returns that error. */
function appErrorOf(work: () => unknown): AppError {
  return thrownBy(work, AppError);
}

const UUID_A = '3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f';
const UUID_B = 'a1b2c3d4-e5f6-4789-8abc-def012345678';

/** A key the rules accept: 1–64 characters, none whitespace, '/' or a control character. */
const validKey = fc
  .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 64 })
  .filter((key) => /^[^\s/\p{Cc}]{1,64}$/u.test(key));

describe('parseReferenceList', () => {
  describe('keys', () => {
    it('returns the keys in first-seen order', () => {
      expect(parseReferenceList(['carol', 'alice', 'bob'], 'key', 'users')).toEqual(['carol', 'alice', 'bob']);
    });

    it('dedupes case-insensitively, keeping the first spelling at the first position', () => {
      expect(parseReferenceList(['Alice', 'bob', 'ALICE', 'alice', 'BOB', 'carol'], 'key', 'users')).toEqual([
        'Alice',
        'bob',
        'carol',
      ]);
    });

    it('accepts an empty list', () => {
      expect(parseReferenceList([], 'key', 'users')).toEqual([]);
    });

    it('accepts keys of exactly 64 characters and non-ASCII keys', () => {
      const long = 'k'.repeat(64);
      expect(parseReferenceList([long, 'Ünïcødé', 'a.b-c_d@e'], 'key', 'users')).toEqual([long, 'Ünïcødé', 'a.b-c_d@e']);
    });

    it('accepts exactly MAX_REFERENCES_PER_CALL entries', () => {
      const keys = Array.from({ length: MAX_REFERENCES_PER_CALL }, (_, i) => `u${i}`);
      expect(MAX_REFERENCES_PER_CALL).toBe(10_000);
      expect(parseReferenceList(keys, 'key', 'users')).toHaveLength(10_000);
    });

    it('refuses more than MAX_REFERENCES_PER_CALL entries, even duplicates, naming the count', () => {
      const keys = Array.from({ length: MAX_REFERENCES_PER_CALL + 1 }, () => 'same');
      const error = appErrorOf(() => parseReferenceList(keys, 'key', 'users'));
      expect(error.code).toBe(ErrorCode.ValidationFailed);
      expect(error.target).toBe('users');
      expect(error.message).toContain('10000');
      expect(error.message).toContain('10001');
    });

    it('reports every bad entry by index, the first one as the message and target', () => {
      const error = appErrorOf(() =>
        parseReferenceList(['ok', '', 'a/b', 'fine', 'has space', 'x'.repeat(65), 42, null, 'tab\t', 'ctl\u0001'], 'key', 'users'),
      );
      expect(error.code).toBe(ErrorCode.ValidationFailed);
      expect(error.status).toBe(400);
      expect(error.target).toBe('users[1]');
      expect(error.message).toMatch(/^users\[1\] must be a key/);
      expect(error.message).toContain('(and 7 more)');
      expect(error.details?.map((detail) => detail.target)).toEqual([
        'users[1]',
        'users[2]',
        'users[4]',
        'users[5]',
        'users[6]',
        'users[7]',
        'users[8]',
        'users[9]',
      ]);
      expect(new Set(error.details?.map((detail) => detail.code))).toEqual(new Set(['InvalidKey']));
      expect(error.details?.[3]?.message).toMatch(/^users\[5\] must be a key of 1–64 characters/);
    });

    it('has no "(and n more)" suffix when one entry is bad', () => {
      const error = appErrorOf(() => parseReferenceList(['ok', 'bad key'], 'key', 'groups'));
      expect(error.message).not.toContain('more');
      expect(error.target).toBe('groups[1]');
      expect(error.details).toHaveLength(1);
    });

    it('does not accept ids where keys are expected to be objects', () => {
      const error = appErrorOf(() => parseReferenceList([{ userKey: 'alice' }], 'key', 'users'));
      expect(error.target).toBe('users[0]');
    });
  });

  describe('ids', () => {
    it('accepts UUIDs and dedupes them case-insensitively, keeping the first spelling', () => {
      expect(parseReferenceList([UUID_A, UUID_B, UUID_A.toUpperCase()], 'id', 'users')).toEqual([UUID_A, UUID_B]);
      expect(parseReferenceList([UUID_A.toUpperCase(), UUID_A], 'id', 'users')).toEqual([UUID_A.toUpperCase()]);
    });

    it('refuses anything that is not a UUID, with InvalidId details per index', () => {
      const error = appErrorOf(() =>
        parseReferenceList([UUID_A, 'alice', `${UUID_A}0`, UUID_A.replaceAll('-', ''), 7], 'id', 'ids'),
      );
      expect(error.code).toBe(ErrorCode.ValidationFailed);
      expect(error.target).toBe('ids[1]');
      expect(error.message).toBe('ids[1] must be a UUID (and 3 more)');
      expect(error.details).toEqual([
        { code: 'InvalidId', message: 'ids[1] must be a UUID', target: 'ids[1]' },
        { code: 'InvalidId', message: 'ids[2] must be a UUID', target: 'ids[2]' },
        { code: 'InvalidId', message: 'ids[3] must be a UUID', target: 'ids[3]' },
        { code: 'InvalidId', message: 'ids[4] must be a UUID', target: 'ids[4]' },
      ]);
    });

    it('names ids (not keys) when the body is not an array', () => {
      const error = appErrorOf(() => parseReferenceList({ ids: [UUID_A] }, 'id', 'body'));
      expect(error.message).toBe('body must be a JSON array of ids');
      expect(error.target).toBe('body');
    });
  });

  it.each([null, undefined, 'alice', 42, true, { 0: 'alice', length: 1 }])('refuses the non-array %p', (body) => {
    const error = appErrorOf(() => parseReferenceList(body, 'key', 'users'));
    expect(error.code).toBe(ErrorCode.ValidationFailed);
    expect(error.message).toBe('users must be a JSON array of keys');
    expect(error.target).toBe('users');
    expect(error.details).toBeUndefined();
  });

  describe('properties', () => {
    it('the output is a subset of the input with no case-insensitive duplicates, first spellings in first-seen order', () => {
      fc.assert(
        fc.property(fc.array(fc.oneof(validKey, fc.constantFrom('Alice', 'ALICE', 'alice', 'Bob', 'bOB'))), (keys) => {
          const output = parseReferenceList(keys, 'key', 'users');
          for (const key of output) expect(keys).toContain(key);
          const lowered = output.map((key) => key.toLowerCase());
          expect(new Set(lowered).size).toBe(output.length);
          // Exactly one entry per distinct lower-cased input, and it is the first spelling seen.
          expect(new Set(lowered)).toEqual(new Set(keys.map((key) => key.toLowerCase())));
          const firstSpellings: string[] = [];
          for (const key of keys) {
            if (!firstSpellings.some((seen) => seen.toLowerCase() === key.toLowerCase())) firstSpellings.push(key);
          }
          expect(output).toEqual(firstSpellings);
        }),
      );
    });

    it('valid key arrays never throw', () => {
      fc.assert(
        fc.property(fc.array(validKey, { maxLength: 200 }), (keys) => {
          expect(() => parseReferenceList(keys, 'key', 'users')).not.toThrow();
        }),
      );
    });

    it('valid id arrays never throw, and parsing is idempotent', () => {
      fc.assert(
        fc.property(fc.array(fc.oneof(fc.uuid(), fc.uuid().map((id) => id.toUpperCase())), { maxLength: 50 }), (ids) => {
          const once = parseReferenceList(ids, 'id', 'ids');
          expect(parseReferenceList(once, 'id', 'ids')).toEqual(once);
        }),
      );
    });

    it('any non-array throws an AppError with code ValidationFailed', () => {
      fc.assert(
        fc.property(
          fc.anything().filter((value) => !Array.isArray(value)),
          fc.constantFrom('key' as const, 'id' as const),
          (body, kind) => {
            const error = appErrorOf(() => parseReferenceList(body, kind, 'users'));
            expect(error.code).toBe(ErrorCode.ValidationFailed);
            expect(error.target).toBe('users');
          },
        ),
      );
    });

    it('an array holding any invalid entry throws, with one detail per invalid index', () => {
      fc.assert(
        fc.property(
          fc.array(fc.oneof(validKey, fc.anything())).filter((entries) => entries.some((entry) => !isValidKey(entry))),
          (entries) => {
            const error = appErrorOf(() => parseReferenceList(entries, 'key', 'users'));
            const badIndexes = entries.flatMap((entry, index) => (isValidKey(entry) ? [] : [index]));
            expect(error.details?.map((detail) => detail.target)).toEqual(badIndexes.map((index) => `users[${index}]`));
          },
        ),
      );
    });
  });
});

function isValidKey(entry: unknown): boolean {
  return typeof entry === 'string' && /^[^\s/\p{Cc}]{1,64}$/u.test(entry);
}

describe('parseMemberKeys', () => {
  it('takes keys as strings', () => {
    expect(parseMemberKeys(['alice', 'bob'], 'userKey', 'users')).toEqual(['alice', 'bob']);
  });

  it('takes the member objects a GET returned, by their key property, mixed with strings and deduped', () => {
    const members = [
      { id: UUID_A, userKey: 'Alice', name: 'Alice', email: null, isActive: true },
      'bob',
      { userKey: 'ALICE' },
      { userKey: 'carol', extra: 1 },
    ];
    expect(parseMemberKeys(members, 'userKey', 'users')).toEqual(['Alice', 'bob', 'carol']);
  });

  it('uses the given key property, not another one', () => {
    expect(parseMemberKeys([{ groupKey: 'ops', userKey: 'alice' }], 'groupKey', 'groups')).toEqual(['ops']);
    const error = appErrorOf(() => parseMemberKeys([{ groupKey: 'ops' }], 'userKey', 'users'));
    expect(error.target).toBe('users[0]');
  });

  it('refuses objects without a valid key, nested arrays and null, per index', () => {
    const error = appErrorOf(() =>
      parseMemberKeys(['ok', { name: 'no key' }, ['alice'], null, { userKey: 'bad key' }, { userKey: 5 }], 'userKey', 'users'),
    );
    expect(error.code).toBe(ErrorCode.ValidationFailed);
    expect(error.details?.map((detail) => detail.target)).toEqual(['users[1]', 'users[2]', 'users[3]', 'users[4]', 'users[5]']);
  });

  it('refuses a non-array as keys', () => {
    const error = appErrorOf(() => parseMemberKeys({ userKey: 'alice' }, 'userKey', 'users'));
    expect(error.message).toBe('users must be a JSON array of keys');
  });

  it('property: objects and their bare keys give the same result', () => {
    fc.assert(
      fc.property(fc.array(validKey, { maxLength: 50 }), fc.array(fc.boolean(), { minLength: 50, maxLength: 50 }), (keys, wrap) => {
        const mixed = keys.map((key, i) => (wrap[i] ? { userKey: key, name: 'n' } : key));
        expect(parseMemberKeys(mixed, 'userKey', 'users')).toEqual(parseReferenceList(keys, 'key', 'users'));
      }),
    );
  });
});
