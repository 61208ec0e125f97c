import { expect } from '@jest/globals';

/** Runs `work`, which must throw an instance of `type`, and returns what it threw. */
export function thrownBy<T extends Error>(work: () => unknown, type: abstract new (...args: never[]) => T): T {
  let thrown: unknown;
  try {
    work();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(type);
  return thrown as T;
}
