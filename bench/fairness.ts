import { addExtraScope, BenchScope, removeExtraScope, scopesOf, withClient } from './dataset.js';
import { call, closedLoop, drillAgent, DrillOutcome, DrillRequest, DrillResult, DrillServiceOptions, ms, OutcomeStats, startDrillService, sleep, textTable } from './drill-http.js';
import { Random } from './random.js';
import { signToken } from './tokens.js';

/**
 * The fairness drill (`npm run bench -- --only fairness`): tenant B's light requests are measured
 * alone ("quiet"), then again while tenant A floods the service with heavy but legal OData queries
 * on many connections ("flood"). Issue 16's target: B's p99 during the flood ≤ 3× its quiet p99 (or
 * ≤ 50 ms, whichever is larger); A's excess gets 429 or waits, never a 5xx.
 */
export interface FairnessOptions extends DrillServiceOptions {
  /** Seconds B is measured in each phase. */
  readonly phaseSeconds: number;
  /** Seconds the flood runs before B is measured in it. */
  readonly rampSeconds: number;
  readonly floodConnections: number;
  readonly lightConnections: number;
}

export type FairnessResult = DrillResult;

/** The heavy queries tenant A floods with (each legal OData; a 4xx answer, e.g. "too large", is a legal outcome and counted). */
export const HEAVY_QUERIES: ReadonlyArray<{ name: string; query: string }> = [
  { name: 'H1 any(contains) + orderby users/$count + expand 1000×1000', query: "$filter=users/any(u:contains(u/name,'a'))&$orderby=users/$count desc&$count=true&$expand=users($top=1000)&$top=1000" },
  { name: 'H2 $search + orderby users/$count,name + expand', query: "$search=e&$orderby=users/$count desc,name&$count=true&$expand=users($top=1000;$orderby=name desc)&$top=1000" },
  { name: 'H3 all(contains) and contains(tolower) + $skip + expand', query: "$filter=users/all(u:contains(u/email,'example')) and contains(tolower(name),'o')&$orderby=name desc&$count=true&$skip=1000&$top=1000&$expand=users" },
];

/** Sent with every heavy query. */
export const HEAVY_PREFER = 'odata.maxpagesize=1000';

const LIGHT_KINDS = ['odata $top=5', 'GET /groups/{key}'] as const;
type LightKind = (typeof LIGHT_KINDS)[number];

export async function fairnessDrill(options: FairnessOptions): Promise<FairnessResult> {
  const { spec, log } = options;
  const scopes = scopesOf(spec);
  const tenantA = scopes[0]!;
  let tenantB = scopes.find((scope) => scope.tenantKey !== tenantA.tenantKey);
  const added = tenantB ? undefined : await addExtraScope(options.databaseUrl, spec, options.seed, log);
  tenantB ??= added!;
  try {
    return await run(options, tenantA, tenantB, added !== undefined);
  } finally {
    if (added) {
      await removeExtraScope(options.databaseUrl, spec);
      log(`  removed the drill's scope ${added.tenantKey}/${added.orgKey} again`);
    }
  }
}

