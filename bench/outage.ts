import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { BenchScope, scopesOf, userKey, withClient } from './dataset.js';
import { call, drillAgent, DrillOutcome, DrillRequest, DrillResult, DrillServiceOptions, OutcomeStats, startDrillService, sleep, textTable } from './drill-http.js';
import { envNote } from './fairness.js';
import { Random } from './random.js';
import { RunningServer, ServerExit } from './servers.js';
import { signToken } from './tokens.js';

/**
 * The outage drill (`npm run bench -- --only outage --pg-cluster 15/drill`): the service runs on a
 * local PostgreSQL cluster that the drill STOPS AND STARTS under mixed load (reads by key and OData
 * pages; writes: POST /groups with unique keys, PATCH, users/add — every acknowledged one recorded),
 * in three scenarios: `stop -m fast` (held down), `stop -m immediate` (held down), `restart`.
 * Issue 16's targets: the process survives every scenario; 0 responses 500, every failure a 503 with
 * `Retry-After`; 0 acknowledged writes lost; 200s again within 5 s of the database returning; the
 * outage logged once per transition, not a stack per request.
 *
 * It only ever stops the cluster it is named (`--pg-cluster V/NAME`, default the one `main` under
 * /etc/postgresql), and refuses to run unless BENCH_DATABASE_URL is served by that very cluster.
 */
export interface PgCluster {
  readonly version: string;
  readonly name: string;
  readonly port: number;
  readonly status: string;
  readonly dataDirectory: string;
}

const run = promisify(execFile);

/** The cluster `V/NAME` (or the default: the only `main` under /etc/postgresql), as pg_lsclusters lists it. */
export async function resolveCluster(spec: string | undefined): Promise<PgCluster> {
  let version: string;
  let name: string;
  if (spec) {
    const match = /^(\d+(?:\.\d+)?)\/([A-Za-z0-9_.-]+)$/.exec(spec);
    if (!match) throw new Error(`--pg-cluster ${spec}: expected <version>/<name>, e.g. 15/main`);
    [version, name] = [match[1]!, match[2]!];
  } else {
    const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql').filter((v) => existsSync(join('/etc/postgresql', v, 'main'))) : [];
    if (versions.length !== 1) {
      throw new Error(`outage drill: ${versions.length === 0 ? 'no cluster main under /etc/postgresql' : `clusters main of versions ${versions.join(', ')}`}: name one with --pg-cluster <version>/<name>`);
    }
    [version, name] = [versions[0]!, 'main'];
  }
  const listed = await lsclusters();
  const cluster = listed.find((c) => c.version === version && c.name === name);
  if (!cluster) throw new Error(`outage drill: pg_lsclusters lists no cluster ${version}/${name} (it lists ${listed.map((c) => `${c.version}/${c.name}`).join(', ') || 'none'})`);
  return cluster;
}

async function lsclusters(): Promise<PgCluster[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('pg_lsclusters', ['--no-header']));
  } catch (error) {
    throw new Error(`outage drill: pg_lsclusters failed (the drill needs the postgresql-common tools): ${(error as Error).message}`);
  }
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cells) => cells.length >= 6)
    .map(([version, name, port, status, , dataDirectory]) => ({ version: version!, name: name!, port: Number(port), status: status!, dataDirectory: dataDirectory! }));
}

/**
 * Refuses unless `adminUrl` is a local connection to `cluster` itself (same data directory and
 * port, asked from the server): the drill must stop only the cluster it serves the dataset from.
 */
