import { describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { AppError } from '../common/errors/app-error.js';
import { LeaveGate, TenantGate } from './tenant-gate.js';

describe('TenantGate', () => {
  it('admits up to the share at once, queues the excess first come first served, and hands a left slot to the next', async () => {
    const gate = new TenantGate(2, 10_000);
    const first = await gate.enter('a');
    const second = await gate.enter('a');
    const order: string[] = [];
    const third = gate.enter('a').then((leave) => (order.push('third'), leave));
    const fourth = gate.enter('a').then((leave) => (order.push('fourth'), leave));
    expect(gate.usage('a')).toEqual({ busy: 2, waiting: 2 });
    // Another tenant is not affected by a's queue.
    const other = await gate.enter('b');
    first();
    (await third)();
    second();
    (await fourth)();
    expect(order).toEqual(['third', 'fourth']);
    other();
    expect(gate.usage('a')).toEqual({ busy: 0, waiting: 0 });
  });

  it('refuses a waiter with 429 TenantConcurrencyExceeded and Retry-After once it has waited its time, and forgets it', async () => {
    jest.useFakeTimers();
    try {
      const gate = new TenantGate(1, 500);
      const held = await gate.enter('a');
      const waiting = gate.enter('a');
      jest.advanceTimersByTime(500);
      const error = (await waiting.catch((caught: unknown) => caught)) as AppError;
      expect(error).toBeInstanceOf(AppError);
      expect(error.status).toBe(429);
      expect(error.code).toBe('TenantConcurrencyExceeded');
      expect(error.headers?.['Retry-After']).toBe('1');
      expect(gate.usage('a')).toEqual({ busy: 1, waiting: 0 });
      held();
      expect(gate.usage('a')).toEqual({ busy: 0, waiting: 0 });
    } finally {
      jest.useRealTimers();
    }
  });

  it('a slot left twice is given back once', async () => {
    const gate = new TenantGate(1, 10_000);
    const leave = await gate.enter('a');
    leave();
    leave();
    const again = await gate.enter('a');
    expect(gate.usage('a')).toEqual({ busy: 1, waiting: 0 });
    again();
  });

  it('never has more than its share busy, and admits every waiter eventually (any interleaving)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 30 }), async (share, tenants) => {
        const gate = new TenantGate(share, 60_000);
        const busy = new Map<string, number>();
        let admitted = 0;
        const runs = tenants.map(async (tenant) => {
          const leave: LeaveGate = await gate.enter(tenant);
          busy.set(tenant, (busy.get(tenant) ?? 0) + 1);
          expect(busy.get(tenant)).toBeLessThanOrEqual(share);
          admitted += 1;
          await Promise.resolve();
          busy.set(tenant, busy.get(tenant)! - 1);
          leave();
        });
        await Promise.all(runs);
        expect(admitted).toBe(tenants.length);
        expect(gate.usage('a')).toEqual({ busy: 0, waiting: 0 });
        expect(gate.usage('b')).toEqual({ busy: 0, waiting: 0 });
      }),
    );
  });
});
