import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { ScaleSpec } from './dataset.js';
import { RunningServer, startServer } from './servers.js';
import { BENCH_JWT_SECRET } from './tokens.js';

/**
 * What the drills (fairness.ts, outage.ts) send and measure: plain node:http calls on keep-alive
 * connections, one outcome per call (status, latency, `Retry-After`, or the socket error), so each
 * kind of request and each phase of a drill is counted apart — which autocannon's one histogram
 * per run cannot do.
 */
export interface DrillRequest {
  readonly method: 'GET' | 'POST' | 'PATCH';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export interface DrillOutcome {
  /** HTTP status; 0 when there was no response (socket error or timeout: see `error`). */
  readonly status: number;
  /** Wall time of the call, ms (to the last byte of the body). */
  readonly ms: number;
  /** `Date.now()` when the call started and ended. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly retryAfter: string | null;
  /** `error.code` of an OData error body (non-2xx), when there is one. */
  readonly errorCode?: string;
  /** The body, when `keepBody` asked for it (2xx) — else only its size. */
  readonly body?: string;
  readonly bytes: number;
  /** No response: `ECONNREFUSED`, `ECONNRESET`, `timeout`, … */
  readonly error?: string;
}

/** A keep-alive agent holding at most `connections` sockets (one per drill connection). */
export function drillAgent(connections: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
}

/** One call; never throws (a failure is an outcome with status 0). */
export function call(agent: Agent, baseUrl: string, request: DrillRequest, timeoutMs: number, keepBody = false): Promise<DrillOutcome> {
  const url = new URL(request.path, baseUrl);
  const startedAt = Date.now();
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: Omit<DrillOutcome, 'ms' | 'startedAt' | 'endedAt'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...outcome, ms: performance.now() - started, startedAt, endedAt: Date.now() });
    };
    const headers: Record<string, string | number> = { ...request.headers };
    if (request.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(request.body);
    }
    const req = httpRequest({ agent, host: url.hostname, port: url.port, method: request.method, path: url.pathname + url.search, headers }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        // Error bodies (their first MiB) name the error code; 2xx bodies only when asked for.
        if (keepBody || (!ok && bytes <= 1 << 20)) chunks.push(chunk);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let errorCode: string | undefined;
        if (!ok) {
          try {
            errorCode = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
          } catch {
            errorCode = undefined;
          }
        }
        const retryAfter = res.headers['retry-after'];
        done({ status, retryAfter: typeof retryAfter === 'string' ? retryAfter : null, bytes, ...(errorCode ? { errorCode } : {}), ...(ok && keepBody ? { body: text } : {}) });
      });
      res.on('error', (error: NodeJS.ErrnoException) => done({ status: 0, retryAfter: null, bytes, error: error.code ?? error.message }));
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => done({ status: 0, retryAfter: null, bytes: 0, error: error.code ?? error.message }));
    if (request.body !== undefined) req.write(request.body);
    req.end();
  });
}

/**
 * Runs `connections` workers, each calling back to back (closed loop) until `running()` is false;
 * `next(worker)` gives each worker's next request, `record` receives every outcome. A worker that
 * got no response waits `pauseAfterErrorMs` (a dead server refuses at once: no busy loop), and
 * each worker sends at most one request per `minIntervalMs` when set. Resolves once every worker's
 * last call has finished.
 */
