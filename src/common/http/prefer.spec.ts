import { describe, expect, it } from '@jest/globals';
import type { Request } from 'express';
import { preferredMaxPageSize, prefersRepresentation } from './prefer.js';

function requestWith(prefer?: string | string[]): Request {
  return { headers: prefer === undefined ? {} : { prefer } } as unknown as Request;
}

describe('prefersRepresentation', () => {
  it('is false without a Prefer header', () => {
    expect(prefersRepresentation(requestWith())).toBe(false);
  });

  it.each([
    'return=representation',
    'RETURN=Representation',
    'return = representation',
    ' return=representation ',
    'respond-async, return=representation',
    'return=representation; charset=x',
    'wait=10; return=representation',
    'odata.maxpagesize=50,return=representation',
  ])('is true for %j', (header) => {
    expect(prefersRepresentation(requestWith(header))).toBe(true);
  });

  it.each([
    '',
    'return=minimal',
    'return',
    'representation',
    'return=representations',
    'x-return=representation',
    'return=representation-ish',
    'respond-async',
  ])('is false for %j', (header) => {
    expect(prefersRepresentation(requestWith(header))).toBe(false);
  });

  it('looks at every value when the header was sent more than once', () => {
    expect(prefersRepresentation(requestWith(['respond-async', 'return=representation']))).toBe(true);
    expect(prefersRepresentation(requestWith(['respond-async', 'return=minimal']))).toBe(false);
  });
});

describe('preferredMaxPageSize', () => {
  const request = (prefer?: string) => ({ headers: prefer === undefined ? {} : { prefer } }) as unknown as Request;
  it.each([
    ['odata.maxpagesize=50', 50],
    ['return=minimal, odata.maxpagesize=7', 7],
    ['odata.maxpagesize="20"', 20],
    ['ODATA.MAXPAGESIZE=30', 30],
    ['odata.maxpagesize=5000', 1000],
  ])('reads %j as %d (capped at 1,000)', (header, expected) => {
    expect(preferredMaxPageSize(request(header), 1000)).toBe(expected);
  });

  it.each([undefined, '', 'odata.maxpagesize=0', 'odata.maxpagesize=-5', 'odata.maxpagesize=ten', 'odata.maxpagesize=1.5'])(
    'ignores %j',
    (header) => {
      expect(preferredMaxPageSize(request(header), 1000)).toBeUndefined();
    },
  );
});
