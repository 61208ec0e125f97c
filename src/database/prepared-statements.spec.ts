import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { PreparedStatements } from './prepared-statements.js';

describe('PreparedStatements', () => {
  it('names a text the second time it is seen, and keeps that name', () => {
    const statements = new PreparedStatements(10);
    expect(statements.nameFor('SELECT 1')).toBeUndefined();
    const name = statements.nameFor('SELECT 1');
    expect(name).toMatch(/^igs_[A-Za-z0-9_-]{24}$/);
    expect(statements.nameFor('SELECT 1')).toBe(name);
    expect(statements.nameFor('SELECT 2')).toBeUndefined();
    expect(statements.nameFor('SELECT 2')).not.toBe(name);
  });

  it('gives a text the same name in every catalog (catalogs may share connections), and other texts other names', () => {
    const [one, two] = [new PreparedStatements(10), new PreparedStatements(10)];
    for (const catalog of [one, two]) catalog.nameFor('SELECT 1');
    two.nameFor('SELECT 2');
    expect(one.nameFor('SELECT 1')).toBe(two.nameFor('SELECT 1'));
    expect(two.nameFor('SELECT 2')).not.toBe(two.nameFor('SELECT 1'));
  });

  it('names at most `capacity` texts; the rest run unnamed', () => {
    const statements = new PreparedStatements(2);
    for (const text of ['a', 'a', 'b', 'b', 'c', 'c', 'c']) statements.nameFor(text);
    expect(statements.size).toBe(2);
    expect(statements.nameFor('c')).toBeUndefined();
    expect(statements.nameFor('a')).toBeDefined();
  });

  it('names nothing with capacity 0', () => {
    const statements = new PreparedStatements(0);
    for (let i = 0; i < 5; i++) expect(statements.nameFor('SELECT 1')).toBeUndefined();
    expect(statements.size).toBe(0);
  });

  it('refuses a capacity that is not a non-negative integer', () => {
    expect(() => new PreparedStatements(-1)).toThrow(/capacity/);
    expect(() => new PreparedStatements(1.5)).toThrow(/capacity/);
  });

  it('never gives one name to two texts, nor two names to one text, and stays within capacity', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'), { maxLength: 200 }), (capacity, texts) => {
        const statements = new PreparedStatements(capacity);
        const nameOf = new Map<string, string>();
        const textOf = new Map<string, string>();
        const seen = new Map<string, number>();
        for (const text of texts) {
          seen.set(text, (seen.get(text) ?? 0) + 1);
          const name = statements.nameFor(text);
          if (name === undefined) {
            expect(nameOf.has(text)).toBe(false);
            continue;
          }
          expect(seen.get(text)).toBeGreaterThanOrEqual(2);
          expect(nameOf.get(text) ?? name).toBe(name);
          expect(textOf.get(name) ?? text).toBe(text);
          nameOf.set(text, name);
          textOf.set(name, text);
        }
        expect(nameOf.size).toBeLessThanOrEqual(capacity);
        expect(statements.size).toBe(nameOf.size);
      }),
    );
  });
});
