import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';

/** Gives back the slot `TenantGate.enter` handed out. Call it exactly once. */
export type LeaveGate = () => void;

/** What a 429 from the gate tells the client to wait before retrying, in seconds. */
export const TENANT_GATE_RETRY_AFTER_SECONDS = 1;

interface Waiter {
  admit: (leave: LeaveGate) => void;
  timer: NodeJS.Timeout;
}

interface TenantSlots {
  busy: number;
  waiting: Waiter[];
}

/**
 * Each tenant's share of the database connections: at most `maxPerTenant` of its statements (or
 * transactions) hold a connection at once, all orgs together. The excess waits, first come first
 * served, up to `maxWaitMs`, then is refused with 429 `TenantConcurrencyExceeded` and `Retry-After`.
 * One tenant's flood of expensive queries therefore occupies at most its share of the pool, and the
 * other tenants' requests still find connections.
 *
 * Why not a semaphore library: async-mutex's `withTimeout` leaves a timed-out waiter in the queue
 * until its turn comes (it then releases at once), so a flood's expired waiters would still delay
 * live ones; and one semaphore per tenant needs the keyed map with clean-up around it anyway, which
 * is most of this class. Entries exist only while a tenant has statements running or waiting.
 */
export class TenantGate {
  private readonly tenants = new Map<string, TenantSlots>();
  private refused: () => void = () => undefined;

  constructor(
    readonly maxPerTenant: number,
    readonly maxWaitMs: number,
  ) {
    if (!Number.isInteger(maxPerTenant) || maxPerTenant < 1) throw new Error('TenantGate: maxPerTenant must be a positive integer');
  }

  /** Resolves once the tenant holds a slot (at once when it has one free); rejects with 429 after the wait. */
  enter(tenantKey: string): Promise<LeaveGate> {
    let slots = this.tenants.get(tenantKey);
    if (!slots) {
      slots = { busy: 0, waiting: [] };
      this.tenants.set(tenantKey, slots);
    }
    if (slots.busy < this.maxPerTenant) {
      slots.busy += 1;
      return Promise.resolve(this.leaveFor(tenantKey, slots));
    }
    const tenant = slots;
    return new Promise<LeaveGate>((resolve, reject) => {
      const waiter: Waiter = {
        admit: resolve,
        timer: setTimeout(() => {
          const index = tenant.waiting.indexOf(waiter);
          if (index >= 0) tenant.waiting.splice(index, 1);
          this.refused();
          reject(this.refusal(tenantKey));
        }, this.maxWaitMs),
      };
      tenant.waiting.push(waiter);
    });
  }

  /** Called on each 429 (metrics). */
  onRefusal(listener: () => void): void {
    this.refused = listener;
  }

  /** Statements holding a slot and waiting for one, per tenant (metrics, tests). */
  usage(tenantKey: string): { busy: number; waiting: number } {
    const slots = this.tenants.get(tenantKey);
    return { busy: slots?.busy ?? 0, waiting: slots?.waiting.length ?? 0 };
  }

  /** All tenants together (metrics: no tenant label, its cardinality is unbounded). */
  totals(): { busy: number; waiting: number } {
    let busy = 0;
    let waiting = 0;
    for (const slots of this.tenants.values()) {
      busy += slots.busy;
      waiting += slots.waiting.length;
    }
    return { busy, waiting };
  }

  private leaveFor(tenantKey: string, slots: TenantSlots): LeaveGate {
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const next = slots.waiting.shift();
      if (next) {
        // The slot passes to the next waiter as it is: `busy` stays the same.
        clearTimeout(next.timer);
        next.admit(this.leaveFor(tenantKey, slots));
        return;
      }
      slots.busy -= 1;
      if (slots.busy === 0) this.tenants.delete(tenantKey);
    };
  }

  private refusal(tenantKey: string): AppError {
    return new AppError(
      ErrorCode.TenantConcurrencyExceeded,
      `Tenant '${tenantKey}' already has ${this.maxPerTenant} database statements running (TENANT_MAX_CONCURRENCY) ` +
        `and this request waited ${this.maxWaitMs} ms (TENANT_QUEUE_WAIT_MS) for one to finish; retry after ${TENANT_GATE_RETRY_AFTER_SECONDS} s`,
      undefined,
      undefined,
      { 'Retry-After': String(TENANT_GATE_RETRY_AFTER_SECONDS) },
    );
  }
}
