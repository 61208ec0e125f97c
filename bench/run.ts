/**
 * `npm run bench -- [--scale S|M] [--duration 10] [--connections 10] [--warmup 2] [--keep] [--fresh]
 *                   [--only W1,W4] [--w6-calls 5] [--seed 42] [--profile] [--json FILE]`
 *
 * Builds a dataset database (`igs_bench_<scale>`, schema from the service's migrations), starts the
 * service (`node dist/main.js`) and a hand-written baseline server on free ports, runs each workload
 * with autocannon for a fixed duration and connection count, and prints one table. See bench/README.md.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type autocannon from 'autocannon';
import { BenchScope, dropDatabase, prepareDatabase, SCALES, ScaleSpec, scopesOf, userKey, W3_GROUP_KEY, withClient } from './dataset.js';
import { formatTable, measure, Measurement, median, medianRun } from './load.js';
import { summarizeProfiles } from './profile-summary.js';
import { Random } from './random.js';
import { RunningServer, startServer, stopAll } from './servers.js';
import { BENCH_JWT_SECRET, signToken } from './tokens.js';

const ROOT = resolve(import.meta.dirname, '..');
const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6'] as const;

interface Options {
  spec: ScaleSpec;
  duration: number;
  rounds: number;
  connections: number;
  warmup: number;
  keep: boolean;
  fresh: boolean;
  only: Set<string>;
  w6Calls: number;
  seed: number;
  profile: boolean;
  json?: string;
  adminUrl: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: 'S' },
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      keep: { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      only: { type: 'string' },
      'w6-calls': { type: 'string', default: '10' },
      seed: { type: 'string', default: '42' },
      profile: { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      'npm run bench -- [--scale S|M] [--duration SECONDS] [--rounds N] [--connections N] [--warmup SECONDS] [--keep] [--fresh]\n' +
        '                 [--only W1,W2,…] [--w6-calls N] [--seed N] [--profile] [--json FILE]\n' +
        'BENCH_DATABASE_URL: admin connection (default postgres://postgres@127.0.0.1:5432/postgres)',
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
  for (const workload of only) if (!(WORKLOADS as readonly string[]).includes(workload)) throw new Error(`--only: unknown workload ${workload}`);
  return {
    spec: SCALES[scale],
    duration: positive('duration', values.duration),
    rounds: Math.floor(positive('rounds', values.rounds)),
    connections: Math.floor(positive('connections', values.connections)),
    warmup: positive('warmup', values.warmup, 0),
    keep: values.keep,
    fresh: values.fresh,
    only,
    w6Calls: Math.floor(positive('w6-calls', values['w6-calls'])),
    seed: Math.floor(positive('seed', values.seed, 0)),
    profile: values.profile,
    json: values.json,
    adminUrl: process.env['BENCH_DATABASE_URL'] || DEFAULT_ADMIN_URL,
  };
}

function log(line: string): void {
  console.error(line);
}

async function main(): Promise<void> {
  const options = parseOptions();
  const { spec } = options;
  if (!existsSync(join(ROOT, 'dist/main.js'))) throw new Error('dist/main.js is missing: run `npm run build` first');
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  if (loadBefore > 0.5) log(`Warning: the 1-minute load average is ${loadBefore.toFixed(2)} before the bench starts: other work competes for the CPU`);
  log(`Bench scale ${spec.name}: ${spec.scopes} scopes × ${spec.groupsPerScope} groups, ${spec.usersPerScope} users per scope`);

  const database = await prepareDatabase({ adminUrl: options.adminUrl, spec, seed: options.seed, fresh: options.fresh, log });
  const rows: Measurement[] = [];
  let machine = '';
  let keysetCost: { firstP50: number; deepP50: number } | undefined;
  const profileDir = join(ROOT, 'bench/profiles', `${spec.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  try {
    machine = await describeMachine(database.url);
    const scopes = scopesOf(spec);
    const tokens = new Map(scopes.map((scope) => [scope.tenantKey, signToken({ tenant: scope.tenantKey })]));
    const auth = (scope: BenchScope) => `Bearer ${tokens.get(scope.tenantKey)}`;
    const home = scopes[0]!;
    const homePath = `/api/${home.tenantKey}/${home.orgKey}/identity`;
    const needsBaseline = ['W1', 'W2', 'W3'].some((w) => options.only.has(w)) && !options.profile;

    // Servers.
    const logDir = join(tmpdir(), 'igs-bench');
    mkdirSync(logDir, { recursive: true });
    if (options.profile) mkdirSync(profileDir, { recursive: true });
    const service = await startServer({
      name: 'service',
      args: [...(options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), join(ROOT, 'dist/main.js')],
      env: { DATABASE_URL: database.url, JWT_SECRET: BENCH_JWT_SECRET, LOG_LEVEL: 'warn', NODE_ENV: 'production' },
      readyPath: '/ready',
      logFile: join(logDir, 'service.log'),
    });
    log(`Service pid ${service.pid} on ${service.baseUrl} (log ${service.logFile})`);
    const baseline = needsBaseline
      ? await startServer({
          name: 'baseline',
          args: ['--import', 'tsx', join(ROOT, 'bench/baseline-server.ts')],
          env: { DATABASE_URL: database.url, JWT_SECRET: BENCH_JWT_SECRET, DB_POOL_SIZE: '10', NODE_ENV: 'production' },
          readyPath: '/ready',
          logFile: join(logDir, 'baseline.log'),
        })
      : undefined;
    if (baseline) log(`Baseline pid ${baseline.pid} on ${baseline.baseUrl}`);

    const common = { connections: options.connections, duration: options.duration, warmup: options.warmup };
    const run = async (label: Parameters<typeof measure>[0], server: RunningServer, requests: autocannon.Request[], extra: Partial<Parameters<typeof measure>[1]> = {}) => {
      log(`  ${label.workload} ${label.target}${label.note ? ` (${label.note})` : ''} …`);
      const row = await measure(label, { url: server.baseUrl, requests, ...common, ...extra });
      rows.push(row);
      return row;
    };
    /**
     * W1–W3: the service and its baselines, measured in `--rounds` rounds, the order reversed every
     * other round, so that a load drifting on the machine hits both sides alike. Each row is the
     * target's run of median req/s; a ratio is the median of the per-round ratios, with their range.
     */
    const compare = async (workload: string, description: string, contenders: Array<{ target: string; server: RunningServer; requests: () => autocannon.Request[] }>) => {
      const runs = contenders.map(() => [] as Measurement[]);
      for (let round = 0; round < options.rounds; round++) {
        const order = contenders.map((_, index) => index);
        if (round % 2 === 1) order.reverse();
        for (const index of order) {
          const { target, server, requests } = contenders[index]!;
          log(`  ${workload} ${target} (round ${round + 1}/${options.rounds}) …`);
          runs[index]!.push(await measure({ workload, description, target }, { url: server.baseUrl, requests: requests(), ...common }));
        }
      }
      const medians = runs.map(medianRun);
      const ratioOver = (other: readonly Measurement[]) => {
        const ratios = runs[0]!.map((service, round) => service.rps / other[round]!.rps);
        return { ratio: median(ratios), ratioRange: [Math.min(...ratios), Math.max(...ratios)] as const };
      };
      if (runs.length > 1) Object.assign(medians[0]!, ratioOver(runs[1]!));
      for (let index = 2; index < runs.length; index++) Object.assign(medians[index]!, ratioOver(runs[index]!));
      rows.push(...medians);
    };
    const get = (path: string, scope: BenchScope = home, headers: Record<string, string> = {}): autocannon.Request => ({
      method: 'GET',
      path,
      headers: { authorization: auth(scope), ...headers },
    });

    /** The service, the baseline, and the baseline with the service's SQL predicates (`_sql=service`). */
    const contendersFor = (path: string) => [
      { target: 'service', server: service, requests: () => [get(path)] },
      ...(baseline
        ? [
            { target: 'baseline', server: baseline, requests: () => [get(path)] },
            { target: 'baseline, service SQL', server: baseline, requests: () => [get(`${path}&_sql=service`)] },
          ]
        : []),
    ];

    // W1: GET /groups/{key}, keys drawn (seeded) from a fixed sample of every scope's groups.
    if (options.only.has('W1')) {
      const sample = await withClient(database.url, (client) =>
        client.query<{ tenant_key: string; org_key: string; group_key: string }>(
          `SELECT tenant_key, org_key, group_key FROM groups WHERE created_by = 'bench-loader' ORDER BY md5(id::text) LIMIT 2000`,
        ),
      );
      const targets = sample.rows.map((row) => ({
        path: `/api/${row.tenant_key}/${row.org_key}/identity/groups/${encodeURIComponent(row.group_key)}`,
        authorization: auth({ tenantKey: row.tenant_key, orgKey: row.org_key }),
      }));
      const randomKeys = (): autocannon.Request[] => {
        const random = new Random(options.seed, 101);
        return [
          {
            method: 'GET',
            setupRequest: (request) => {
              const target = targets[random.int(targets.length)]!;
              return { ...request, path: target.path, headers: { authorization: target.authorization } };
            },
          },
        ];
      };
      await verifySame('W1', service, baseline, get(`${homePath}/groups/${W3_GROUP_KEY}`), (body) => ({
        id: body.id,
        usersCount: body.usersCount,
        users: (body.users as { id: string }[]).map((user) => user.id),
      }));
      await compare('W1', 'GET /groups/{key}, random keys', [
        { target: 'service', server: service, requests: randomKeys },
        ...(baseline ? [{ target: 'baseline', server: baseline, requests: randomKeys }] : []),
      ]);
    }

    // W2: contains(name,'alpha') ordered by name, top 20, with the count.
    if (options.only.has('W2')) {
      const query = `$filter=${encodeURIComponent("contains(name,'alpha')")}&$orderby=name&$top=20&$count=true`;
      const path = `${homePath}/groups/odata?${query}`;
      await verifySame('W2', service, baseline, get(path), (body) => ({
        count: body['@odata.count'],
        ids: (body.value as { id: string }[]).map((group) => group.id),
      }));
      await compare('W2', 'odata contains(name) + orderby + $count', contendersFor(path));
    }

    // W3: one ~100-member group by key with its users expanded.
    if (options.only.has('W3')) {
      const path = `${homePath}/groups/odata?$filter=${encodeURIComponent(`groupKey eq '${W3_GROUP_KEY}'`)}&$expand=users`;
      await verifySame('W3', service, baseline, get(path), (body) => {
        const groups = body.value as { id: string; users: { id: string }[] }[];
        return groups.map((group) => ({ id: group.id, users: group.users.map((user) => user.id) }));
      });
      await compare('W3', 'odata groupKey eq + $expand=users', contendersFor(path));
    }

    // W4: a page deep in the key order, by $skiptoken (keyset) and by $skip (offset).
    if (options.only.has('W4')) {
      const depth = spec.deepOffset;
      const token = await walkToSkipToken(service, homePath, auth(home), depth);
      const byToken = `${homePath}/groups/odata?$orderby=groupKey&$top=20&$skiptoken=${token}`;
      const bySkip = `${homePath}/groups/odata?$orderby=groupKey&$skip=${depth}&$top=20`;
      const [a, b] = await Promise.all([fetchJson(service, get(byToken)), fetchJson(service, get(bySkip))]);
      const ids = (body: Record<string, unknown>) => JSON.stringify((body.value as { id: string }[]).map((group) => group.id));
      if (ids(a) !== ids(b)) throw new Error('W4: the $skiptoken page and the $skip page differ');
      const first = await run({ workload: 'W4', description: 'first page ($orderby=groupKey&$top=20)', target: 'service' }, service, [
        get(`${homePath}/groups/odata?$orderby=groupKey&$top=20`),
      ]);
      const deep = await run({ workload: 'W4a', description: `deep page by $skiptoken (row ${depth})`, target: 'service' }, service, [get(byToken)]);
      await run({ workload: 'W4b', description: `deep page by $skip=${depth}`, target: 'service' }, service, [get(bySkip)]);
      keysetCost = { firstP50: first.p50, deepP50: deep.p50 };
    }

    const runId = Date.now().toString(36);

    // W5: POST /groups, a unique key each time.
    if (options.only.has('W5')) {
      let n = 0;
      await run({ workload: 'W5', description: 'POST /groups, unique keys', target: 'service' }, service, [
        {
          method: 'POST',
          path: `${homePath}/groups`,
          headers: { authorization: auth(home), 'content-type': 'application/json' },
          setupRequest: (request) => {
            n++;
            return { ...request, body: JSON.stringify({ groupKey: `w5-${runId}-${n}`, name: `Bench group ${n}`, email: `w5-${n}@bench.example` }) };
          },
        },
      ]);
    }

    // W6: add N userKeys to an empty group in one call; one call at a time, each to a fresh group.
    if (options.only.has('W6')) {
      const keys = spec.bulkAddKeys;
      const body = JSON.stringify(Array.from({ length: keys }, (_, index) => userKey(index)));
      const targets = Array.from({ length: options.w6Calls + 1 }, (_, index) => `w6-${runId}-${index}`);
      for (const key of targets) {
        const response = await fetch(`${service.baseUrl}${homePath}/groups`, {
          method: 'POST',
          headers: { authorization: auth(home), 'content-type': 'application/json' },
          body: JSON.stringify({ groupKey: key, name: `Bulk add target ${key}` }),
        });
        if (response.status !== 201) throw new Error(`W6: creating ${key} answered ${response.status}: ${await response.text()}`);
      }
      // One unmeasured call (warm-up) that also checks the outcome.
      const first = await fetch(`${service.baseUrl}${homePath}/groups/${targets[0]}/users/add`, {
        method: 'POST',
        headers: { authorization: auth(home), 'content-type': 'application/json' },
        body,
      });
      const outcome = (await first.json()) as { added?: number };
      if (first.status !== 200 || outcome.added !== keys) throw new Error(`W6: add answered ${first.status} ${JSON.stringify(outcome)}`);
      let next = 1;
      await run(
        {
          workload: 'W6',
          description: `users/add, ${keys.toLocaleString('en-US')} keys/call${keys < 10_000 ? ' (S: not 10k)' : ''}`,
          target: 'service',
          note: `${options.w6Calls} calls, 1 connection`,
        },
        service,
        [
          {
            method: 'POST',
            headers: { authorization: auth(home), 'content-type': 'application/json' },
            body,
            setupRequest: (request) => ({ ...request, path: `${homePath}/groups/${targets[Math.min(next++, targets.length - 1)]}/users/add` }),
          },
        ],
        { connections: 1, amount: options.w6Calls, warmup: 0, timeout: 120 },
      );
    }
  } finally {
    await stopAll();
    if (!options.keep) {
      await dropDatabase(options.adminUrl, database.name);
      log(`Dropped ${database.name} (--keep keeps it for the next run)`);
    }
  }

  const total = (performance.now() - started) / 1000;
  const report = [
    '',
    `Scale ${spec.name}: ${database.counts.groups.toLocaleString('en-US')} groups, ${database.counts.users.toLocaleString('en-US')} users, ` +
      `${database.counts.memberships.toLocaleString('en-US')} memberships in ${spec.scopes} scopes; dataset ` +
      (database.reused ? 'reused (kept from an earlier run)' : `loaded in ${(database.loadMs / 1000).toFixed(1)} s`),
    `Load: autocannon, ${options.duration} s per run after ${options.warmup} s warm-up, ${options.connections} connections (W6: 1), client on the same machine; ` +
      `W1–W3 in ${options.rounds} round${options.rounds === 1 ? '' : 's'} (rows: the median run)`,
    machine,
    `1-minute load average before the bench: ${loadBefore.toFixed(2)}` +
      (loadBefore > 0.5 ? ' — other processes were using the CPU: treat absolute numbers with care' : '') +
      ` (after: ${loadavg()[0]!.toFixed(2)}, the bench's own processes included)`,
    '',
    formatTable(rows),
    '',
    'W1  GET /groups/{key}: keys drawn (seeded) from 2,000 groups of every scope, token per tenant',
    "W2  GET /groups/odata?$filter=contains(name,'alpha')&$orderby=name&$top=20&$count=true",
    `W3  GET /groups/odata?$filter=groupKey eq '${W3_GROUP_KEY}'&$expand=users   (a group of exactly 100 members)`,
    'W4  GET /groups/odata?$orderby=groupKey&$top=20   (the first page, for comparison)',
    `W4a GET /groups/odata?$orderby=groupKey&$top=20&$skiptoken=<token after row ${spec.deepOffset}, from walking pages of 1,000>`,
    `W4b GET /groups/odata?$orderby=groupKey&$skip=${spec.deepOffset}&$top=20   (same rows as W4a, checked)`,
    'W5  POST /groups {groupKey, name, email}, a new key per request',
    `W6  POST /groups/{key}/users/add with ${spec.bulkAddKeys.toLocaleString('en-US')} userKeys into an empty group, ${options.w6Calls} calls one at a time: p50/p99 = time per call` +
      (spec.bulkAddKeys < 10_000 ? ` (scale S has ${spec.usersPerScope.toLocaleString('en-US')} users per scope; run --scale M for 10,000)` : ''),
    ...(keysetCost
      ? [`W4a p50 ÷ first page p50 = ${(keysetCost.deepP50 / keysetCost.firstP50).toFixed(2)} (the issue's goal: at most 2)`]
      : []),
    '',
    'errors = non-2xx + socket errors. svc/base = service req/s ÷ baseline req/s (on a "baseline, service SQL" row: ÷ that row),',
    '  the median of the rounds\' ratios (each round measures both sides back to back), with their range in parentheses.',
    '"baseline" = bench/baseline-server.ts (node:http + pg, one hand-written statement per request, index-friendly predicates);',
    '"baseline, service SQL" = the same server using exactly the predicates the service generates.',
    `Total bench time ${total.toFixed(0)} s.`,
  ].join('\n');
  console.log(report);
  if (options.json) writeFileSync(options.json, JSON.stringify({ scale: spec.name, options: { ...options, spec: undefined, only: [...options.only] }, database, machine, rows }, null, 2));
  if (options.profile) console.log(`\n${summarizeProfiles(profileDir)}`);
}