export async function checkClusterServes(adminUrl: string, cluster: PgCluster): Promise<void> {
  const url = new URL(adminUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const socketHost = url.searchParams.get('host');
  const local = ['127.0.0.1', 'localhost', '::1', ''].includes(host) || (socketHost?.startsWith('/') ?? false);
  if (!local) throw new Error(`outage drill refused: BENCH_DATABASE_URL names host ${host}; the drill stops a local cluster, so its database must be that cluster's (127.0.0.1:${cluster.port})`);
  if (!cluster.status.startsWith('online')) throw new Error(`outage drill refused: cluster ${cluster.version}/${cluster.name} is ${cluster.status}; start it first`);
  const served = await withClient(adminUrl, async (client) => {
    client.on('error', () => undefined);
    const { rows } = await client.query<{ dir: string; port: string }>(`SELECT current_setting('data_directory') AS dir, current_setting('port') AS port`);
    return rows[0]!;
  });
  const same = (a: string, b: string) => {
    try {
      return realpathSync(a) === realpathSync(b);
    } catch {
      return a === b;
    }
  };
  if (!same(served.dir, cluster.dataDirectory) || Number(served.port) !== cluster.port) {
    throw new Error(
      `outage drill refused: BENCH_DATABASE_URL (${redact(adminUrl)}) is served from ${served.dir} on port ${served.port}, ` +
        `not by cluster ${cluster.version}/${cluster.name} (${cluster.dataDirectory}, port ${cluster.port}), the one it would stop. ` +
        `Point BENCH_DATABASE_URL at that cluster, or name the cluster that serves it with --pg-cluster.`,
    );
  }
}

/** Stops/starts clusters through pg_ctlcluster, and starts again any cluster it stopped (on error or Ctrl-C too). */
export class ClusterControl {
  private stopped = false;
  constructor(readonly cluster: PgCluster) {}

  async ctl(action: 'stop' | 'start' | 'restart', mode?: 'fast' | 'immediate'): Promise<void> {
    const args = ['--skip-systemctl-redirect', this.cluster.version, this.cluster.name, action, ...(mode ? ['-m', mode] : [])];
    if (action !== 'start') this.stopped = true;
    try {
      await run('pg_ctlcluster', args, { timeout: 120_000 });
    } catch (error) {
      const { stderr } = error as { stderr?: string };
      throw new Error(`pg_ctlcluster ${args.join(' ')} failed: ${stderr?.trim() || (error as Error).message}`);
    }
    if (action !== 'stop') this.stopped = false;
  }

  /** Starts the cluster again if this drill stopped it and it is not online. Never throws. */
  async restore(log: (line: string) => void): Promise<void> {
    if (!this.stopped) return;
    try {
      const listed = (await lsclusters()).find((c) => c.version === this.cluster.version && c.name === this.cluster.name);
      if (listed && !listed.status.startsWith('online')) {
        log(`Starting cluster ${this.cluster.version}/${this.cluster.name} again (the drill stopped it)`);
        await this.ctl('start');
      }
      this.stopped = false;
    } catch (error) {
      log(`Could not start cluster ${this.cluster.version}/${this.cluster.name} again: ${(error as Error).message} — start it by hand: pg_ctlcluster ${this.cluster.version} ${this.cluster.name} start`);
    }
  }
}

export interface OutageOptions extends DrillServiceOptions {
  readonly adminUrl: string;
  readonly control: ClusterControl;
  /** Seconds of load before each outage, and at least after it. */
  readonly phaseSeconds: number;
  /** Seconds the database stays down in the stop scenarios. */
  readonly downSeconds: number;
  readonly connections: number;
}

export type OutageResult = DrillResult;

type Phase = 'before' | 'down' | 'after';
const PHASES: readonly Phase[] = ['before', 'down', 'after'];
type Op = 'get' | 'odata' | 'post' | 'patch' | 'add';

interface Scenario {
  readonly label: string;
  readonly action: 'stop' | 'restart';
  readonly mode?: 'fast' | 'immediate';
}

const SCENARIOS: readonly Scenario[] = [
  { label: 'stop -m fast', action: 'stop', mode: 'fast' },
  { label: 'stop -m immediate', action: 'stop', mode: 'immediate' },
  { label: 'restart', action: 'restart' },
];

/** What happened in one scenario. */
interface ScenarioResult {
  readonly scenario: Scenario;
  readonly stats: Map<Phase, OutcomeStats>;
  readonly ready: Map<Phase, Map<string, number>>;
  readonly startedAt: number;
  stopAt: number;
  /** When the stop (or restart) command returned. */
  stopDoneAt: number;
  readyAt: number;
  endedAt: number;
  first2xxAfterReadyMs?: number;
  /** Set when the service process exited during the scenario. */
  exit?: ServerExit & { phase: Phase };
  /** The drill started a new service process after this scenario (the old one had died). */
  restartedService?: boolean;
  logFiles: string[];
}

export async function outageDrill(options: OutageOptions): Promise<OutageResult> {
  const { spec, log, control } = options;
  const { cluster } = control;
  const scopes = scopesOf(spec).slice(0, 2);
  const home = scopes[0]!;
  const pathOf = (scope: BenchScope) => `/api/${scope.tenantKey}/${scope.orgKey}/identity`;
  const tokens = new Map(scopes.map((scope) => [scope.tenantKey, `Bearer ${signToken({ tenant: scope.tenantKey, sub: 'bench-outage-drill' })}`]));
  const authOf = (scope: BenchScope) => tokens.get(scope.tenantKey)!;
  const runId = Date.now().toString(36);
  const prefix = `drill-${runId}-`;
  const sample = await withClient(options.databaseUrl, (client) =>
    client.query<{ tenant_key: string; org_key: string; group_key: string }>(
      `SELECT tenant_key, org_key, group_key FROM groups WHERE created_by = 'bench-loader' AND (tenant_key, org_key) IN (${scopes.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ')}) ORDER BY md5(id::text) LIMIT 500`,
      scopes.flatMap((scope) => [scope.tenantKey, scope.orgKey]),
    ),
  );
  const readTargets = sample.rows.map((row) => ({ path: `${pathOf({ tenantKey: row.tenant_key, orgKey: row.org_key })}/groups/${encodeURIComponent(row.group_key)}`, scope: { tenantKey: row.tenant_key, orgKey: row.org_key } }));

  // What the clients were told: every acknowledged write, and every attempt (to spot writes that
  // committed although their answer said they failed).
  const acknowledged = { created: new Set<string>(), patched: new Map<string, number>(), added: new Set<string>() };
  const attempted = { created: new Map<string, string>(), patchedUpTo: new Map<string, number>(), patchAnswers: new Map<string, string>() };
  const opCounts = new Map<Op, OutcomeStats>((['get', 'odata', 'post', 'patch', 'add'] as const).map((op) => [op, new OutcomeStats()]));

  log(
    `  OUTAGE DRILL: this STOPS and STARTS PostgreSQL cluster ${cluster.version}/${cluster.name} (port ${cluster.port}, data ${cluster.dataDirectory}) ` +
      `${SCENARIOS.length} times: ${SCENARIOS.map((s) => s.label).join(', ')}; every session on it is cut each time.`,
  );
  const others = await withClient(options.adminUrl, async (client) => {
    client.on('error', () => undefined);
    const { rows } = await client.query<{ datname: string; n: string }>(
      `SELECT datname, count(*) AS n FROM pg_stat_activity WHERE datname IS NOT NULL AND datname <> $1 AND pid <> pg_backend_pid() GROUP BY datname ORDER BY datname`,
      [new URL(options.databaseUrl).pathname.slice(1)],
    );
    return rows;
  });
  if (others.length > 0) {
    log(`  WARNING: other sessions are connected to this cluster and will be cut: ${others.map((row) => `${row.datname} (${row.n})`).join(', ')}. Starting in 5 s (Ctrl-C aborts) …`);
    await sleep(5000);
  }

  let starts = 0;
  const start = async () => {
    starts++;
    return startDrillService(options, 'service (outage)', `service-outage-${starts}.log`);
  };
  let service: RunningServer = await start();
  log(`  service pid ${service.pid} on ${service.baseUrl} (log ${service.logFile})${envNote(options.serviceEnv)}`);
  const agent = drillAgent(options.connections);
  // The readiness probe on its own connection (not waiting for one of the load's).
  const probeAgent = drillAgent(1);
  const results: ScenarioResult[] = [];
  try {
    for (const [index, scenario] of SCENARIOS.entries()) {
      const result = await runScenario(index, scenario);
      results.push(result);
      if (service.exitStatus()) {
        await sleep(500);
        service = await start();
        result.restartedService = true;
        log(`  the service had died; the drill started a new one (pid ${service.pid}, log ${service.logFile}) for the next scenario`);
      }
    }
  } finally {
    agent.destroy();
    probeAgent.destroy();
    await service.stop();
    await control.restore(log);
  }

  // Every acknowledged write must be in the database; attempts that failed but committed are counted too.
  const found = await withClient(options.databaseUrl, async (client) => {
    const groups = await client.query<{ group_key: string; name: string }>(`SELECT group_key, name FROM groups WHERE tenant_key = $1 AND org_key = $2 AND group_key LIKE $3`, [
      home.tenantKey,
      home.orgKey,
      `${prefix}%`,
    ]);
    const members = await client.query<{ group_key: string; user_key: string }>(
      `SELECT g.group_key, u.user_key FROM memberships m
         JOIN groups g ON g.tenant_key = m.tenant_key AND g.org_key = m.org_key AND g.id = m.group_id
         JOIN users u ON u.tenant_key = m.tenant_key AND u.org_key = m.org_key AND u.id = m.user_id
        WHERE m.tenant_key = $1 AND m.org_key = $2 AND g.group_key LIKE $3`,
      [home.tenantKey, home.orgKey, `${prefix}%`],
    );
    // Leave the dataset as it was (a kept database is also cleaned of `drill-` groups when reused).
    await client.query(`DELETE FROM groups WHERE tenant_key = $1 AND org_key = $2 AND group_key LIKE $3`, [home.tenantKey, home.orgKey, `${prefix}%`]);
    return { groups: new Map(groups.rows.map((row) => [row.group_key, row.name])), members: new Set(members.rows.map((row) => `${row.group_key} ${row.user_key}`)) };
  });
  const lostCreates = [...acknowledged.created].filter((key) => !found.groups.has(key));
  const lostPatches = [...acknowledged.patched].filter(([key, version]) => versionOf(found.groups.get(key)) < version).map(([key]) => key);
  const lostAdds = [...acknowledged.added].filter((pair) => !found.members.has(pair));
  const committedUnacknowledged = new Map<string, number>();
  /** `key (answer)` of those writes: the key names the scenario (`drill-<run>-<scenario index>-<worker>-<n>`). */
  const committedUnacknowledgedKeys: string[] = [];
  for (const [key, answer] of attempted.created) {
    if (!acknowledged.created.has(key) && found.groups.has(key)) {
      committedUnacknowledged.set(answer, (committedUnacknowledged.get(answer) ?? 0) + 1);
      committedUnacknowledgedKeys.push(`${key} (POST ${answer})`);
    }
  }
  // A group whose name is a PATCH newer than its last acknowledged one: that PATCH committed although its answer said it failed.
  const patchedUnacknowledged = new Map<string, number>();
  for (const key of attempted.patchedUpTo.keys()) {
    const version = versionOf(found.groups.get(key));
    if (version > (acknowledged.patched.get(key) ?? 0)) {
      const answer = attempted.patchAnswers.get(`${key} ${version}`) ?? '?';
      patchedUnacknowledged.set(answer, (patchedUnacknowledged.get(answer) ?? 0) + 1);
      committedUnacknowledgedKeys.push(`${key} (PATCH v${version} ${answer})`);
    }
  }

  const logs = results.map((result) => readLogs(result));
  return report();

  // ---- one scenario ------------------------------------------------------------------------------

  async function runScenario(index: number, scenario: Scenario): Promise<ScenarioResult> {
    const result: ScenarioResult = {
      scenario,
      stats: new Map(PHASES.map((phase) => [phase, new OutcomeStats()])),
      ready: new Map(PHASES.map((phase) => [phase, new Map<string, number>()])),
      startedAt: Date.now(),
      stopAt: 0,
      stopDoneAt: 0,
      readyAt: 0,
      endedAt: 0,
      logFiles: [service.logFile],
    };
    let phase: Phase = 'before';
    let running = true;
    const random = new Random(options.seed, 301, index);
    const own: string[][] = Array.from({ length: options.connections }, () => []);
    const versions = new Map<string, number>();
    let created = 0;
    const meta = new WeakMap<DrillRequest, { op: Op; phase: Phase; key?: string; version?: number; member?: string }>();

    const next = (worker: number): DrillRequest => {
      const roll = random.next();
      const mine = own[worker]!;
      let op: Op = roll < 0.4 ? 'get' : roll < 0.65 ? 'odata' : roll < 0.85 ? 'post' : roll < 0.95 ? 'patch' : 'add';
      if ((op === 'patch' || op === 'add') && mine.length === 0) op = 'post';
      let request: DrillRequest;
      const tag: { op: Op; phase: Phase; key?: string; version?: number; member?: string } = { op, phase };
      const homeHeaders = { authorization: authOf(home) };
      if (op === 'get') {
        const target = readTargets[random.int(readTargets.length)]!;
        request = { method: 'GET', path: target.path, headers: { authorization: authOf(target.scope) } };
      } else if (op === 'odata') {
        const word = ['Alpha', 'Bravo', 'Delta', 'Echo', 'Kilo', 'Lima'][random.int(6)]!;
        request = { method: 'GET', path: `${pathOf(home)}/groups/odata?$filter=${encodeURIComponent(`startswith(name,'${word}')`)}&$orderby=name&$top=20`, headers: homeHeaders };
      } else if (op === 'post') {
        const key = `${prefix}${index}-${worker}-${++created}`;
        tag.key = key;
        attempted.created.set(key, 'pending');
        request = { method: 'POST', path: `${pathOf(home)}/groups`, headers: homeHeaders, body: JSON.stringify({ groupKey: key, name: `Drill group ${key} v0` }) };
      } else if (op === 'patch') {
        // Each worker patches only its own groups: one at a time, so versions are ordered.
        const key = mine[random.int(mine.length)]!;
        const version = (versions.get(key) ?? 0) + 1;
        versions.set(key, version);
        Object.assign(tag, { key, version });
        attempted.patchedUpTo.set(key, version);
        request = { method: 'PATCH', path: `${pathOf(home)}/groups/${encodeURIComponent(key)}`, headers: homeHeaders, body: JSON.stringify({ name: `Drill group ${key} v${version}` }) };
      } else {
        const key = mine[random.int(mine.length)]!;
        const member = userKey(random.int(spec.usersPerScope));
        Object.assign(tag, { key, member });
        request = { method: 'POST', path: `${pathOf(home)}/groups/${encodeURIComponent(key)}/users/add`, headers: homeHeaders, body: JSON.stringify([member]) };
      }
      meta.set(request, tag);
      return request;
    };

    const record = (worker: number, request: DrillRequest, outcome: DrillOutcome) => {
      const tag = meta.get(request)!;
      result.stats.get(tag.phase)!.add(outcome);
      opCounts.get(tag.op)!.add(outcome);
      if (phase === 'after' && tag.phase === 'after' && outcome.status >= 200 && outcome.status < 300 && result.first2xxAfterReadyMs === undefined) {
        result.first2xxAfterReadyMs = outcome.endedAt - result.readyAt;
      }
      const answer = outcome.status === 0 ? (outcome.error ?? 'error') : String(outcome.status);
      if (tag.op === 'post') {
        attempted.created.set(tag.key!, answer);
        if (outcome.status === 201) {
          acknowledged.created.add(tag.key!);
          own[worker]!.push(tag.key!);
        }
      } else if (tag.op === 'patch') {
        attempted.patchAnswers.set(`${tag.key} ${tag.version}`, answer);
        if (outcome.status === 200) acknowledged.patched.set(tag.key!, Math.max(acknowledged.patched.get(tag.key!) ?? 0, tag.version!));
      } else if (tag.op === 'add' && outcome.status === 200) {
        acknowledged.added.add(`${tag.key} ${tag.member}`);
      }
    };

    const worker = async (index: number) => {
      while (running) {
        const request = next(index);
        const outcome = await call(agent, service.baseUrl, request, 10_000);
        record(index, request, outcome);
        // At most ~50 requests/s per connection (a client's pace, not a busy loop on fast errors).
        const pause = outcome.status === 0 ? 100 : 20 - outcome.ms;
        if (pause > 0 && running) await sleep(pause);
      }
    };
    const readyPoller = async () => {
      while (running) {
        const outcome = await call(probeAgent, service.baseUrl, { method: 'GET', path: '/ready', headers: {} }, 3000);
        const key = outcome.status === 0 ? (outcome.error ?? 'error') : String(outcome.status);
        const counts = result.ready.get(phase)!;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        await sleep(250);
      }
    };
    const exitWatch = setInterval(() => {
      const exit = service.exitStatus();
      if (exit && !result.exit) {
        result.exit = { ...exit, phase };
        log(`    the service process EXITED (${exit.code !== null ? `code ${exit.code}` : `signal ${exit.signal}`}) in phase ${phase}`);
      }
    }, 50);

    log(`  scenario ${index + 1}/${SCENARIOS.length}: ${scenario.label} — ${options.phaseSeconds} s of mixed load at ${options.connections} connections first …`);
    const load = Promise.all([...Array.from({ length: options.connections }, (_, i) => worker(i)), readyPoller()]);
    try {
      await sleep(options.phaseSeconds * 1000);
      phase = 'down';
      result.stopAt = Date.now();
      if (scenario.action === 'stop') {
        log(`    pg_ctlcluster ${cluster.version} ${cluster.name} stop -m ${scenario.mode}; down for ${options.downSeconds} s …`);
        await control.ctl('stop', scenario.mode);
        result.stopDoneAt = Date.now();
        await sleep(options.downSeconds * 1000);
        log(`    pg_ctlcluster ${cluster.version} ${cluster.name} start …`);
        const started = control.ctl('start');
        result.readyAt = await waitAccepting(options.databaseUrl, 120_000);
        await started;
      } else {
        log(`    pg_ctlcluster ${cluster.version} ${cluster.name} restart …`);
        await control.ctl('restart');
        result.stopDoneAt = Date.now();
        result.readyAt = await waitAccepting(options.databaseUrl, 120_000);
      }
      phase = 'after';
      log(`    database accepting connections again after ${((result.readyAt - result.stopAt) / 1000).toFixed(1)} s; ${options.phaseSeconds} s of load after …`);
      const deadline = result.readyAt + Math.max(options.phaseSeconds, 30) * 1000;
      while (Date.now() < result.readyAt + options.phaseSeconds * 1000 || (result.first2xxAfterReadyMs === undefined && !service.exitStatus() && Date.now() < deadline)) {
        await sleep(100);
      }
    } finally {
      running = false;
      await load;
      clearInterval(exitWatch);
      result.endedAt = Date.now();
    }
    const exit = service.exitStatus();
    if (exit && !result.exit) result.exit = { ...exit, phase };
    return result;
  }

  // ---- report ------------------------------------------------------------------------------------

  function report(): OutageResult {
    const rows: string[][] = [];
    for (const [index, result] of results.entries()) {
      for (const phase of PHASES) {
        const stats = result.stats.get(phase)!;
        const seconds = phase === 'before' ? (result.stopAt - result.startedAt) / 1000 : phase === 'down' ? (result.readyAt - result.stopAt) / 1000 : (result.endedAt - result.readyAt) / 1000;
        const s503 = stats.countStatus(503);
        const s503NoRetry = stats.withoutRetryAfter.get('503') ?? 0;
        const log = logs[index]!.byPhase.get(phase)!;
        rows.push([
          phase === 'before' ? `${index + 1} ${result.scenario.label}` : '',
          phase,
          seconds.toFixed(1),
          String(stats.count),
          String(stats.count2xx()),
          String(sumMatching(stats.statuses, /^4\d\d$/)),
          String(stats.countStatus(500)),
          s503 === 0 ? '0' : `${s503} (${s503 - s503NoRetry} RA)`,
          String(stats.count5xx() - stats.countStatus(500) - s503),
          String(stats.countNoResponse()),
          describe(result.ready.get(phase)!),
          `${log.error}/${log.warn}/${log.raw}`,
        ]);
      }
    }
    const table = textTable(['scenario', 'phase', 's', 'requests', '2xx', '4xx', '500', '503 (RA)', 'other 5xx', 'no resp', '/ready', 'log E/W/raw'], rows, new Set([0, 1, 10]));
    const scenarioLines = results.map((result, index) => {
      const exit = result.exit;
      const statuses = PHASES.map((phase) => `${phase}: ${result.stats.get(phase)!.describeStatuses()}`).join('; ');
      return [
        `${index + 1} ${result.scenario.label}: the ${result.scenario.action} command took ${((result.stopDoneAt - result.stopAt) / 1000).toFixed(1)} s, ` +
          `accepting connections again ${((result.readyAt - result.stopAt) / 1000).toFixed(1)} s after it was issued; ` +
          `process ${exit ? `EXITED ${exit.code !== null ? `with code ${exit.code}` : `on ${exit.signal}`} (phase ${exit.phase}, ${((exit.at - result.stopAt) / 1000).toFixed(1)} s after the stop)` : 'survived'}; ` +
          `first 2xx ${result.first2xxAfterReadyMs === undefined ? 'never' : `${(result.first2xxAfterReadyMs / 1000).toFixed(2)} s`} after the database accepted connections again` +
          (result.restartedService ? '; the drill started a new service for what followed' : ''),
        `    statuses — ${statuses}`,
        ...logs[index]!.evidence.map((line) => `    log: ${line}`),
      ].join('\n');
    });

    const all = results.flatMap((result) => [...result.stats.values()]).reduce((a, b) => a.merge(b), new OutcomeStats());
    const failures = all.count - all.count2xx();
    const good503 = all.countStatus(503) - (all.withoutRetryAfter.get('503') ?? 0);
    const lost = lostCreates.length + lostPatches.length + lostAdds.length;
    const died = results.filter((result) => result.exit);
    const slow = results.filter((result) => result.first2xxAfterReadyMs === undefined || result.first2xxAfterReadyMs > 5000);
    const noisy = logs.filter((log) => log.json > 2);
    // A process that died answers nothing more: a 500 or log count of 0 then proves nothing.
    const unmeasured = died.length > 0 ? ` — n/a: the process died in ${died.length} of ${results.length} scenarios, so it answered and logged only until then` : '';
    const verdicts: Array<{ met: boolean | undefined; line: string }> = [
      {
        met: died.length === 0,
        line: `the process survives every scenario: ${died.length === 0 ? 'yes' : `no — exited in ${died.map((r) => `${r.scenario.label} (${r.exit!.code !== null ? `code ${r.exit!.code}` : r.exit!.signal})`).join(', ')}`}`,
      },
      { met: all.countStatus(500) > 0 ? false : died.length > 0 ? undefined : true, line: `0 responses 500: ${all.countStatus(500)}${all.countStatus(500) === 0 ? unmeasured : ''}` },
      {
        met: failures === good503,
        line: `every failure a 503 with Retry-After: ${good503} of ${failures} failures (${describe(nonOk(all.statuses))}${all.withoutRetryAfter.size > 0 ? `; without Retry-After: ${describe(all.withoutRetryAfter)}` : ''})`,
      },
      {
        met: lost === 0,
        line: `0 acknowledged writes lost: ${lost} lost of ${acknowledged.created.size} creates, ${acknowledged.patched.size} patched groups, ${acknowledged.added.size} users/add acknowledged` +
          (lost > 0 ? ` (creates ${lostCreates.slice(0, 5).join(' ')}; patches ${lostPatches.slice(0, 5).join(' ')}; adds ${lostAdds.slice(0, 5).join(', ')})` : ''),
      },
      { met: slow.length === 0, line: `2xx again within 5 s of the database returning: ${results.map((r) => `${r.scenario.label} ${r.first2xxAfterReadyMs === undefined ? 'never' : `${(r.first2xxAfterReadyMs / 1000).toFixed(2)} s`}`).join(', ')}` },
      {
        met: noisy.length > 0 ? false : died.length > 0 ? undefined : true,
        line:
          `outage logged once per transition (≤ 2 log lines at warn or above per scenario, besides the access log): ` +
          logs.map((log, i) => `${results[i]!.scenario.label} ${log.json}${log.raw > 0 ? ` (+ ${log.raw} lines of a crash trace)` : ''}`).join(', ') +
          (noisy.length === 0 ? unmeasured : ''),
      },
    ];
    const errorCodes = all.errorCodes.size > 0 ? [`error codes: ${describe(all.errorCodes)}`] : [];
    const report = [
      `Outage drill (scale ${spec.name}) on cluster ${cluster.version}/${cluster.name} (port ${cluster.port}): ${options.connections} connections of mixed load ` +
        `(40% GET /groups/{key}, 25% OData page, 20% POST /groups, 10% PATCH, 5% users/add; ≤ 50 req/s each), ${options.phaseSeconds} s before each outage and ≥ ${options.phaseSeconds} s after; ` +
        `stops held ${options.downSeconds} s. Pool ${options.serviceEnv['DB_POOL_SIZE'] ?? options.poolSize}${envNote(options.serviceEnv)}.`,
      '',
      table,
      '',
      'phase: before = until the stop/restart command; down = until the database accepted connections again (polled every 100 ms); after = from then.',
      'A request counts in the phase it started in. 503 (RA) = how many carried Retry-After. no resp = socket error or 10 s timeout (e.g. the process was gone).',
      '/ready = the readiness probe (every 250 ms). log E/W/raw = service log lines in the phase at error or fatal / at warn / not JSON (e.g. a crash trace on stderr), the access log (one line per request) left out.',
      '',
      ...scenarioLines,
      '',
      `per request kind: ${[...opCounts].map(([op, stats]) => `${op} ${stats.describeStatuses()}`).join('; ')}`,
      ...errorCodes,
      `writes: ${acknowledged.created.size} creates acknowledged (201); ${sum(committedUnacknowledged)} creates not acknowledged but committed` +
        (committedUnacknowledged.size > 0 ? ` (answered ${describe(committedUnacknowledged)})` : '') +
        `; ${sum(patchedUnacknowledged)} groups hold a PATCH that was not acknowledged` +
        (patchedUnacknowledged.size > 0 ? ` (answered ${describe(patchedUnacknowledged)})` : '') +
        ' — a failure answer for a write that committed (the client would retry it)' +
        (committedUnacknowledgedKeys.length > 0 ? `: ${committedUnacknowledgedKeys.slice(0, 5).join(', ')}` : ''),
      '',
      'Targets (issue 16):',
      ...verdicts.map((verdict) => `  [${verdict.met === undefined ? 'n/a' : verdict.met ? 'met' : 'MISSED'}] ${verdict.line}`),
    ].join('\n');
    return {
      report,
      passed: verdicts.every((verdict) => verdict.met === true),
      summary: {
        cluster,
        serviceEnv: options.serviceEnv,
        scenarios: results.map((result, index) => ({
          scenario: result.scenario.label,
          downMs: result.readyAt - result.stopAt,
          first2xxAfterReadyMs: result.first2xxAfterReadyMs,
          exit: result.exit,
          restartedService: result.restartedService ?? false,
          phases: Object.fromEntries(PHASES.map((phase) => [phase, { statuses: Object.fromEntries(result.stats.get(phase)!.statuses), withoutRetryAfter: Object.fromEntries(result.stats.get(phase)!.withoutRetryAfter), ready: Object.fromEntries(result.ready.get(phase)!), log: logs[index]!.byPhase.get(phase) }])),
          evidence: logs[index]!.evidence,
        })),
        writes: {
          acknowledgedCreates: acknowledged.created.size,
          acknowledgedPatchedGroups: acknowledged.patched.size,
          acknowledgedAdds: acknowledged.added.size,
          lostCreates,
          lostPatches,
          lostAdds,
          committedUnacknowledged: Object.fromEntries(committedUnacknowledged),
          patchedUnacknowledged: Object.fromEntries(patchedUnacknowledged),
          committedUnacknowledgedKeys,
        },
        verdicts,
      },
    };
  }

  /** The service's log lines in the scenario's window, by phase; a few distinct messages as evidence. */
  function readLogs(result: ScenarioResult): { byPhase: Map<Phase, { error: number; warn: number; raw: number }>; json: number; raw: number; evidence: string[] } {
    const byPhase = new Map(PHASES.map((phase) => [phase, { error: 0, warn: 0, raw: 0 }]));
    const messages = new Map<string, number>();
    const raw: string[] = [];
    let json = 0;
    let rawLines = 0;
    let stacks = 0;
    let accessLines = 0;
    const phaseAt = (time: number): Phase | undefined =>
      time < result.startedAt || time > result.endedAt + 2000 ? undefined : time < result.stopAt ? 'before' : time < result.readyAt ? 'down' : 'after';
    for (const file of result.logFiles) {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      // Lines that are not JSON carry no time: they belong to the scenario whose process wrote them
      // (one process per scenario that killed it), counted in the phase it died in, else `after`.
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        let entry: { level?: number; time?: number; msg?: string; context?: string; stack?: string; err?: { message?: string; stack?: string } } | undefined;
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          entry = undefined;
        }
        if (!entry || typeof entry.level !== 'number' || typeof entry.time !== 'number') {
          if (!result.exit) continue;
          byPhase.get(result.exit.phase)!.raw++;
          rawLines++;
          if (raw.length < 4) raw.push(`(not JSON) ${line.slice(0, 160)}`);
          continue;
        }
        const phase = phaseAt(entry.time);
        if (!phase || entry.level < 40) continue;
        // The access log (one line per request, whatever its status) is not what "logged once per
        // transition" is about: it is counted apart, and only stacks or other lines are held against it.
        if (entry.msg === 'request completed' && !entry.stack && !entry.err) {
          accessLines++;
          continue;
        }
        const counts = byPhase.get(phase)!;
        if (entry.level >= 50) counts.error++;
        else counts.warn++;
        json++;
        const message = entry.msg ?? entry.err?.message ?? '';
        if (entry.stack || entry.err?.stack || /\n\s+at /.test(message)) stacks++;
        // One group per kind of line: request ids, paths and stacks left out.
        const kind = message
          .split('\n')[0]!
          .replace(/\(request [^)]*\)/g, '(request …)')
          .replace(/\/api\/\S+/g, '/api/…')
          .slice(0, 140);
        const text = `${entry.level >= 50 ? 'error' : 'warn'} ${entry.context ? `[${entry.context}] ` : ''}${kind}`;
        messages.set(text, (messages.get(text) ?? 0) + 1);
      }
    }
    const evidence = [
      ...[...messages.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5)
        .map(([text, n]) => `${n}× ${text}`),
      ...(stacks > 0 ? [`${stacks} of these lines carry a stack trace`] : []),
      ...(accessLines > 0 ? [`${accessLines}× access-log lines ('request completed', one per request) at warn or above, not counted against the transition target`] : []),
      ...raw,
    ];
    return { byPhase, json, raw: rawLines, evidence };
  }
}

/** Polls until the database accepts a connection and answers `SELECT 1`; returns `Date.now()` then. */
async function waitAccepting(url: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      const at = Date.now();
      await client.end().catch(() => undefined);
      return at;
    } catch {
      await client.end().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`the database did not accept connections within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

function versionOf(name: string | undefined): number {
  const match = name ? / v(\d+)$/.exec(name) : null;
  return match ? Number(match[1]) : -1;
}

function describe(counts: ReadonlyMap<string, number>): string {
  return (
    [...counts.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, n]) => `${key}×${n}`)
      .join(' ') || '—'
  );
}

function nonOk(counts: ReadonlyMap<string, number>): Map<string, number> {
  return new Map([...counts].filter(([key]) => !/^2\d\d$/.test(key)));
}

function sumMatching(counts: ReadonlyMap<string, number>, pattern: RegExp): number {
  let total = 0;
  for (const [key, n] of counts) if (pattern.test(key)) total += n;
  return total;
}

function sum(counts: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const n of counts.values()) total += n;
  return total;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