export async function closedLoop(options: {
  baseUrl: string;
  agent: Agent;
  connections: number;
  running: () => boolean;
  next: (worker: number) => DrillRequest | Promise<DrillRequest>;
  record: (worker: number, request: DrillRequest, outcome: DrillOutcome) => void;
  timeoutMs: number;
  minIntervalMs?: number;
  pauseAfterErrorMs?: number;
}): Promise<void> {
  const worker = async (index: number) => {
    while (options.running()) {
      const request = await options.next(index);
      const outcome = await call(options.agent, options.baseUrl, request, options.timeoutMs);
      options.record(index, request, outcome);
      const pause = outcome.status === 0 ? (options.pauseAfterErrorMs ?? 50) : (options.minIntervalMs ?? 0) - outcome.ms;
      if (pause > 0 && options.running()) await sleep(pause);
    }
  };
  await Promise.all(Array.from({ length: options.connections }, (_, index) => worker(index)));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Outcomes of one kind of request in one phase: counts by status, latencies. */
export class OutcomeStats {
  private latencies: number[] = [];
  readonly statuses = new Map<string, number>();
  /** Non-2xx HTTP answers without a `Retry-After` header, by status. */
  readonly withoutRetryAfter = new Map<string, number>();
  /** OData `error.code`s of the non-2xx answers, by status and code. */
  readonly errorCodes = new Map<string, number>();
  firstAt = Number.POSITIVE_INFINITY;
  lastAt = 0;

  add(outcome: DrillOutcome): void {
    const key = outcome.status === 0 ? (outcome.error ?? 'error') : String(outcome.status);
    bump(this.statuses, key);
    if (outcome.status >= 300 && outcome.retryAfter === null) bump(this.withoutRetryAfter, key);
    if (outcome.status >= 300 && outcome.errorCode) bump(this.errorCodes, `${outcome.status} ${outcome.errorCode}`);
    this.latencies.push(outcome.ms);
    this.firstAt = Math.min(this.firstAt, outcome.startedAt);
    this.lastAt = Math.max(this.lastAt, outcome.endedAt);
  }

  get count(): number {
    return this.latencies.length;
  }

  count2xx(): number {
    return sumWhere(this.statuses, (key) => /^2\d\d$/.test(key));
  }
  count5xx(): number {
    return sumWhere(this.statuses, (key) => /^5\d\d$/.test(key));
  }
  countStatus(status: number): number {
    return this.statuses.get(String(status)) ?? 0;
  }
  /** Calls without any response (socket errors, timeouts). */
  countNoResponse(): number {
    return sumWhere(this.statuses, (key) => !/^\d{3}$/.test(key));
  }

  /** Nearest-rank percentile of the latencies, ms (NaN when empty). */
  percentile(p: number): number {
    if (this.latencies.length === 0) return Number.NaN;
    const sorted = Float64Array.from(this.latencies).sort();
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  }

  merge(other: OutcomeStats): OutcomeStats {
    const merged = new OutcomeStats();
    for (const stats of [this, other]) {
      merged.latencies.push(...stats.latencies);
      for (const [target, source] of [
        [merged.statuses, stats.statuses],
        [merged.withoutRetryAfter, stats.withoutRetryAfter],
        [merged.errorCodes, stats.errorCodes],
      ] as const) {
        for (const [key, n] of source) bump(target, key, n);
      }
      merged.firstAt = Math.min(merged.firstAt, stats.firstAt);
      merged.lastAt = Math.max(merged.lastAt, stats.lastAt);
    }
    return merged;
  }

  /** `200×812 429×31 ECONNREFUSED×4`, 2xx first, then by status. */
  describeStatuses(): string {
    return describeCounts(this.statuses) || '—';
  }
}

export function describeCounts(counts: ReadonlyMap<string, number>): string {
  return [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => `${key}×${n}`)
    .join(' ');
}

function bump(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

function sumWhere(map: ReadonlyMap<string, number>, predicate: (key: string) => boolean): number {
  let total = 0;
  for (const [key, n] of map) if (predicate(key)) total += n;
  return total;
}

/** A fixed-width text table (first column left-aligned, the rest right-aligned unless `left`). */
export function textTable(header: string[], rows: string[][], left: ReadonlySet<number> = new Set([0])): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((cells) => (cells[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (left.has(column) ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

/** What both drills need to start the service on the dataset and report. */
export interface DrillServiceOptions {
  readonly databaseUrl: string;
  readonly spec: ScaleSpec;
  readonly seed: number;
  readonly poolSize: number;
  /** Extra environment for the service (`--service-env`), e.g. TENANT_MAX_CONCURRENCY. */
  readonly serviceEnv: Record<string, string>;
  readonly serviceMain: string;
  readonly logDir: string;
  readonly log: (line: string) => void;
}

/** What a drill returns to run.ts. */
export interface DrillResult {
  readonly report: string;
  readonly passed: boolean;
  readonly summary: Record<string, unknown>;
}

/** Starts the service as both drills run it: on the dataset, at warn level, with `--service-env` last. */
export function startDrillService(options: DrillServiceOptions, name: string, logName: string): Promise<RunningServer> {
  return startServer({
    name,
    args: [options.serviceMain],
    env: {
      DATABASE_URL: options.databaseUrl,
      DB_POOL_SIZE: String(options.poolSize),
      NODE_ENV: 'production',
      JWT_SECRET: BENCH_JWT_SECRET,
      LOG_LEVEL: 'warn',
      ...options.serviceEnv,
    },
    readyPath: '/ready',
    logFile: join(options.logDir, logName),
  });
}
