import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { DatabaseAvailability } from '../database/database-availability.js';
import { TenantGate } from '../database/tenant-gate.js';

/** Why a request was refused with 429: a closed set, so the label stays low-cardinality. */
export type ThrottleReason = 'tenant_rate_limit' | 'tenant_concurrency';

interface PgPoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/**
 * Prometheus metrics of this process, in a registry of its own (so several app instances in one
 * process — tests — never collide): HTTP requests by route template and status, their latency,
 * database pool state, and the default Node.js process metrics.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  private readonly requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  private readonly latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency in seconds, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  private readonly throttled = new Counter({
    name: 'http_requests_throttled_total',
    help: 'Requests refused with 429, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor(dataSource: DataSource, availability: DatabaseAvailability, gate: TenantGate) {
    collectDefaultMetrics({ register: this.registry });
    gate.onRefusal(() => this.countThrottled('tenant_concurrency'));
    const pool = () => (dataSource.driver as unknown as { master?: PgPoolLike }).master;
    const poolGauge = (name: string, help: string, read: (p: PgPoolLike) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const current = pool();
          this.set(current ? read(current) : 0);
        },
      });
    poolGauge('db_pool_connections', 'Database connections open in the pool', (p) => p.totalCount);
    poolGauge('db_pool_connections_idle', 'Database connections idle in the pool', (p) => p.idleCount);
    poolGauge('db_pool_waiting_requests', 'Queries waiting for a pool connection', (p) => p.waitingCount);
    new Gauge({
      name: 'db_available',
      help: '1 while statements reach the database, 0 from the first one that found it unavailable until one succeeds again',
      registers: [this.registry],
      collect() {
        this.set(availability.isDown ? 0 : 1);
      },
    });
    new Gauge({
      name: 'tenant_gate_statements',
      help: "Statements holding a tenant's connection share (busy) or waiting for it (waiting), all tenants together",
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const { busy, waiting } = gate.totals();
        this.labels({ state: 'busy' }).set(busy);
        this.labels({ state: 'waiting' }).set(waiting);
      },
    });
  }

  /** The series of each (method, route, status) seen, bound once: labels are not re-validated per request. */
  private readonly series = new Map<string, { requests: { inc(): void }; latency: { observe(seconds: number): void } }>();

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    // Bounded: methods the HTTP parser accepts × route templates × statuses.
    const key = `${method} ${status} ${route}`;
    let series = this.series.get(key);
    if (!series) {
      const labels = { method, route, status: String(status) };
      series = { requests: this.requests.labels(labels), latency: this.latency.labels(labels) };
      this.series.set(key, series);
    }
    series.requests.inc();
    series.latency.observe(seconds);
  }

  countThrottled(reason: ThrottleReason): void {
    this.throttled.inc({ reason });
  }
}
