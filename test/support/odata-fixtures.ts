import { expect } from '@jest/globals';
import type { TestApp } from './test-app.js';

/*
 * The fixture set of the OData end-to-end tests (odata.e2e-spec.ts, odata-differential.e2e-spec.ts):
 * users and groups with mixed-case keys, nulls in email/notes, an empty note, active and inactive
 * records, memberships of every size from 0 to 8, a quote (O'Brien), accents, Cyrillic, CJK, an emoji
 * and a full-width letter (whose UTF-16 order differs from its code-point order). A look-alike set for a
 * second scope reuses keys and names with other memberships, so a leak between scopes changes results.
 *
 * Records are created over HTTP one at a time, 2 ms apart, so that their createdOn values are distinct
 * even at the millisecond precision the API shows and follow creation order.
 */

export interface UserSpec {
  readonly userKey: string;
  readonly name: string;
  readonly email: string | null;
  readonly isActive: boolean;
}

export interface GroupSpec {
  readonly groupKey: string;
  readonly name: string;
  readonly email: string | null;
  readonly notes: string | null;
  readonly isActive: boolean;
  /** userKeys of the members. */
  readonly users: readonly string[];
}

export interface UserRecord extends UserSpec {
  readonly id: string;
  readonly createdOn: string;
  readonly modifiedOn: string;
  /** Creation order (0-based): equals the order of the stored createdOn values. */
  readonly seq: number;
}

export interface GroupRecord extends Omit<GroupSpec, 'users'> {
  readonly id: string;
  readonly createdOn: string;
  readonly modifiedOn: string;
  readonly seq: number;
  /** The member records. */
  readonly users: readonly UserRecord[];
}

export interface Fixtures {
  readonly base: string;
  readonly users: readonly UserRecord[];
  readonly groups: readonly GroupRecord[];
  group(groupKey: string): GroupRecord;
  user(userKey: string): UserRecord;
}

export const USERS: readonly UserSpec[] = [
  { userKey: 'alice', name: 'Alice Smith', email: 'alice@example.com', isActive: true },
  { userKey: 'Bob', name: 'bob jones', email: null, isActive: true },
  { userKey: "o'brien", name: "Carol O'Brien", email: 'carol@example.org', isActive: false },
  { userKey: 'dave', name: 'Dave', email: 'dave@EXAMPLE.com', isActive: true },
  { userKey: 'Eve', name: 'Ève Élodie', email: null, isActive: true },
  { userKey: 'frank', name: 'Frank', email: 'frank@example.com', isActive: false },
  { userKey: 'grace', name: 'Grace Hopper', email: 'grace@navy.mil', isActive: true },
  { userKey: 'heidi', name: 'Heidi', email: null, isActive: true },
  { userKey: 'ivan', name: 'Иван', email: 'ivan@example.ru', isActive: true },
  { userKey: 'judy', name: 'Judy', email: 'judy@example.com', isActive: false },
  { userKey: 'ken', name: '山田 健', email: 'ken@example.jp', isActive: true },
  { userKey: 'Mallory', name: 'mallory', email: null, isActive: true },
  { userKey: 'niaj', name: 'Niaj 😀', email: 'niaj@example.com', isActive: true },
  { userKey: 'olivia', name: 'OLIVIA', email: 'olivia@example.com', isActive: true },
  { userKey: 'peggy', name: 'Peggy', email: null, isActive: false },
];

