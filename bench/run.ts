/**
 * `npm run bench -- [--scale S|M] [--duration 5] [--rounds 3] [--connections 16] [--warmup 1] [--keep] [--fresh]
 *                   [--only W1,W4,load,fairness,outage] [--w6-calls 50] [--w8-calls 5] [--seed 42] [--db NAME] [--profile] [--json FILE]
 *                   [--service-env K=V,K=V] [--phase N] [--down N] [--flood-connections 32] [--light-connections 4]
 *                   [--outage-connections 8] [--pg-cluster V/NAME]`
 *
 * Builds a dataset database (`igs_bench_<scale>`, schema from the service's migrations) and the
 * baseline's own schema `ref` in it (a copy of the same rows), starts the service
 * (`node dist/main.js`) and the baseline server on free ports, checks that both answer each
 * workload with the same records, measures both in rounds, and prints one table. The drills of
 * issue 16 (`--only fairness`, `--only outage`: fairness.ts, outage.ts) run only when named; the
 * outage drill stops and starts a local PostgreSQL cluster. See bench/README.md.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type autocannon from 'autocannon';
import { ApiLoadResult, apiLoad } from './api-load.js';
import { BENCH_WRITE_PREFIXES, BenchScope, dropDatabase, prepareDatabase, SCALES, ScaleSpec, scopesOf, userKey, W3_GROUP_KEY, withClient } from './dataset.js';
import { fairnessDrill, FairnessResult } from './fairness.js';
import { formatTable, measure, Measurement, median, medianRun, sequential } from './load.js';
import { checkClusterServes, ClusterControl, outageDrill, OutageResult, resolveCluster } from './outage.js';
import { summarizeProfiles } from './profile-summary.js';
import { Random } from './random.js';
import { prepareReferenceSchema } from './reference-schema.js';
import { RunningServer, startServer, stopAll } from './servers.js';
import { BENCH_JWT_SECRET, signToken } from './tokens.js';

const ROOT = resolve(import.meta.dirname, '..');
const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'W8'] as const;
/** Not in the default set: run only when named in --only (the outage drill stops a PostgreSQL cluster). */
const OPTIONAL = ['LOAD', 'FAIRNESS', 'OUTAGE'] as const;
/** W6: userKeys per users/add call, at every scale. */
const W6_KEYS = 1_000;
/** W8: userKeys per call (the contract's maximum); needs a scope of at least that many users (M). */
const W8_KEYS = 10_000;