async function run(options: FairnessOptions, tenantA: BenchScope, tenantB: BenchScope, bAdded: boolean): Promise<FairnessResult> {
  const { spec, log } = options;
  const pathOf = (scope: BenchScope) => `/api/${scope.tenantKey}/${scope.orgKey}/identity`;
  const authOf = (scope: BenchScope) => `Bearer ${signToken({ tenant: scope.tenantKey })}`;
  const [aPath, bPath, aAuth, bAuth] = [pathOf(tenantA), pathOf(tenantB), authOf(tenantA), authOf(tenantB)];
  const keys = await withClient(options.databaseUrl, async (client) =>
    (
      await client.query<{ group_key: string }>(
        `SELECT group_key FROM groups WHERE tenant_key = $1 AND org_key = $2 AND group_key NOT LIKE 'core-%' ORDER BY md5(id::text) LIMIT 200`,
        [tenantB.tenantKey, tenantB.orgKey],
      )
    ).rows.map((row) => row.group_key),
  );
  if (keys.length === 0) throw new Error(`fairness: tenant B's scope ${bPath} has no groups`);

  const service = await startDrillService(options, 'service (fairness)', 'service-fairness.log');
  log(`  service pid ${service.pid} on ${service.baseUrl} (log ${service.logFile})${envNote(options.serviceEnv)}`);
  const lightAgent = drillAgent(options.lightConnections);
  const floodAgent = drillAgent(options.floodConnections);
  try {
    const random = new Random(options.seed, 211);
    const light = (worker: number, n: number): { kind: LightKind; request: DrillRequest } => {
      const kind = LIGHT_KINDS[(worker + n) % 2]!;
      const path = kind === 'odata $top=5' ? `${bPath}/groups/odata?$top=5` : `${bPath}/groups/${encodeURIComponent(keys[random.int(keys.length)]!)}`;
      return { kind, request: { method: 'GET', path, headers: { authorization: bAuth } } };
    };
    // With `Prefer: odata.maxpagesize=1000` (the contract's largest page): else a page holds 100 groups.
    const heavy = HEAVY_QUERIES.map(({ name, query }) => ({
      name,
      request: { method: 'GET' as const, path: `${aPath}/groups/odata?${encodeQuery(query)}`, headers: { authorization: aAuth, prefer: HEAVY_PREFER } },
    }));

    // Every request is checked once first: B's must succeed; A's are legal OData, and whatever the
    // service answers them (200, or a 4xx saying the query is too large or too slow) is shown.
    for (const kind of LIGHT_KINDS) {
      const { request } = light(kind === LIGHT_KINDS[0] ? 0 : 1, 0);
      const outcome = await call(lightAgent, service.baseUrl, request, 30_000);
      if (outcome.status !== 200) throw new Error(`fairness: tenant B's ${kind} (${request.path}) answered ${outcome.status} ${outcome.errorCode ?? outcome.error ?? ''}`);
    }
    const probes: string[] = [];
    for (const { name, request } of heavy) {
      const outcome = await call(floodAgent, service.baseUrl, request, 120_000, true);
      const rows = outcome.body ? countRows(outcome.body) : undefined;
      const line = `${name}: ${outcome.status || outcome.error} in ${ms(outcome.ms)} ms, ${(outcome.bytes / 1024).toFixed(0)} KiB` +
        (rows ? `, ${rows.groups} groups + ${rows.members} expanded members, @odata.count ${rows.count}` : '') +
        (outcome.errorCode ? ` (${outcome.errorCode})` : '') +
        (outcome.retryAfter ? ` Retry-After ${outcome.retryAfter}` : '');
      probes.push(line);
      log(`  probe ${line}`);
    }

    let lightRunning = true;
    let lightStats = new Map<LightKind, OutcomeStats>();
    const lightCalls = new Array<number>(options.lightConnections).fill(0);
    const lightPhase = async (seconds: number) => {
      lightStats = new Map(LIGHT_KINDS.map((kind) => [kind, new OutcomeStats()]));
      const kinds = new Map<DrillRequest, LightKind>();
      lightRunning = true;
      const timer = setTimeout(() => (lightRunning = false), seconds * 1000);
      const stats = lightStats;
      await closedLoop({
        baseUrl: service.baseUrl,
        agent: lightAgent,
        connections: options.lightConnections,
        running: () => lightRunning,
        next: (worker) => {
          const { kind, request } = light(worker, lightCalls[worker]!++);
          kinds.set(request, kind);
          return request;
        },
        record: (_worker, request, outcome) => {
          stats.get(kinds.get(request)!)!.add(outcome);
          kinds.delete(request);
        },
        timeoutMs: 30_000,
      });
      clearTimeout(timer);
      return stats;
    };

    log(`  tenant B (${bPath}) warm-up, 2 s at ${options.lightConnections} connections …`);
    await lightPhase(2);
    log(`  tenant B quiet, ${options.phaseSeconds} s …`);
    const quiet = await lightPhase(options.phaseSeconds);

    log(`  tenant A (${aPath}) floods at ${options.floodConnections} connections (${heavy.length} heavy queries in turn); ${options.rampSeconds} s ramp …`);
    let flooding = true;
    const floodStats = new Map(heavy.map(({ name }) => [name, new OutcomeStats()]));
    const floodCalls = new Array<number>(options.floodConnections).fill(0);
    const names = new Map<DrillRequest, string>();
    const floodStarted = Date.now();
    const flood = closedLoop({
      baseUrl: service.baseUrl,
      agent: floodAgent,
      connections: options.floodConnections,
      running: () => flooding,
      next: (worker) => {
        const { name, request } = heavy[(worker + floodCalls[worker]!++) % heavy.length]!;
        const copy = { ...request };
        names.set(copy, name);
        return copy;
      },
      record: (_worker, request, outcome: DrillOutcome) => {
        floodStats.get(names.get(request)!)!.add(outcome);
        names.delete(request);
      },
      timeoutMs: 120_000,
    });
    await sleep(options.rampSeconds * 1000);
    log(`  tenant B during the flood, ${options.phaseSeconds} s …`);
    const during = await lightPhase(options.phaseSeconds);
    flooding = false;
    log('  flood stopped; waiting for its last requests …');
    await flood;
    const floodSeconds = (Date.now() - floodStarted) / 1000;
    const exit = service.exitStatus();

    // Report.
    const row = (phase: string, tenant: string, what: string, conns: number, stats: OutcomeStats, seconds: number) => [
      phase,
      tenant,
      what,
      String(conns),
      (stats.count / seconds).toFixed(stats.count / seconds >= 100 ? 0 : 1),
      ms(stats.percentile(0.5)),
      ms(stats.percentile(0.99)),
      String(stats.count2xx()),
      String(sumKeys(stats, /^4\d\d$/)),
      String(stats.count5xx()),
      String(stats.countNoResponse()),
      stats.describeStatuses(),
    ];
    const merge = (stats: Iterable<OutcomeStats>) => [...stats].reduce((a, b) => a.merge(b), new OutcomeStats());
    const quietAll = merge(quiet.values());
    const duringAll = merge(during.values());
    const floodAll = merge(floodStats.values());
    const rows: string[][] = [];
    for (const [phase, stats] of [['quiet', quiet], ['flood', during]] as const) {
      for (const kind of LIGHT_KINDS) rows.push(row(phase, 'B', kind, options.lightConnections, stats.get(kind)!, options.phaseSeconds));
      rows.push(row(phase, 'B', 'both kinds', options.lightConnections, merge(stats.values()), options.phaseSeconds));
    }
    for (const [name, stats] of floodStats) rows.push(row('flood', 'A', name.split(' ')[0]!, options.floodConnections, stats, floodSeconds));
    rows.push(row('flood', 'A', 'all heavy', options.floodConnections, floodAll, floodSeconds));

    const verdicts: Array<{ line: string; met: boolean }> = [];
    for (const [kind, q, d] of [
      ...LIGHT_KINDS.map((kind) => [kind, quiet.get(kind)!, during.get(kind)!] as const),
      ['both kinds', quietAll, duringAll] as const,
    ]) {
      const [qp99, dp99] = [q.percentile(0.99), d.percentile(0.99)];
      const limit = Math.max(3 * qp99, 50);
      verdicts.push({
        line: `B ${kind}: p99 ${ms(dp99)} ms during the flood vs ${ms(qp99)} ms quiet = ${(dp99 / qp99).toFixed(1)}×; limit max(3 × ${ms(qp99)}, 50) = ${ms(limit)} ms`,
        met: dp99 <= limit,
      });
    }
    const bFailures = duringAll.count - duringAll.count2xx() + quietAll.count - quietAll.count2xx();
    verdicts.push({ line: `B's requests all 2xx (quiet and during the flood): ${bFailures} not`, met: bFailures === 0 });
    const a5xx = floodAll.count5xx();
    const aNoResponse = floodAll.countNoResponse();
    const a429 = floodAll.countStatus(429);
    const a429NoRetry = floodAll.withoutRetryAfter.get('429') ?? 0;
    verdicts.push({ line: `A never a 5xx: ${a5xx} 5xx, ${aNoResponse} without a response (socket error/timeout)`, met: a5xx === 0 && aNoResponse === 0 });
    verdicts.push({ line: `A's 429s carry Retry-After: ${a429 - a429NoRetry} of ${a429}`, met: a429NoRetry === 0 });
    verdicts.push({ line: `service process alive after the drill: ${exit ? `NO, exited ${exit.code ?? exit.signal}` : 'yes'}`, met: !exit });
    const passed = verdicts.every((verdict) => verdict.met);

    const codes = merge([floodAll, duringAll, quietAll]).errorCodes;
    const report = [
      `Fairness drill (scale ${spec.name}): tenant A = ${tenantA.tenantKey} (${tenantA.tenantKey}/${tenantA.orgKey}) floods with ${options.floodConnections} connections of ${heavy.length} heavy OData queries in turn; ` +
        `tenant B = ${tenantB.tenantKey} (${tenantB.tenantKey}/${tenantB.orgKey}${bAdded ? ', a scope the drill added' : ''}) at ${options.lightConnections} connections, measured ${options.phaseSeconds} s quiet and ` +
        `${options.phaseSeconds} s during the flood (after a ${options.rampSeconds} s ramp; A's row covers its whole ${floodSeconds.toFixed(1)} s). Pool ${options.serviceEnv['DB_POOL_SIZE'] ?? options.poolSize}${envNote(options.serviceEnv)}.`,
      ...probes.map((line) => `  single call: ${line}`),
      '',
      textTable(['phase', 'tenant', 'request', 'conns', 'req/s', 'p50 ms', 'p99 ms', '2xx', '4xx', '5xx', 'no resp', 'statuses'], rows, new Set([0, 1, 2, 11])),
      '',
      ...(codes.size > 0 ? [`error codes: ${[...codes.entries()].map(([code, n]) => `${code}×${n}`).join(', ')}`] : []),
      ...HEAVY_QUERIES.map(({ name, query }) => `${name.split(' ')[0]} = GET ${aPath}/groups/odata?${query}   (Prefer: ${HEAVY_PREFER})`),
      `odata $top=5 = GET ${bPath}/groups/odata?$top=5; GET /groups/{key} = ${bPath}/groups/{key}, keys drawn (seeded) from 200 of B's ordinary groups`,
      '',
      'Targets (issue 16):',
      ...verdicts.map((verdict) => `  [${verdict.met ? 'met' : 'MISSED'}] ${verdict.line}`),
    ].join('\n');
    const summary = {
      tenantA,
      tenantB,
      serviceEnv: options.serviceEnv,
      probes,
      quiet: Object.fromEntries([...quiet].map(([kind, stats]) => [kind, summarize(stats, options.phaseSeconds)])),
      during: Object.fromEntries([...during].map(([kind, stats]) => [kind, summarize(stats, options.phaseSeconds)])),
      flood: Object.fromEntries([...floodStats].map(([name, stats]) => [name, summarize(stats, floodSeconds)])),
      verdicts,
      exit,
    };
    return { report, passed, summary };
  } finally {
    lightAgent.destroy();
    floodAgent.destroy();
    await service.stop();
  }
}

