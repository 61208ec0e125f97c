import autocannon from 'autocannon';

/** One measured run of one workload against one server. */
export interface Measurement {
  readonly workload: string;
  readonly description: string;
  readonly target: string;
  readonly connections: number;
  readonly seconds: number;
  readonly requests: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** non-2xx responses + socket errors (timeouts included). */
  readonly errors: number;
  readonly statusCodes: Record<string, number>;
  /** service req/s ÷ this baseline's req/s (service rows: ÷ the main baseline); over rounds, the median ratio. */
  ratio?: number;
  /** Over several rounds: the lowest and highest of the per-round ratios. */
  ratioRange?: readonly [number, number];
  /** Over several rounds: each round's ratio, in round order (the JSON report keeps them). */
  roundRatios?: readonly number[];
  /** How many runs this row sums up (the one shown is the run of median req/s). */
  rounds?: number;
  /** Sequential runs (W6, W8): the median latency of the first and of the last 10 calls, ms. */
  readonly firstTen?: number;
  readonly lastTen?: number;
  readonly note?: string;
}

export interface LoadOptions {
  readonly url: string;
  readonly requests: autocannon.Request[];
  readonly connections: number;
  /** Seconds; ignored when `amount` is given. */
  readonly duration: number;
  /** A fixed number of requests instead of a duration. */
  readonly amount?: number;
  /** Seconds of unrecorded load first (JIT, caches, pool); 0 for none. */
  readonly warmup: number;
  /**
   * Unrecorded requests first, before the `warmup` seconds: enough for every prepared statement to
   * reach its generic plan (sixth execution) on every pooled database connection.
   */
  readonly warmupRequests?: number;
  /** Per-request timeout, seconds (autocannon's default is 10). */
  readonly timeout?: number;
}

/** Runs autocannon (programmatically, no progress bar) and reduces its result to one Measurement. */
export async function measure(
  label: { workload: string; description: string; target: string; note?: string },
  options: LoadOptions,
): Promise<Measurement> {
  const base = {
    url: options.url,
    connections: options.connections,
    requests: options.requests,
    timeout: options.timeout ?? 10,
  } satisfies autocannon.Options;
  if (options.warmupRequests && options.amount === undefined) await run({ ...base, amount: options.warmupRequests });
  if (options.warmup > 0 && options.amount === undefined) await run({ ...base, duration: options.warmup });
  const started = performance.now();
  const { result, latencies } = await run(options.amount === undefined ? { ...base, duration: options.duration } : { ...base, amount: options.amount });
  // Wall time: autocannon's own `duration` is rounded to whole seconds for `amount` runs.
  const seconds = (performance.now() - started) / 1000;
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stats.count ?? 0;
  return {
    ...label,
    connections: options.connections,
    seconds,
    requests: result.requests.total,
    // A fixed `amount` ends on autocannon's one-second tick, so wall time overstates it: there, use
    // connections ÷ mean latency (back-to-back calls on each connection).
    rps: options.amount === undefined ? result.requests.total / seconds : (options.connections * 1000 * latencies.length) / sum(latencies),
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    errors: result.non2xx + result.errors,
    statusCodes,
  };
}

/**
 * One autocannon run. Latencies are collected from its 'response' events (sub-millisecond floats):
 * its own histogram rounds to whole milliseconds, too coarse for 1–3 ms requests.
 */
function run(options: autocannon.Options): Promise<{ result: autocannon.Result; latencies: Float64Array }> {
  return new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16);
    let n = 0;
    const instance = autocannon(options, (error, result) => {
      if (error) reject(error instanceof Error ? error : new Error(String(error)));
      else resolve({ result, latencies: latencies.subarray(0, n).sort() });
    });
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      if (n === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[n++] = responseTime;
    });
  });
}

/**
 * Calls `call` `count` times, one after the other (one connection), and times each call: the row's
 * p50/p99 are per call, `firstTen`/`lastTen` the medians of the first and last ten when there are
 * at least 20 calls (a plan that changes after the fifth execution of a statement shows as a step
 * between them).
 */
export async function sequential(
  label: { workload: string; description: string; target: string; note?: string },
  count: number,
  call: (index: number) => Promise<boolean>,
): Promise<Measurement> {
  const times: number[] = [];
  let errors = 0;
  const started = performance.now();
  for (let index = 0; index < count; index++) {
    const before = performance.now();
    if (!(await call(index))) errors++;
    times.push(performance.now() - before);
  }
  const seconds = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(times).sort();
  return {
    ...label,
    connections: 1,
    seconds,
    requests: count,
    rps: (1000 * count) / sum(sorted),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    errors,
    statusCodes: errors > 0 ? { error: errors } : {},
    // Only when they are apart: with fewer than 20 calls the two tens overlap.
    ...(count >= 20 ? { firstTen: median(times.slice(0, 10)), lastTen: median(times.slice(-10)) } : {}),
  };
}

function sum(values: Float64Array): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** The nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** The one results table (fixed-width text). */
export function formatTable(rows: readonly Measurement[]): string {
  const header = ['workload', 'target', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'svc/base'];
  const body = rows.map((row) => [
    `${row.workload} ${row.description}`,
    row.target,
    String(row.connections),
    row.rps >= 100 ? row.rps.toFixed(0) : row.rps.toFixed(1),
    latency(row.p50),
    latency(row.p99),
    row.errors === 0 ? '0' : `${row.errors} (${Object.entries(row.statusCodes).filter(([code]) => !code.startsWith('2')).map(([code, n]) => `${code}×${n}`).join(' ') || 'socket'})`,
    row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}×${row.ratioRange ? ` (${row.ratioRange[0].toFixed(2)}–${row.ratioRange[1].toFixed(2)})` : ''}`,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...body.map((cells) => cells[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column >= 2 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...body.map(line)].join('\n');
}

/** The run of median req/s among runs of one target (the lower middle one for an even count). */
export function medianRun(runs: readonly Measurement[]): Measurement {
  if (runs.length === 0) throw new Error('no runs');
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, rounds: runs.length };
}

/** The median of numbers (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function latency(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}