interface Options {
  spec: ScaleSpec;
  duration: number;
  rounds: number;
  connections: number;
  warmup: number;
  poolSize: number;
  keep: boolean;
  fresh: boolean;
  only: Set<string>;
  w6Calls: number;
  w8Calls: number;
  seed: number;
  db?: string;
  profile: boolean;
  json?: string;
  adminUrl: string;
  /** --service-env: extra environment for the service (all its starts, drills included). */
  serviceEnv: Record<string, string>;
  /** Drills: seconds per measured phase (default: fairness 10, outage 5). */
  phase?: number;
  /** Outage drill: seconds the database stays down in the stop scenarios. */
  down: number;
  floodConnections: number;
  lightConnections: number;
  outageConnections: number;
  pgCluster?: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: 'S' },
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '16' },
      warmup: { type: 'string', default: '1' },
      keep: { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      only: { type: 'string' },
      'w6-calls': { type: 'string', default: '50' },
      'w8-calls': { type: 'string', default: '5' },
      seed: { type: 'string', default: '42' },
      db: { type: 'string' },
      profile: { type: 'boolean', default: false },
      json: { type: 'string' },
      'service-env': { type: 'string' },
      phase: { type: 'string' },
      down: { type: 'string', default: '5' },
      'flood-connections': { type: 'string', default: '32' },
      'light-connections': { type: 'string', default: '4' },
      'outage-connections': { type: 'string', default: '8' },
      'pg-cluster': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      'npm run bench -- [--scale S|M] [--duration SECONDS] [--rounds N] [--connections N] [--warmup SECONDS] [--keep] [--fresh]\n' +
        '                 [--only W1,W2,…,W8,load,fairness,outage] [--w6-calls N] [--w8-calls N] [--seed N] [--db igs_bench_NAME] [--profile] [--json FILE]\n' +
        '                 [--service-env K=V,K=V] [--phase SECONDS] [--down SECONDS] [--flood-connections 32] [--light-connections 4]\n' +
        '                 [--outage-connections 8] [--pg-cluster VERSION/NAME]\n' +
        'BENCH_DATABASE_URL: admin connection (default postgres://postgres@127.0.0.1:5432/postgres); DB_POOL_SIZE: both pools (default 10)\n' +
        '--only outage STOPS AND STARTS the PostgreSQL cluster --pg-cluster names (default: the one `main` under /etc/postgresql),\n' +
        '  which must be the one serving BENCH_DATABASE_URL; it never runs unless named.',
    );
    process.exit(0);
  }
  const scale = values.scale.toUpperCase();
  if (scale !== 'S' && scale !== 'M') throw new Error('--scale must be S or M');
  const positive = (name: string, text: string, min = 1) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number ≥ ${min}`);
    return value;
  };
  const only = new Set((values.only ?? WORKLOADS.join(',')).split(',').map((w) => w.trim().toUpperCase()).filter(Boolean));
  for (const workload of only) {
    if (!(WORKLOADS as readonly string[]).includes(workload) && !(OPTIONAL as readonly string[]).includes(workload)) throw new Error(`--only: unknown workload ${workload}`);
  }
  const w6Calls = Math.floor(positive('w6-calls', values['w6-calls']));
  if (w6Calls < 20) throw new Error('--w6-calls must be at least 20 (the first and last ten are reported apart)');
  return {
    spec: SCALES[scale],
    duration: positive('duration', values.duration),
    rounds: Math.floor(positive('rounds', values.rounds)),
    connections: Math.floor(positive('connections', values.connections)),
    warmup: positive('warmup', values.warmup, 0),
    poolSize: Math.floor(positive('DB_POOL_SIZE', process.env['DB_POOL_SIZE'] ?? '10')),
    keep: values.keep,
    fresh: values.fresh,
    only,
    w6Calls,
    w8Calls: Math.floor(positive('w8-calls', values['w8-calls'])),
    seed: Math.floor(positive('seed', values.seed, 0)),
    db: values.db,
    profile: values.profile,
    json: values.json,
    adminUrl: process.env['BENCH_DATABASE_URL'] || DEFAULT_ADMIN_URL,
    serviceEnv: parseServiceEnv(values['service-env']),
    phase: values.phase === undefined ? undefined : positive('phase', values.phase),
    down: positive('down', values.down, 0),
    floodConnections: Math.floor(positive('flood-connections', values['flood-connections'])),
    lightConnections: Math.floor(positive('light-connections', values['light-connections'])),
    outageConnections: Math.floor(positive('outage-connections', values['outage-connections'])),
    pgCluster: values['pg-cluster'],
  };
}

/** `K=V,K=V` → environment entries (names like A_B1; a value may not contain a comma). */
function parseServiceEnv(text: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const part of (text ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(part);
    if (!match) throw new Error(`--service-env: expected NAME=VALUE, got ${part}`);
    env[match[1]!] = match[2]!;
  }
  return env;
}

/** The cluster the outage drill stopped, started again on Ctrl-C. */
let outageControl: ClusterControl | undefined;

function log(line: string): void {
  console.error(line);
}

interface Contender {
  target: 'service' | 'baseline';
  server: RunningServer;
  /** The autocannon requests for round `round` (fresh state per round, e.g. W5's unique keys). */
  requests: (round: number) => autocannon.Request[];
}

interface SequentialContender {
  target: 'service' | 'baseline';
  server: RunningServer;
  /** Unmeasured set-up for round `round`; returns the call to time (true when it succeeded). */
  prepare: (round: number) => Promise<(index: number) => Promise<boolean>>;
}

async function main(): Promise<void> {
  const options = parseOptions();
  const { spec } = options;
  if (!existsSync(join(ROOT, 'dist/main.js'))) throw new Error('dist/main.js is missing: run `npm run build` first');
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  if (loadBefore > 0.5) log(`Warning: the 1-minute load average is ${loadBefore.toFixed(2)} before the bench starts: other work competes for the CPU`);
  log(`Bench scale ${spec.name}: ${spec.scopes} scopes × ${spec.groupsPerScope} groups, ${spec.usersPerScope} users per scope`);
  const logDir = join(tmpdir(), 'igs-bench');
  mkdirSync(logDir, { recursive: true });
  const workloads = WORKLOADS.filter((workload) => options.only.has(workload));
  const drills = { fairness: options.only.has('FAIRNESS'), outage: options.only.has('OUTAGE') };
  if (drills.outage) {
    // Before anything else: which cluster it would stop, and that it serves the bench's database.
    const cluster = await resolveCluster(options.pgCluster);
    await checkClusterServes(options.adminUrl, cluster);
    outageControl = new ClusterControl(cluster);
    log(
      `Outage drill requested: it will STOP and START PostgreSQL cluster ${cluster.version}/${cluster.name} (port ${cluster.port}, ${cluster.dataDirectory}), ` +
        'which serves BENCH_DATABASE_URL (checked), three times after the rest of the bench.',
    );
  }

  const rows: Measurement[] = [];
  const notes: string[] = [];
  let machine = '';
  let apiLoaded: ApiLoadResult | undefined;
  let fairness: FairnessResult | undefined;
  let outage: OutageResult | undefined;
  let database: Awaited<ReturnType<typeof prepareDatabase>> | undefined;
  const profileDir = join(ROOT, 'bench/profiles', `${spec.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  try {
    if (workloads.length > 0 || drills.fairness || drills.outage) {
      database = await prepareDatabase({ adminUrl: options.adminUrl, spec, seed: options.seed, fresh: options.fresh, name: options.db, log });
      machine = await describeMachine(database.url);
    }
    if (database && workloads.length > 0) {
      await prepareReferenceSchema({ url: database.url, datasetMarker: database.marker, writePrefixes: BENCH_WRITE_PREFIXES, fresh: options.fresh || !database.reused, log });
      await runWorkloads(options, database.url, workloads, rows, notes, profileDir, logDir);
    }
    if (options.only.has('LOAD')) {
      await stopAll();
      log(`Loading scale ${spec.name} through the service's public API …`);
      apiLoaded = await apiLoad({
        adminUrl: options.adminUrl,
        spec,
        seed: options.seed,
        connections: options.connections,
        poolSize: options.poolSize,
        serviceMain: join(ROOT, 'dist/main.js'),
        logDir,
        keep: options.keep,
        log,
      });
      if (!machine) machine = await describeMachine(options.adminUrl);
    }
    if (database && drills.fairness) {
      await stopAll();
      log(`Fairness drill (scale ${spec.name}) …`);
      fairness = await fairnessDrill({
        databaseUrl: database.url,
        spec,
        seed: options.seed,
        phaseSeconds: options.phase ?? 10,
        rampSeconds: 2,
        floodConnections: options.floodConnections,
        lightConnections: options.lightConnections,
        poolSize: options.poolSize,
        serviceEnv: options.serviceEnv,
        serviceMain: join(ROOT, 'dist/main.js'),
        logDir,
        log,
      });
    }
    if (database && drills.outage && outageControl) {
      await stopAll();
      log(`Outage drill (scale ${spec.name}) …`);
      outage = await outageDrill({
        adminUrl: options.adminUrl,
        databaseUrl: database.url,
        spec,
        seed: options.seed,
        control: outageControl,
        phaseSeconds: options.phase ?? 5,
        downSeconds: options.down,
        connections: options.outageConnections,
        poolSize: options.poolSize,
        serviceEnv: options.serviceEnv,
        serviceMain: join(ROOT, 'dist/main.js'),
        logDir,
        log,
      });
    }
  } finally {
    await stopAll();
    await outageControl?.restore(log);
    if (database && !options.keep) {
      await dropDatabase(options.adminUrl, database.name);
      log(`Dropped ${database.name} (--keep keeps it for the next run)`);
    }
  }

  const total = (performance.now() - started) / 1000;
  const report: string[] = [''];
  if (database) {
    report.push(
      `Scale ${spec.name}: ${database.counts.groups.toLocaleString('en-US')} groups, ${database.counts.users.toLocaleString('en-US')} users, ` +
        `${database.counts.memberships.toLocaleString('en-US')} memberships in ${spec.scopes} scopes; dataset ` +
        (database.reused ? 'reused (kept from an earlier run)' : `loaded in ${(database.loadMs / 1000).toFixed(1)} s`),
    );
  }
  if (database && workloads.length > 0) {
    report.push(
      `Load: autocannon, ${options.connections} connections, ${options.rounds} round${options.rounds === 1 ? '' : 's'} of service + baseline back to back; ` +
        `each run ${options.duration} s after a warm-up of ${warmupRequests(options)} requests (10 × pool ${options.poolSize} per connection) + ${options.warmup} s; ` +
        `W6/W8 one call at a time. Pools: ${options.poolSize} connections on both sides. Client on the same machine.`,
    );
  }
  report.push(
    machine,
    `1-minute load average before the bench: ${loadBefore.toFixed(2)}` +
      (loadBefore > 0.5 ? ' — other processes were using the CPU: treat absolute numbers with care' : '') +
      ` (after: ${loadavg()[0]!.toFixed(2)}, the bench's own processes included)`,
  );
  if (rows.length > 0) {
    report.push('', formatTable(rows), '');
    const perRound = rows.filter((row) => row.roundRatios && row.roundRatios.length > 1);
    if (perRound.length > 0) {
      report.push(`svc/base per round (in round order): ${perRound.map((row) => `${row.workload} ${row.roundRatios!.map((ratio) => ratio.toFixed(2)).join('/')}`).join(', ')}`, '');
    }
    for (const row of rows.filter((r) => r.firstTen !== undefined)) {
      report.push(
        `${row.workload} ${row.target.padEnd(8)}: p50 ${row.p50.toFixed(1)} ms; median of the first 10 calls ${row.firstTen!.toFixed(1)} ms, of the last 10 ${row.lastTen!.toFixed(1)} ms ` +
          `(last ÷ first ${(row.lastTen! / row.firstTen!).toFixed(2)}) — the run of median throughput`,
      );
    }
    report.push(
      '',
      'W1  GET /groups/{key}: keys drawn (seeded) from 2,000 groups of every scope (members inline: first 1,000, usersCount, next link)',
      "W2  GET /groups/odata?$filter=contains(name,'alpha')&$orderby=name&$top=20&$count=true",
      `W3  GET /groups/odata?$filter=groupKey eq '${W3_GROUP_KEY}'&$expand=users   (a group of exactly 100 members)`,
      'W4  GET /groups/odata?$orderby=groupKey&$top=20   (the first page)',
      `W4a GET /groups/odata?$orderby=groupKey&$top=20&$skiptoken=<each side's own token after row ${spec.deepOffset}, from walking pages of 1,000>`,
      `W4b GET /groups/odata?$orderby=groupKey&$skip=${spec.deepOffset}&$top=20   (same rows as W4a, checked)`,
      'W5  POST /groups {groupKey, name, email}, a new key per request',
      `W6  POST /groups/{key}/users/add with ${W6_KEYS.toLocaleString('en-US')} userKeys, each call into a fresh empty group, ${options.w6Calls} calls per round one at a time`,
      'W7  GET /users/{key}/groups: a user\'s groups (OData page of 100, groupKey order), users drawn (seeded) from 2,000 of every scope',
      `W8  POST /groups/{key}/users/add with ${W8_KEYS.toLocaleString('en-US')} userKeys (scale M), ${options.w8Calls} calls per round one at a time after 6 unmeasured ones`,
      ...notes,
      '',
      'errors = non-2xx + socket errors. svc/base = service req/s ÷ baseline req/s (W6/W8: calls/s, i.e. baseline ÷ service mean latency),',
      "  the median of the rounds' ratios (each round measures both back to back, the order alternating), with their range in parentheses.",
      '"baseline" = bench/baseline-server.ts: the reference of what is possible (expert SQL on its own schema ref, node:http + pg), not a copy of the service.',
    );
  }
  if (apiLoaded) {
    const { counts, expected } = apiLoaded;
    const same = counts.groups === expected.groups && counts.users === expected.users && counts.memberships === expected.memberships;
    report.push(
      '',
      `API load (scale ${spec.name}, ${options.connections} connections, into ${apiLoaded.database}): ${apiLoaded.requests.toLocaleString('en-US')} requests in ${apiLoaded.seconds.toFixed(1)} s ` +
        `(users ${apiLoaded.usersSeconds.toFixed(1)} s, groups with members inline ${apiLoaded.groupsSeconds.toFixed(1)} s; ${(apiLoaded.requests / apiLoaded.seconds).toFixed(0)} req/s), ` +
        `${apiLoaded.errors} errors; target ≤ 20 s for S: ${apiLoaded.seconds <= 20 ? 'met' : 'missed'}`,
      `  counts: ${counts.users} users, ${counts.groups} groups, ${counts.memberships} memberships — ${same ? 'as generated' : `EXPECTED ${expected.users} / ${expected.groups} / ${expected.memberships}`}`,
    );
  }
  if (fairness) report.push('', fairness.report);
  if (outage) report.push('', outage.report);
  report.push(`Total bench time ${total.toFixed(0)} s.`);
  console.log(report.join('\n'));
  if (options.json) {
    writeFileSync(
      options.json,
      JSON.stringify(
        { scale: spec.name, options: { ...options, spec: undefined, only: [...options.only] }, database, machine, rows, apiLoad: apiLoaded, fairness: fairness?.summary, outage: outage?.summary },
        null,
        2,
      ),
    );
  }
  if (options.profile) console.log(`\n${summarizeProfiles(profileDir)}`);
  if (apiLoaded && apiLoaded.errors > 0) process.exitCode = 1;
}