function summarize(stats: OutcomeStats, seconds: number) {
  return { requests: stats.count, rps: stats.count / seconds, p50: stats.percentile(0.5), p99: stats.percentile(0.99), statuses: Object.fromEntries(stats.statuses) };
}

function sumKeys(stats: OutcomeStats, pattern: RegExp): number {
  let total = 0;
  for (const [key, n] of stats.statuses) if (pattern.test(key)) total += n;
  return total;
}

/** The query string with each option's value percent-encoded (the names keep their `$`). */
export function encodeQuery(query: string): string {
  return query
    .split('&')
    .map((part) => {
      const at = part.indexOf('=');
      return `${part.slice(0, at)}=${encodeURIComponent(part.slice(at + 1))}`;
    })
    .join('&');
}

function countRows(body: string): { groups: number; members: number; count: unknown } | undefined {
  try {
    const parsed = JSON.parse(body) as { value?: Array<{ users?: unknown[] }>; '@odata.count'?: unknown };
    const value = parsed.value ?? [];
    return { groups: value.length, members: value.reduce((n, group) => n + (group.users?.length ?? 0), 0), count: parsed['@odata.count'] };
  } catch {
    return undefined;
  }
}

export function envNote(env: Record<string, string>): string {
  const entries = Object.entries(env);
  return entries.length === 0 ? '' : `; service env ${entries.map(([key, value]) => `${key}=${value}`).join(' ')}`;
}
