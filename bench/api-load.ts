import { join } from 'node:path';
import pg from 'pg';
import { benchDatabaseUrl, dropDatabase, generateScope, migrate, ScaleSpec, scopesOf, withClient } from './dataset.js';
import { RunningServer, startServer } from './servers.js';
import { BENCH_JWT_SECRET, signToken } from './tokens.js';

/**
 * Loads the dataset through the service's public HTTP API (`--only load`): the same generator and
 * rows as the SQL loader (ids differ: the API makes them), into a fresh database
 * `igs_bench_<scale>_api`, at `connections` concurrent requests:
 *   1. POST /users for every user (in parallel across scopes);
 *   2. POST /groups for every group with its members inline (`users`: userKeys), so each membership
 *      costs no call of its own.
 * Then the counts are checked in the database. The wall time covers the HTTP calls only (the
 * database is created and migrated, and the service started, before the clock starts).
 */
export interface ApiLoadResult {
  readonly database: string;
  readonly requests: number;
  readonly seconds: number;
  readonly usersSeconds: number;
  readonly groupsSeconds: number;
  readonly counts: { groups: number; users: number; memberships: number };
  readonly expected: { groups: number; users: number; memberships: number };
  readonly errors: number;
}

export async function apiLoad(options: {
  adminUrl: string;
  spec: ScaleSpec;
  seed: number;
  connections: number;
  poolSize: number;
  serviceMain: string;
  logDir: string;
  keep: boolean;
  log: (line: string) => void;
}): Promise<ApiLoadResult> {
  const { spec, log } = options;
  const name = `igs_bench_${spec.name.toLowerCase()}_api`;
  await dropDatabase(options.adminUrl, name);
  await withClient(options.adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = benchDatabaseUrl(options.adminUrl, name);
  await migrate(url);
  let service: RunningServer | undefined;
  try {
    service = await startServer({
      name: 'service (API load)',
      args: [options.serviceMain],
      env: { DATABASE_URL: url, JWT_SECRET: BENCH_JWT_SECRET, LOG_LEVEL: 'warn', NODE_ENV: 'production', DB_POOL_SIZE: String(options.poolSize) },
      readyPath: '/ready',
      logFile: join(options.logDir, 'service-api-load.log'),
    });
    const scopes = scopesOf(spec);
    const datasets = scopes.map((scope, index) => ({ scope, data: generateScope(spec, options.seed, index, scope) }));
    const tokens = new Map(scopes.map((scope) => [scope.tenantKey, `Bearer ${signToken({ tenant: scope.tenantKey, sub: 'bench-api-loader' })}`]));
    const expected = {
      users: datasets.reduce((n, { data }) => n + data.users.length, 0),
      groups: datasets.reduce((n, { data }) => n + data.groups.length, 0),
      memberships: datasets.reduce((n, { data }) => n + data.memberships.length, 0),
    };

    type Call = { path: string; authorization: string; body: string };
    const userCalls: Call[][] = [];
    const groupCalls: Call[][] = [];
    for (const { scope, data } of datasets) {
      const base = `/api/${scope.tenantKey}/${scope.orgKey}/identity`;
      const authorization = tokens.get(scope.tenantKey)!;
      userCalls.push(
        data.users.map((user) => ({ path: `${base}/users`, authorization, body: JSON.stringify({ userKey: user.key, name: user.name, email: user.email, isActive: user.isActive }) })),
      );
      const members = data.groups.map(() => [] as string[]);
      for (const [group, user] of data.memberships) members[group]!.push(data.users[user]!.key);
      groupCalls.push(
        data.groups.map((group, index) => {
          const body: Record<string, unknown> = { groupKey: group.key, name: group.name, isActive: group.isActive };
          if (group.email !== null) body['email'] = group.email;
          if (group.notes !== null) body['notes'] = group.notes;
          if (members[index]!.length > 0) body['users'] = members[index];
          return { path: `${base}/groups`, authorization, body: JSON.stringify(body) };
        }),
      );
    }
    // Scopes interleaved (round robin), so the load spreads over them as concurrent imports would.
    const interleave = (lists: Call[][]): Call[] => {
      const out: Call[] = [];
      for (let index = 0; index < Math.max(...lists.map((list) => list.length)); index++) for (const list of lists) if (index < list.length) out.push(list[index]!);
      return out;
    };
    const users = interleave(userCalls);
    const groups = interleave(groupCalls);

    let errors = 0;
    const firstErrors: string[] = [];
    const post = async (call: Call) => {
      const response = await fetch(`${service!.baseUrl}${call.path}`, {
        method: 'POST',
        headers: { authorization: call.authorization, 'content-type': 'application/json' },
        body: call.body,
      });
      const text = await response.text();
      if (response.status !== 201) {
        errors++;
        if (firstErrors.length < 5) firstErrors.push(`${response.status} ${call.path} ${text.slice(0, 200)}`);
      }
    };
    const runAll = async (calls: Call[]) => {
      let next = 0;
      const worker = async () => {
        for (let index = next++; index < calls.length; index = next++) await post(calls[index]!);
      };
      await Promise.all(Array.from({ length: options.connections }, worker));
    };
    log(`  API load: ${users.length} POST /users, then ${groups.length} POST /groups (members inline), ${options.connections} connections`);
    const started = performance.now();
    await runAll(users);
    const usersDone = performance.now();
    await runAll(groups);
    const finished = performance.now();
    if (firstErrors.length > 0) log(`  API load errors (first ${firstErrors.length} of ${errors}):\n    ${firstErrors.join('\n    ')}`);

    const counts = await withClient(url, async (client: pg.Client) => {
      const { rows } = await client.query<{ groups: string; users: string; memberships: string }>(
        `SELECT (SELECT count(*) FROM groups) AS groups, (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM memberships) AS memberships`,
      );
      return { groups: Number(rows[0]!.groups), users: Number(rows[0]!.users), memberships: Number(rows[0]!.memberships) };
    });
    return {
      database: name,
      requests: users.length + groups.length,
      seconds: (finished - started) / 1000,
      usersSeconds: (usersDone - started) / 1000,
      groupsSeconds: (finished - usersDone) / 1000,
      counts,
      expected,
      errors,
    };
  } finally {
    await service?.stop();
    if (!options.keep) await dropDatabase(options.adminUrl, name);
  }
}