/** Requests before each measured run: 10 × the pool size per connection (see LoadOptions.warmupRequests). */
function warmupRequests(options: Options): number {
  return 10 * options.poolSize * options.connections;
}

async function runWorkloads(
  options: Options,
  databaseUrl: string,
  workloads: readonly string[],
  rows: Measurement[],
  notes: string[],
  profileDir: string,
  logDir: string,
): Promise<void> {
  const { spec } = options;
  const scopes = scopesOf(spec);
  const tokens = new Map(scopes.map((scope) => [scope.tenantKey, signToken({ tenant: scope.tenantKey })]));
  const auth = (scope: BenchScope) => `Bearer ${tokens.get(scope.tenantKey)}`;
  const home = scopes[0]!;
  const homePath = `/api/${home.tenantKey}/${home.orgKey}/identity`;
  const runId = Date.now().toString(36);

  if (options.profile) mkdirSync(profileDir, { recursive: true });
  const env = { DATABASE_URL: databaseUrl, DB_POOL_SIZE: String(options.poolSize), NODE_ENV: 'production' };
  const service = await startServer({
    name: 'service',
    args: [...(options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), join(ROOT, 'dist/main.js')],
    env: { ...env, JWT_SECRET: BENCH_JWT_SECRET, LOG_LEVEL: 'warn', ...options.serviceEnv },
    readyPath: '/ready',
    logFile: join(logDir, 'service.log'),
  });
  log(`Service pid ${service.pid} on ${service.baseUrl} (log ${service.logFile})`);
  const baseline = options.profile
    ? undefined
    : await startServer({ name: 'baseline', args: ['--import', 'tsx', join(ROOT, 'bench/baseline-server.ts')], env, readyPath: '/ready', logFile: join(logDir, 'baseline.log') });
  if (baseline) log(`Baseline pid ${baseline.pid} on ${baseline.baseUrl}`);
  const servers: Array<{ target: 'service' | 'baseline'; server: RunningServer }> = [
    { target: 'service', server: service },
    ...(baseline ? [{ target: 'baseline' as const, server: baseline }] : []),
  ];

  const get = (path: string, scope: BenchScope = home, headers: Record<string, string> = {}): autocannon.Request => ({
    method: 'GET',
    path,
    headers: { authorization: auth(scope), ...headers },
  });
  const same = (path: string): Contender[] => servers.map(({ target, server }) => ({ target, server, requests: () => [get(path)] }));

  /**
   * Each target measured in `--rounds` rounds, the order reversed every other round, so a load
   * drifting on the machine hits both alike. Every run starts with an unmeasured warm-up of
   * 10 × pool size requests per connection: each statement reaches its generic plan on every pooled
   * connection of both servers before anything is recorded. A row is the target's run of median
   * req/s; the ratio is the median of the per-round ratios, with their range.
   */
  const compare = async (workload: string, description: string, contenders: Contender[]) => {
    const runs = contenders.map(() => [] as Measurement[]);
    for (let round = 0; round < options.rounds; round++) {
      const order = contenders.map((_, index) => index);
      if (round % 2 === 1) order.reverse();
      for (const index of order) {
        const { target, server, requests } = contenders[index]!;
        log(`  ${workload} ${target} (round ${round + 1}/${options.rounds}) …`);
        runs[index]!.push(
          await measure(
            { workload, description, target },
            { url: server.baseUrl, requests: requests(round), connections: options.connections, duration: options.duration, warmup: options.warmup, warmupRequests: warmupRequests(options) },
          ),
        );
      }
    }
    pushRuns(rows, runs);
  };

  /** W6/W8: calls one at a time, in rounds as above; no warm-up (the first calls are reported apart). */
  const compareSequential = async (workload: string, description: string, count: number, contenders: SequentialContender[]) => {
    const runs = contenders.map(() => [] as Measurement[]);
    for (let round = 0; round < options.rounds; round++) {
      const order = contenders.map((_, index) => index);
      if (round % 2 === 1) order.reverse();
      for (const index of order) {
        const { target, prepare } = contenders[index]!;
        log(`  ${workload} ${target} (round ${round + 1}/${options.rounds}, ${count} calls) …`);
        const call = await prepare(round);
        runs[index]!.push(await sequential({ workload, description, target, note: `${count} calls` }, count, call));
      }
    }
    pushRuns(rows, runs);
  };

  // W1: GET /groups/{key}, keys drawn (seeded) from a fixed sample of every scope's groups.
  if (workloads.includes('W1')) {
    const sample = await withClient(databaseUrl, (client) =>
      client.query<{ tenant_key: string; org_key: string; group_key: string }>(
        `SELECT tenant_key, org_key, group_key FROM groups WHERE created_by = 'bench-loader' ORDER BY md5(id::text) LIMIT 2000`,
      ),
    );
    const targets = sample.rows.map((row) => ({
      path: `/api/${row.tenant_key}/${row.org_key}/identity/groups/${encodeURIComponent(row.group_key)}`,
      authorization: auth({ tenantKey: row.tenant_key, orgKey: row.org_key }),
    }));
    const big = spec.special.find((special) => special.members > 1000)!.key;
    await verifySame('W1', servers, [
      get(`${homePath}/groups/${W3_GROUP_KEY}`),
      get(`${homePath}/groups/${big}`),
      ...targets.slice(0, 50).map((target) => ({ method: 'GET' as const, path: target.path, headers: { authorization: target.authorization } })),
    ]);
    const randomKeys = () => randomGets(targets, new Random(options.seed, 101));
    await compare('W1', 'GET /groups/{key}, random keys', servers.map(({ target, server }) => ({ target, server, requests: randomKeys })));
  }

  // W2: contains(name,'alpha') ordered by name, top 20, with the count.
  if (workloads.includes('W2')) {
    const path = `${homePath}/groups/odata?$filter=${encodeURIComponent("contains(name,'alpha')")}&$orderby=name&$top=20&$count=true`;
    await verifySame('W2', servers, [get(path)]);
    await compare('W2', 'odata contains(name) + orderby + $count', same(path));
  }

  // W3: one 100-member group by key with its users expanded.
  if (workloads.includes('W3')) {
    const path = `${homePath}/groups/odata?$filter=${encodeURIComponent(`groupKey eq '${W3_GROUP_KEY}'`)}&$expand=users`;
    await verifySame('W3', servers, [get(path)]);
    await compare('W3', 'odata groupKey eq + $expand=users', same(path));
  }

  // W4: the first page in key order, and a page deep in it by $skiptoken (keyset) and by $skip (offset).
  if (workloads.includes('W4')) {
    const depth = spec.deepOffset;
    const first = `${homePath}/groups/odata?$orderby=groupKey&$top=20`;
    const bySkip = `${homePath}/groups/odata?$orderby=groupKey&$skip=${depth}&$top=20`;
    // Each side's token is its own (opaque to the other): found by walking its own next links.
    const byToken = new Map<RunningServer, string>();
    for (const { server } of servers) {
      const token = await walkToSkipToken(server, homePath, auth(home), depth);
      byToken.set(server, `${homePath}/groups/odata?$orderby=groupKey&$top=20&$skiptoken=${encodeURIComponent(token)}`);
    }
    await verifySame('W4', servers, [get(first)]);
    const deepPages = await Promise.all(
      servers.flatMap(({ server }) => [fetchJson(server, get(byToken.get(server)!)), fetchJson(server, get(bySkip))]).map(async (body) => JSON.stringify(normalize(await body))),
    );
    if (new Set(deepPages).size !== 1) throw new Error('W4: the $skiptoken and $skip pages of the service and the baseline are not all the same rows');
    await compare('W4', 'first page ($orderby=groupKey&$top=20)', same(first));
    await compare(
      'W4a',
      `deep page by $skiptoken (row ${depth})`,
      servers.map(({ target, server }) => ({ target, server, requests: () => [get(byToken.get(server)!)] })),
    );
    await compare('W4b', `deep page by $skip=${depth}`, same(bySkip));
  }

  // W5: POST /groups, a unique key each time.
  if (workloads.includes('W5')) {
    const post = (target: string, round: number): autocannon.Request[] => {
      let n = 0;
      return [
        {
          method: 'POST',
          path: `${homePath}/groups`,
          headers: { authorization: auth(home), 'content-type': 'application/json' },
          setupRequest: (request) => {
            n++;
            return { ...request, body: JSON.stringify({ groupKey: `w5-${runId}-${target}-${round}-${n}`, name: `Bench group ${n}`, email: `w5-${n}@bench.example` }) };
          },
        },
      ];
    };
    for (const { target, server } of servers) {
      const response = await call(server, 'POST', `${homePath}/groups`, auth(home), { groupKey: `w5-${runId}-${target}-check`, name: 'Check' });
      if (response.status !== 201 || !/^"[0-9a-f-]{36}"$/.test(response.text) || response.location !== `${homePath}/groups/${JSON.parse(response.text)}`) {
        throw new Error(`W5: ${target} answered ${response.status} ${response.text.slice(0, 200)} (Location ${response.location})`);
      }
    }
    await compare('W5', 'POST /groups, unique keys', servers.map(({ target, server }) => ({ target, server, requests: (round) => post(target, round) })));
  }

  /**
   * users/add of `keys` userKeys into fresh empty groups, `count` measured calls a round after
   * `warmupCalls` unmeasured ones (W8: 6, so its few calls run on the generic plan; W6: none, its
   * first ten are reported apart); checked first.
   */
  const bulkAdd = async (workload: 'W6' | 'W8', keys: number, count: number, warmupCalls: number) => {
    const names = Array.from({ length: keys }, (_, index) => userKey(index));
    const body = JSON.stringify(names);
    const prefix = `${workload.toLowerCase()}-${runId}`;
    const createGroups = async (server: RunningServer, groupKeys: string[]) => {
      for (const key of groupKeys) {
        const response = await call(server, 'POST', `${homePath}/groups`, auth(home), { groupKey: key, name: `Bulk add target ${key}` });
        if (response.status !== 201) throw new Error(`${workload}: creating ${key} answered ${response.status}: ${response.text}`);
      }
    };
    // The same outcomes and members on both sides: add, add again (idempotent), an unknown key (400, nothing changed).
    const outcomes: string[] = [];
    for (const { target, server } of servers) {
      const key = `${prefix}-${target}-check`;
      await createGroups(server, [key]);
      const add = `${homePath}/groups/${key}/users/add`;
      const steps = [
        await call(server, 'POST', add, auth(home), names),
        await call(server, 'POST', add, auth(home), names),
        await call(server, 'POST', add, auth(home), [names[0], 'no-such-user-key']),
      ];
      const group = await fetchJson(server, get(`${homePath}/groups/${key}`));
      const members = (group.users as Array<{ id: string }>).map((user) => user.id);
      outcomes.push(JSON.stringify({ steps: steps.map((step) => [step.status, step.status === 200 ? step.text : '']), usersCount: group.usersCount, members, next: 'users@odata.nextLink' in group }));
    }
    const expected = JSON.stringify([200, `{"added":${keys},"unchanged":0}`]);
    if (!outcomes[0]!.includes(expected) || new Set(outcomes).size !== 1) throw new Error(`${workload}: the outcomes differ or are wrong:\n  ${outcomes.map((o) => o.slice(0, 300)).join('\n  ')}`);
    await compareSequential(
      workload,
      `users/add, ${keys.toLocaleString('en-US')} keys/call, fresh group`,
      count,
      servers.map(({ target, server }) => ({
        target,
        server,
        prepare: async (round) => {
          const groupKeys = Array.from({ length: warmupCalls + count }, (_, index) => `${prefix}-${target}-${round}-${index}`);
          await createGroups(server, groupKeys);
          const outcome = `{"added":${keys},"unchanged":0}`;
          const add = async (index: number) => {
            const response = await call(server, 'POST', `${homePath}/groups/${groupKeys[index]}/users/add`, auth(home), body, 120_000);
            return response.status === 200 && response.text === outcome;
          };
          for (let index = 0; index < warmupCalls; index++) await add(index);
          return (index) => add(warmupCalls + index);
        },
      })),
    );
  };

  // W7: GET /users/{key}/groups, users drawn (seeded) from a fixed sample of every scope's users.
  if (workloads.includes('W7')) {
    const sample = await withClient(databaseUrl, (client) =>
      client.query<{ tenant_key: string; org_key: string; user_key: string }>(`SELECT tenant_key, org_key, user_key FROM users ORDER BY md5(id::text) LIMIT 2000`),
    );
    const targets = sample.rows.map((row) => ({
      path: `/api/${row.tenant_key}/${row.org_key}/identity/users/${encodeURIComponent(row.user_key)}/groups`,
      authorization: auth({ tenantKey: row.tenant_key, orgKey: row.org_key }),
    }));
    await verifySame('W7', servers, targets.slice(0, 100).map((target) => ({ method: 'GET' as const, path: target.path, headers: { authorization: target.authorization } })));
    const randomUsers = () => randomGets(targets, new Random(options.seed, 107));
    await compare('W7', "GET /users/{key}/groups, random users", servers.map(({ target, server }) => ({ target, server, requests: randomUsers })));
  }

  // After W7: the groups W6 and W8 fill exist on one side each, and would show in W7's answers.
  if (workloads.includes('W6')) await bulkAdd('W6', W6_KEYS, options.w6Calls, 0);

  if (workloads.includes('W8')) {
    if (spec.usersPerScope < W8_KEYS) {
      const message = `W8 skipped at scale ${spec.name}: a scope has ${spec.usersPerScope.toLocaleString('en-US')} users, W8 adds ${W8_KEYS.toLocaleString('en-US')} (run --scale M)`;
      log(message);
      notes.push(message);
    } else {
      await bulkAdd('W8', W8_KEYS, options.w8Calls, 6);
    }
  }
}