export const GROUPS: readonly GroupSpec[] = [
  { groupKey: 'ops', name: 'Operations', email: 'ops@example.com', notes: 'on call 24/7', isActive: true, users: ['alice', 'Bob', "o'brien", 'dave', 'Eve'] },
  { groupKey: 'Sales', name: 'Sales', email: 'sales@example.com', notes: null, isActive: true, users: ['alice', 'grace'] },
  {
    groupKey: 'dev',
    name: 'Developers',
    email: null,
    notes: 'Backend and frontend',
    isActive: true,
    users: ['alice', 'Bob', "o'brien", 'dave', 'Eve', 'frank', 'grace', 'heidi'],
  },
  { groupKey: 'DevOps', name: 'dev ops', email: 'devops@example.com', notes: "O'Brien's team", isActive: false, users: ["o'brien"] },
  { groupKey: 'hr', name: 'Human Resources', email: null, notes: null, isActive: true, users: [] },
  { groupKey: 'finance', name: 'Finance', email: 'FINANCE@example.com', notes: 'Budget 100%', isActive: false, users: ['judy', 'ken'] },
  { groupKey: 'legal', name: 'Legal_Team', email: 'legal@example.com', notes: null, isActive: true, users: ['Mallory'] },
  { groupKey: 'Émigrés', name: 'Équipe Ω', email: null, notes: 'ünïcödé notes', isActive: true, users: ['ivan', 'ken', 'niaj'] },
  { groupKey: 'zeta', name: 'Zeta', email: 'zeta@example.com', notes: '  padded  ', isActive: true, users: ['olivia'] },
  { groupKey: 'alpha', name: 'Team', email: null, notes: 'ALPHA notes', isActive: false, users: ['heidi', 'judy'] },
  { groupKey: 'Beta', name: 'Team', email: 'beta@example.com', notes: null, isActive: true, users: ['peggy', 'frank'] },
  { groupKey: 'qa', name: 'Quality 😀', email: 'qa@example.com', notes: 'tests', isActive: true, users: ['niaj', 'olivia', 'peggy', 'judy'] },
  { groupKey: 'QA-EU', name: 'Quality ｚ', email: null, notes: '', isActive: true, users: ['alice'] },
];

/** The second scope: the same keys and names where it can, other memberships, and a user of its own. */
export const LOOKALIKE_USERS: readonly UserSpec[] = [
  { userKey: 'alice', name: 'Alice Smith', email: 'alice@example.com', isActive: true },
  { userKey: 'Bob', name: 'bob jones', email: null, isActive: true },
  { userKey: 'peggy', name: 'Peggy', email: null, isActive: true },
  { userKey: 'xavier', name: 'Xavier', email: 'xavier@example.com', isActive: false },
  { userKey: 'yvonne', name: 'Yvonne', email: null, isActive: true },
  { userKey: 'zach', name: 'Zach', email: 'zach@example.com', isActive: true },
];

export const LOOKALIKE_GROUPS: readonly GroupSpec[] = [
  { groupKey: 'ops', name: 'Operations', email: 'ops@example.com', notes: 'on call 24/7', isActive: true, users: ['peggy', 'xavier'] },
  { groupKey: 'hr', name: 'Human Resources', email: null, notes: null, isActive: true, users: ['alice', 'Bob', 'peggy', 'xavier', 'yvonne', 'zach'] },
  { groupKey: 'dev', name: 'Developers', email: null, notes: 'Backend and frontend', isActive: false, users: [] },
];

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates the users, then the groups (with their members), one by one; returns them as created. */
export async function createFixtures(
  t: TestApp,
  base: string,
  users: readonly UserSpec[] = USERS,
  groups: readonly GroupSpec[] = GROUPS,
): Promise<Fixtures> {
  const userRecords: UserRecord[] = [];
  for (const spec of users) {
    await pause(2);
    const response = await t.http.post(`${base}/users`).set('Prefer', 'return=representation').send(spec);
    expect(response.status).toBe(201);
    userRecords.push({ ...spec, id: response.body.id, createdOn: response.body.createdOn, modifiedOn: response.body.modifiedOn, seq: userRecords.length });
  }
  const userByKey = new Map(userRecords.map((user) => [user.userKey, user]));
  const groupRecords: GroupRecord[] = [];
  for (const spec of groups) {
    await pause(2);
    const response = await t.http.post(`${base}/groups`).set('Prefer', 'return=representation').send(spec);
    expect(response.status).toBe(201);
    expect(response.body.usersCount).toBe(spec.users.length);
    groupRecords.push({
      ...spec,
      id: response.body.id,
      createdOn: response.body.createdOn,
      modifiedOn: response.body.modifiedOn,
      seq: groupRecords.length,
      users: spec.users.map((key) => userByKey.get(key)!),
    });
  }
  // Fixture sanity: createdOn follows creation order, distinct at millisecond precision.
  for (const records of [userRecords, groupRecords] as const) {
    for (let i = 1; i < records.length; i++) expect(Date.parse(records[i]!.createdOn)).toBeGreaterThan(Date.parse(records[i - 1]!.createdOn));
  }
  // Creating a group with members must not have touched the users (their modifiedOn is compared).
  for (const user of userRecords) {
    const now = await t.http.get(`${base}/users/${user.id}`).expect(200);
    expect(now.body.modifiedOn).toBe(user.modifiedOn);
  }
  return {
    base,
    users: userRecords,
    groups: groupRecords,
    group: (groupKey) => groupRecords.find((group) => group.groupKey === groupKey) ?? fail(`no fixture group ${groupKey}`),
    user: (userKey) => userRecords.find((user) => user.userKey === userKey) ?? fail(`no fixture user ${userKey}`),
  };
}