/** Follows `@odata.nextLink` with `Prefer: odata.maxpagesize=1000` until `depth` rows are behind; returns that $skiptoken. */
async function walkToSkipToken(service: RunningServer, homePath: string, authorization: string, depth: number): Promise<string> {
  if (depth % 1000 !== 0) throw new Error('the W4 depth must be a multiple of 1000');
  let path = `${homePath}/groups/odata?$orderby=groupKey&$select=groupKey`;
  let token = '';
  for (let walked = 0; walked < depth; walked += 1000) {
    const response = await fetch(`${service.baseUrl}${path}`, { headers: { authorization, prefer: 'odata.maxpagesize=1000' } });
    const body = (await response.json()) as { value?: unknown[]; '@odata.nextLink'?: string };
    const next = body['@odata.nextLink'];
    if (response.status !== 200 || body.value?.length !== 1000 || !next) throw new Error(`W4: walking the pages failed at row ${walked} (${response.status})`);
    path = next;
    token = new URL(next, service.baseUrl).searchParams.get('$skiptoken') ?? '';
  }
  return token;
}

async function fetchJson(server: RunningServer, request: autocannon.Request): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.baseUrl}${request.path}`, { headers: request.headers as Record<string, string> });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${server.name} answered ${response.status} to ${request.path}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Checks that the service and the baseline give the same answer (the parts `pick` selects). */
async function verifySame(
  workload: string,
  service: RunningServer,
  baseline: RunningServer | undefined,
  request: autocannon.Request,
  pick: (body: Record<string, unknown>) => unknown,
): Promise<void> {
  const fromService = JSON.stringify(pick(await fetchJson(service, request)));
  if (!baseline) return;
  for (const suffix of request.path!.includes('?') ? ['', '&_sql=service'] : ['']) {
    const fromBaseline = JSON.stringify(pick(await fetchJson(baseline, { ...request, path: `${request.path}${suffix}` })));
    if (fromService !== fromBaseline) {
      throw new Error(`${workload}: the service and the baseline${suffix} answer differently:\n  ${fromService.slice(0, 300)}\n  ${fromBaseline.slice(0, 300)}`);
    }
  }
}

async function describeMachine(url: string): Promise<string> {
  const cores = cpus();
  const postgres = await withClient(url, async (client) => {
    const { rows } = await client.query<{ version: string; shared_buffers: string; work_mem: string }>(
      `SELECT split_part(version(), ' on ', 1) AS version, current_setting('shared_buffers') AS shared_buffers, current_setting('work_mem') AS work_mem`,
    );
    return rows[0]!;
  });
  return (
    `Machine: ${cores.length} × ${cores[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; ` +
    `${postgres.version} (shared_buffers ${postgres.shared_buffers}, work_mem ${postgres.work_mem}) on the same machine`
  );
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  log('Interrupted: stopping the servers');
  void stopAll().finally(() => process.exit(130));
});

main().catch(async (error: unknown) => {
  await stopAll();
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