/** The run of median req/s per target, with the service row carrying the per-round ratios. */
function pushRuns(rows: Measurement[], runs: Measurement[][]): void {
  const medians = runs.map(medianRun);
  if (runs.length > 1) {
    const ratios = runs[0]!.map((service, round) => service.rps / runs[1]![round]!.rps);
    Object.assign(medians[0]!, { ratio: median(ratios), ratioRange: [Math.min(...ratios), Math.max(...ratios)] as const, roundRatios: ratios });
  }
  rows.push(...medians);
}

/** One GET per request, each to a target drawn (seeded) from `targets`, with that target's token. */
function randomGets(targets: ReadonlyArray<{ path: string; authorization: string }>, random: Random): autocannon.Request[] {
  return [
    {
      method: 'GET',
      setupRequest: (request) => {
        const target = targets[random.int(targets.length)]!;
        return { ...request, path: target.path, headers: { authorization: target.authorization } };
      },
    },
  ];
}

/** Follows `@odata.nextLink` with `Prefer: odata.maxpagesize=1000` until `depth` rows are behind; returns that $skiptoken. */
async function walkToSkipToken(server: RunningServer, homePath: string, authorization: string, depth: number): Promise<string> {
  if (depth % 1000 !== 0) throw new Error('the W4 depth must be a multiple of 1000');
  let path = `${homePath}/groups/odata?$orderby=groupKey`;
  let token = '';
  for (let walked = 0; walked < depth; walked += 1000) {
    const response = await fetch(`${server.baseUrl}${path}`, { headers: { authorization, prefer: 'odata.maxpagesize=1000' } });
    const body = (await response.json()) as { value?: unknown[]; '@odata.nextLink'?: string };
    const next = body['@odata.nextLink'];
    if (response.status !== 200 || body.value?.length !== 1000 || !next) throw new Error(`W4: walking ${server.name}'s pages failed at row ${walked} (${response.status})`);
    path = next;
    token = new URL(next, server.baseUrl).searchParams.get('$skiptoken') ?? '';
  }
  return token;
}