function fail(message: string): never {
  throw new Error(message);
}

/** The groups of a user within the fixtures. */
export function groupsOf(fixtures: Fixtures, userKey: string): GroupRecord[] {
  return fixtures.groups.filter((group) => group.users.some((user) => user.userKey === userKey));
}

// ---------------------------------------------------------------------------------------------
// OData value semantics, as the compiler documents them (strings by code point; nulls smallest).

/** Compares strings by Unicode code point (PostgreSQL `COLLATE "C"` on UTF-8), not by UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

export type Scalar = string | number | boolean | null;

/** Total order on the values of one sort key: null < anything; false < true; strings by code point. */
export function compareValues(a: Scalar, b: Scalar): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a === b ? 0 : a < b ? -1 : 1;
  throw new Error(`cannot compare ${typeof a} with ${typeof b}`);
}

export interface SortKey<T> {
  readonly value: (record: T) => Scalar;
  readonly direction: 'asc' | 'desc';
}

/**
 * Sorts as the service does: the keys in turn (nulls first ascending, last descending), then the id in
 * the direction of the last key (asc when there is none).
 */
export function sortRecords<T extends { id: string }>(records: readonly T[], keys: readonly SortKey<T>[]): T[] {
  const idDirection = keys.at(-1)?.direction ?? 'asc';
  const all: SortKey<T>[] = [...keys, { value: (record) => record.id, direction: idDirection }];
  return [...records].sort((a, b) => {
    for (const key of all) {
      const c = compareValues(key.value(a), key.value(b));
      if (c !== 0) return key.direction === 'asc' ? c : -c;
    }
    return 0;
  });
}

/** The service's default order of a collection: its key by code point, then id. */
export function byKey<T extends { id: string }>(records: readonly T[], key: (record: T) => string): T[] {
  return sortRecords(records, [{ value: key, direction: 'asc' }]);
}

/** A DateTimeOffset literal `ms` milliseconds after `iso` (fractions of a millisecond allowed). */
export function shiftedInstant(iso: string, ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.round((ms - whole) * 1000);
  const shifted = new Date(Date.parse(iso) + whole).toISOString(); // …T12:34:56.789Z
  return micros === 0 ? shifted : `${shifted.slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
}

/** Instant `iso` (ms precision, or µs as written by shiftedInstant) in microseconds since the epoch. */
export function micros(iso: string): number {
  const match = /\.(\d{3})(\d{3})?Z$/.exec(iso);
  const base = Date.parse(match ? iso.replace(/\.\d+Z$/, 'Z') : iso) * 1000;
  return match ? base + Number(match[1]) * 1000 + Number(match[2] ?? '0') : base;
}