async function call(
  server: RunningServer,
  method: string,
  path: string,
  authorization: string,
  body: unknown,
  timeoutMs = 30_000,
): Promise<{ status: number; text: string; location: string | null }> {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers: { authorization, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, text: await response.text(), location: response.headers.get('location') };
}

async function fetchJson(server: RunningServer, request: autocannon.Request): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.baseUrl}${request.path}`, { headers: request.headers as Record<string, string> });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${server.name} answered ${response.status} to ${request.path}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** A body with its next links reduced to "there is one": their $skiptoken is each side's own. */
function normalize(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([key, value]) => [key, key.endsWith('nextLink') ? true : value]));
}

/** Checks that every server answers every request with the same body (next links' tokens aside). */
async function verifySame(workload: string, servers: ReadonlyArray<{ target: string; server: RunningServer }>, requests: autocannon.Request[]): Promise<void> {
  if (servers.length < 2) return;
  for (const request of requests) {
    const bodies = await Promise.all(servers.map(async ({ server }) => JSON.stringify(normalize(await fetchJson(server, request)))));
    if (new Set(bodies).size !== 1) {
      throw new Error(`${workload}: the service and the baseline answer ${request.path} differently:\n  ${bodies.map((body) => body.slice(0, 400)).join('\n  ')}`);
    }
  }
  log(`  ${workload}: service and baseline answer the same (${requests.length} request${requests.length === 1 ? '' : 's'} checked)`);
}

async function describeMachine(url: string): Promise<string> {
  const cores = cpus();
  const postgres = await withClient(url, async (client) => {
    const { rows } = await client.query<{ version: string; shared_buffers: string; work_mem: string; jit: string }>(
      `SELECT split_part(version(), ' on ', 1) AS version, current_setting('shared_buffers') AS shared_buffers, current_setting('work_mem') AS work_mem, current_setting('jit') AS jit`,
    );
    return rows[0]!;
  });
  return (
    `Machine: ${cores.length} × ${cores[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; ` +
    `${postgres.version} (shared_buffers ${postgres.shared_buffers}, work_mem ${postgres.work_mem}, jit ${postgres.jit}) on the same machine`
  );
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  log('Interrupted: stopping the servers');
  void stopAll()
    .then(() => outageControl?.restore(log))
    .finally(() => process.exit(130));
});

main().catch(async (error: unknown) => {
  await stopAll();
  await outageControl?.restore(log);
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
