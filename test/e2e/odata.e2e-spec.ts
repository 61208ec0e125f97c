import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Response } from 'supertest';
import {
  byKey,
  compareCodePoints,
  createFixtures,
  Fixtures,
  GroupRecord,
  groupsOf,
  LOOKALIKE_GROUPS,
  LOOKALIKE_USERS,
  shiftedInstant,
  sortRecords,
  SortKey,
  UserRecord,
} from '../support/odata-fixtures.js';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';

/*
 * The OData query engine end to end (SPEC §4): every $filter construct, $orderby, paging with
 * $skiptoken, $select/$expand, $search, $count, $metadata and the error answers — on a fixture set in
 * one scope, with a look-alike set in another org of the same tenant that must never show through.
 *
 * Expected results are computed here from the fixtures (JS predicates, code-point order), never taken
 * from the service.
 */

type Row = Record<string, unknown> & { id: string };

const GROUP_PROPERTIES = ['id', 'groupKey', 'name', 'email', 'notes', 'isActive', 'createdOn', 'modifiedOn', 'createdBy', 'modifiedBy'];
const USER_PROPERTIES = ['id', 'userKey', 'name', 'email', 'isActive', 'createdOn', 'modifiedOn', 'createdBy', 'modifiedBy'];
const ERROR_KEYS = ['code', 'details', 'message', 'target'];

/** `?$a=…&$b=…` with every value percent-encoded (option names keep their `$`). */
function qs(options: Record<string, string>): string {
  const text = Object.entries(options)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join('&');
  return text ? `?${text}` : '';
}

/** Code points, as the service counts characters (char_length, strpos, substr). */
const chars = (text: string) => [...text];
const len = (text: string) => chars(text).length;
function indexOf(text: string, part: string): number {
  const at = text.indexOf(part);
  return at < 0 ? -1 : len(text.slice(0, at));
}
const substring = (text: string, start: number, length?: number) =>
  chars(text)
    .slice(start, length === undefined ? undefined : start + length)
    .join('');

/** The one error shape, with a 400. */
function expectODataError(response: Response, what: string): { code: string; message: string; target?: string } {
  if (response.status !== 400) throw new Error(`${what}: expected 400, got ${response.status}: ${response.text.slice(0, 300)}`);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(response.body)).toEqual(['error']);
  const error = response.body.error;
  expect(typeof error.code).toBe('string');
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  for (const key of Object.keys(error)) expect(ERROR_KEYS).toContain(key);
  return error;
}

/** A minimal XML reader: checks that tags nest and close properly, and returns the element tree. */
interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
}

function parseXml(xml: string): XmlElement {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  expect(body).not.toMatch(/<\?|<!|&(?!(amp|lt|gt|quot|apos);)/);
  const root: XmlElement = { name: '#document', attributes: {}, children: [] };
  const stack: XmlElement[] = [root];
  for (const token of body.match(/<[^>]*>|[^<]+/g) ?? []) {
    if (!token.startsWith('<')) {
      expect(token.trim()).toBe(''); // CSDL has no text content
      continue;
    }
    const closing = /^<\/([\w:.-]+)\s*>$/.exec(token);
    if (closing) {
      const open = stack.pop()!;
      expect(closing[1]).toBe(open.name);
      continue;
    }
    const tag = /^<([\w:.-]+)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>$/.exec(token);
    if (!tag) throw new Error(`malformed tag ${token}`);
    const attributes: Record<string, string> = {};
    for (const [, name, value] of tag[2]!.matchAll(/([\w:.-]+)="([^"]*)"/g)) {
      expect(attributes[name!]).toBeUndefined();
      attributes[name!] = value!;
    }
    const element: XmlElement = { name: tag[1]!, attributes, children: [] };
    stack.at(-1)!.children.push(element);
    if (tag[3] !== '/') stack.push(element);
  }
  expect(stack).toHaveLength(1);
  expect(root.children).toHaveLength(1);
  return root.children[0]!;
}

function findAll(element: XmlElement, name: string): XmlElement[] {
  return [...(element.name === name ? [element] : []), ...element.children.flatMap((child) => findAll(child, name))];
}

describe('OData (SPEC §4) over HTTP', () => {
  let t: TestApp;
  let A: Fixtures;
  /** A look-alike scope: the same tenant, another org. */
  let B: Fixtures;
  const scopeA = newScope('odata');
  const scopeB = { ...scopeA, orgKey: 'o_lookalike', base: `/api/${scopeA.tenantKey}/o_lookalike/identity` };

  beforeAll(async () => {
    t = await startTestApp();
    A = await createFixtures(t, scopeA.base);
    B = await createFixtures(t, scopeB.base, LOOKALIKE_USERS, LOOKALIKE_GROUPS);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function get(path: string, options: Record<string, string> = {}, base = A.base): Promise<Response> {
    return t.http.get(`${base}${path}${qs(options)}`);
  }

  async function rows(path: string, options: Record<string, string> = {}, base = A.base): Promise<Row[]> {
    const response = await get(path, options, base);
    if (response.status !== 200) throw new Error(`GET ${path}${qs(options)}: ${response.status} ${response.text.slice(0, 300)}`);
    return response.body.value as Row[];
  }

  async function groupKeys(options: Record<string, string>, base = A.base): Promise<string[]> {
    return (await rows('/groups/odata', options, base)).map((row) => row['groupKey'] as string);
  }

  /** The fixture groups matching `predicate`, in the default order (groupKey by code point, then id). */
  function expectedKeys(predicate: (group: GroupRecord) => boolean, fixtures = A): string[] {
    return byKey(fixtures.groups.filter(predicate), (group) => group.groupKey).map((group) => group.groupKey);
  }

  /** `$filter` on /groups/odata gives exactly the groups `predicate` picks, in the default order. */
  async function expectFilter(filter: string, predicate: (group: GroupRecord) => boolean, allow: { empty?: boolean; all?: boolean } = {}): Promise<void> {
    const expected = expectedKeys(predicate);
    // A case that picks nothing or everything would not tell a working filter from an ignored one.
    if (!allow.empty) expect(expected.length).toBeGreaterThan(0);
    if (!allow.all) expect(expected.length).toBeLessThan(A.groups.length);
    expect({ filter, keys: await groupKeys({ $filter: filter }) }).toEqual({ filter, keys: expected });
  }

  describe('the collection', () => {
    it('answers every group of the scope in the default order (groupKey by code point, then id), all properties', async () => {
      const response = await get('/groups/odata');
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(response.body)).toEqual(['@odata.context', 'value']);
      expect(response.body['@odata.context']).toBe(`${A.base}/$metadata#Groups`);
      const value = response.body.value as Row[];
      expect(value.map((row) => row.id)).toEqual(byKey(A.groups, (g) => g.groupKey).map((g) => g.id));
      for (const row of value) {
        expect(Object.keys(row).sort()).toEqual([...GROUP_PROPERTIES].sort());
        const group = A.group(row['groupKey'] as string);
        expect(row).toMatchObject({ name: group.name, email: group.email, notes: group.notes, isActive: group.isActive, createdOn: group.createdOn });
      }
      // Code points, not UTF-16 units: 'QA-EU' < 'Sales' < 'alpha' … < 'zeta' < 'Émigrés'.
      expect(value.map((row) => row['groupKey'])).toEqual(['Beta', 'DevOps', 'QA-EU', 'Sales', 'alpha', 'dev', 'finance', 'hr', 'legal', 'ops', 'qa', 'zeta', 'Émigrés']);
    });

    it('answers the users collection too', async () => {
      const response = await get('/users/odata');
      expect(response.status).toBe(200);
      expect(response.body['@odata.context']).toBe(`${A.base}/$metadata#Users`);
      expect((response.body.value as Row[]).map((row) => row.id)).toEqual(byKey(A.users, (u) => u.userKey).map((u) => u.id));
      expect(Object.keys(response.body.value[0]).sort()).toEqual([...USER_PROPERTIES].sort());
    });
  });

  describe('$filter', () => {
    it.each<[string, (g: GroupRecord) => boolean]>([
      ["groupKey eq 'ops'", (g) => g.groupKey === 'ops'],
      ["name ne 'Team'", (g) => g.name !== 'Team'],
      ["groupKey gt 'dev'", (g) => compareCodePoints(g.groupKey, 'dev') > 0],
      ["groupKey ge 'dev'", (g) => compareCodePoints(g.groupKey, 'dev') >= 0],
      ["groupKey lt 'Sales'", (g) => compareCodePoints(g.groupKey, 'Sales') < 0],
      ["groupKey le 'Sales'", (g) => compareCodePoints(g.groupKey, 'Sales') <= 0],
      // By code point U+FF5A < U+1F600 (UTF-16 order would say the opposite).
      ["name gt 'Quality ｚ'", (g) => compareCodePoints(g.name, 'Quality ｚ') > 0],
      ["name lt 'Quality 😀' and name ge 'Quality'", (g) => g.name.startsWith('Quality') && g.name !== 'Quality 😀'],
      ['isActive eq false', (g) => !g.isActive],
      ['isActive ne true', (g) => !g.isActive],
      ['isActive', (g) => g.isActive],
      ['not isActive', (g) => !g.isActive],
      ['users/$count eq 2', (g) => g.users.length === 2],
      ['users/$count ne 2', (g) => g.users.length !== 2],
      ['users/$count gt 2', (g) => g.users.length > 2],
      ['users/$count ge 4', (g) => g.users.length >= 4],
      ['users/$count lt 1', (g) => g.users.length < 1],
      ['users/$count le 1', (g) => g.users.length <= 1],
      ['users/$count gt 10', () => false],
    ])('compares: %s', async (filter, predicate) => {
      await expectFilter(filter, predicate, { empty: filter.includes('gt 10') });
    });

    it('compares case-sensitively: OPS is not ops, but tolower() makes it so', async () => {
      await expectFilter("groupKey eq 'OPS'", () => false, { empty: true });
      await expectFilter("tolower(groupKey) eq 'ops'", (g) => g.groupKey === 'ops');
      await expectFilter("toupper(groupKey) eq 'QA'", (g) => g.groupKey === 'qa');
    });

    it.each<[string, (g: GroupRecord) => boolean]>([
      ['email eq null', (g) => g.email === null],
      ['email ne null', (g) => g.email !== null],
      ['null eq notes', (g) => g.notes === null],
      ["notes eq ''", (g) => g.notes === ''],
      // OData: a null is not equal to 'tests', so ne is true for it; gt/lt with a null are false.
      ["notes ne 'tests'", (g) => g.notes !== 'tests'],
      ["email gt 'a'", (g) => g.email !== null && compareCodePoints(g.email, 'a') > 0],
      ["email lt 'zzz'", (g) => g.email !== null],
      ["not (email eq 'ops@example.com')", (g) => g.email !== 'ops@example.com'],
      ['length(email) ne 15', (g) => g.email === null || len(g.email) !== 15],
      ['tolower(email) eq null', (g) => g.email === null],
    ])('handles null: %s', async (filter, predicate) => {
      await expectFilter(filter, predicate);
    });

    it.each<[string, (g: GroupRecord) => boolean]>([
      ['isActive and (email eq null or notes eq null)', (g) => g.isActive && (g.email === null || g.notes === null)],
      ["not (groupKey eq 'ops' or groupKey eq 'dev')", (g) => g.groupKey !== 'ops' && g.groupKey !== 'dev'],
      ['not isActive or users/$count gt 4', (g) => !g.isActive || g.users.length > 4],
      // and binds tighter than or
      ["groupKey eq 'ops' or groupKey eq 'dev' and isActive eq false", (g) => g.groupKey === 'ops'],
      ["(groupKey eq 'ops' or groupKey eq 'dev') and isActive eq true", (g) => g.groupKey === 'ops' || g.groupKey === 'dev'],
      ["not isActive and email ne null", (g) => !g.isActive && g.email !== null],
      ["((((isActive))) and not (not (notes eq null)))", (g) => g.isActive && g.notes === null],
    ])('combines: %s', async (filter, predicate) => {
      await expectFilter(filter, predicate);
    });

    it.each<[string, (g: GroupRecord) => boolean]>([
      ["groupKey in ('ops', 'dev', 'OPS', 'nope')", (g) => g.groupKey === 'ops' || g.groupKey === 'dev'],
      ["email in ('ops@example.com', null)", (g) => g.email === 'ops@example.com' || g.email === null],
      ["notes in ('tests', 'nothing')", (g) => g.notes === 'tests'],
      ['isActive in (false)', (g) => !g.isActive],
      ['users/$count in (0, 1)', (g) => g.users.length <= 1],
      ["not (name in ('Team', 'Sales'))", (g) => g.name !== 'Team' && g.name !== 'Sales'],
    ])('tests membership with in: %s', async (filter, predicate) => {
      await expectFilter(filter, predicate);
    });

    it.each<[string, (g: GroupRecord) => boolean]>([
      ["contains(name, 'e')", (g) => g.name.includes('e')],
      ["contains(notes, '100%')", (g) => g.notes?.includes('100%') ?? false],
      ["contains(name, '_')", (g) => g.name.includes('_')],
      ["contains(notes, '''')", (g) => g.notes?.includes("'") ?? false],
      // contains() of a null is null, and not null is null: neither form picks a null email.
      ["contains(email, 'ops')", (g) => g.email?.includes('ops') ?? false],
      ["not contains(email, 'ops')", (g) => g.email !== null && !g.email.includes('ops')],
      ["startswith(groupKey, 'Dev')", (g) => g.groupKey.startsWith('Dev')],
      ["startswith(name, 'Équipe')", (g) => g.name.startsWith('Équipe')],
      ["endswith(email, '.com')", (g) => g.email?.endsWith('.com') ?? false],
      ["endswith(name, '😀')", (g) => g.name.endsWith('😀')],
      ["tolower(groupKey) eq 'devops'", (g) => g.groupKey.toLowerCase() === 'devops'],
      ["toupper(name) eq 'TEAM'", (g) => g.name.toUpperCase() === 'TEAM'],
      ["tolower(name) eq 'équipe ω'", (g) => g.name === 'Équipe Ω'],
      ["contains(tolower(notes), 'alpha')", (g) => g.notes?.toLowerCase().includes('alpha') ?? false],
      ['length(groupKey) eq 2', (g) => len(g.groupKey) === 2],
      // 'Quality 😀' is 9 characters (10 UTF-16 units)
      ['length(name) eq 9', (g) => len(g.name) === 9],
      ['length(notes) gt 10', (g) => g.notes !== null && len(g.notes) > 10],
      ["indexof(name, 'a') eq 2", (g) => indexOf(g.name, 'a') === 2],
      ["indexof(groupKey, 'ops') eq 0", (g) => indexOf(g.groupKey, 'ops') === 0],
      ["indexof(name, 'y') eq 6", (g) => indexOf(g.name, 'y') === 6],
      ["indexof(email, 'ops') eq -1", (g) => g.email !== null && indexOf(g.email, 'ops') === -1],
      ["substring(groupKey, 1) eq 'ps'", (g) => substring(g.groupKey, 1) === 'ps'],
      ["substring(name, 0, 4) eq 'Team'", (g) => substring(g.name, 0, 4) === 'Team'],
      ["substring(name, 8) eq '😀'", (g) => substring(g.name, 8) === '😀'],
      ["substring(name, 8, 1) eq 'ｚ'", (g) => substring(g.name, 8, 1) === 'ｚ'],
      ["trim(notes) eq 'padded'", (g) => g.notes?.trim() === 'padded'],
      ["notes eq 'padded'", () => false],
      ["concat(groupKey, '!') eq 'ops!'", (g) => g.groupKey === 'ops'],
      ["concat(concat(name, ' '), groupKey) eq 'Team alpha'", (g) => g.groupKey === 'alpha'],
      ["concat(email, 'x') ne 'nothing'", () => true],
      ["notes eq 'O''Brien''s team'", (g) => g.notes === "O'Brien's team"],
      ["groupKey eq 'Émigrés'", (g) => g.groupKey === 'Émigrés'],
    ])('applies string functions: %s', async (filter, predicate) => {
      await expectFilter(filter, predicate, { empty: filter === "notes eq 'padded'", all: filter.startsWith('concat(email') });
    });

    it('applies date functions to createdOn and modifiedOn (UTC)', async () => {
      const middle = A.groups[6]!;
      const at = new Date(middle.createdOn);
      const utc = (g: GroupRecord) => new Date(g.createdOn);
      const sameMinute = (g: GroupRecord) => utc(g).toISOString().slice(0, 16) === middle.createdOn.slice(0, 16);
      const minuteFilter = [
        `year(createdOn) eq ${at.getUTCFullYear()}`,
        `month(createdOn) eq ${at.getUTCMonth() + 1}`,
        `day(createdOn) eq ${at.getUTCDate()}`,
        `hour(createdOn) eq ${at.getUTCHours()}`,
        `minute(createdOn) eq ${at.getUTCMinutes()}`,
      ].join(' and ');
      expect(await groupKeys({ $filter: minuteFilter })).toEqual(expectedKeys(sameMinute));
      expect(await groupKeys({ $filter: `second(modifiedOn) eq ${at.getUTCSeconds()} and ${minuteFilter}` })).toEqual(
        expectedKeys((g) => sameMinute(g) && utc(g).getUTCSeconds() === at.getUTCSeconds()),
      );
      expect(await groupKeys({ $filter: `date(createdOn) eq ${middle.createdOn.slice(0, 10)}` })).toEqual(
        expectedKeys((g) => g.createdOn.slice(0, 10) === middle.createdOn.slice(0, 10)),
      );
      expect(await groupKeys({ $filter: `time(createdOn) ge ${middle.createdOn.slice(11, 19)} and date(createdOn) eq ${middle.createdOn.slice(0, 10)}` })).toEqual(
        expectedKeys((g) => g.createdOn.slice(0, 10) === middle.createdOn.slice(0, 10) && g.createdOn.slice(11, 19) >= middle.createdOn.slice(11, 19)),
      );
      expect(await groupKeys({ $filter: 'fractionalseconds(createdOn) lt 1 and fractionalseconds(createdOn) ge 0' })).toEqual(expectedKeys(() => true));
      expect(await groupKeys({ $filter: `year(createdOn) eq ${at.getUTCFullYear() + 1}` })).toEqual([]);
    });

    it('compares createdOn with DateTimeOffset and Date literals, now() and modifiedOn', async () => {
      const pivot = A.groups[6]!;
      // ge / lt the very value the API showed, and gt / le half a millisecond before it.
      await expectFilter(`createdOn ge ${pivot.createdOn}`, (g) => g.seq >= pivot.seq);
      await expectFilter(`createdOn lt ${pivot.createdOn}`, (g) => g.seq < pivot.seq);
      await expectFilter(`createdOn gt ${shiftedInstant(pivot.createdOn, -0.5)}`, (g) => g.seq >= pivot.seq);
      await expectFilter(`createdOn le ${shiftedInstant(pivot.createdOn, -0.5)}`, (g) => g.seq < pivot.seq);
      // the same instant written with an offset
      const local = new Date(Date.parse(pivot.createdOn) + 2 * 3600_000).toISOString().replace('Z', '+02:00');
      await expectFilter(`createdOn ge ${local}`, (g) => g.seq >= pivot.seq);
      await expectFilter('createdOn lt now()', () => true, { all: true });
      await expectFilter('createdOn gt now()', () => false, { empty: true });
      await expectFilter('createdOn gt 2020-01-01', () => true, { all: true });
      await expectFilter('createdOn lt 2020-01-01T00:00:00Z', () => false, { empty: true });
      await expectFilter('createdOn le modifiedOn and modifiedOn ge createdOn', () => true, { all: true });
    });

    it('matches a createdOn value as the API shows it with eq and le (its stated precision is milliseconds)', async () => {
      const pivot = A.groups[4]!;
      await expectFilter(`createdOn eq ${pivot.createdOn}`, (g) => g.id === pivot.id);
      await expectFilter(`createdOn le ${pivot.createdOn}`, (g) => g.seq <= pivot.seq);
      await expectFilter(`createdOn gt ${pivot.createdOn}`, (g) => g.seq > pivot.seq);
      await expectFilter(`modifiedOn eq ${pivot.modifiedOn}`, (g) => g.id === pivot.id);
      const user = A.users[3]!;
      expect((await rows('/users/odata', { $filter: `createdOn eq ${user.createdOn}` })).map((row) => row.id)).toEqual([user.id]);
    });

    it.each<[string, (g: GroupRecord) => boolean]>([
      ["users/any(u: u/userKey eq 'alice')", (g) => g.users.some((u) => u.userKey === 'alice')],
      ["users/any(u: u/userKey eq 'o''brien')", (g) => g.users.some((u) => u.userKey === "o'brien")],
      ["users/any(u: u/userKey eq 'ALICE')", () => false],
      ['users/any()', (g) => g.users.length > 0],
      ['not users/any()', (g) => g.users.length === 0],
      ['users/all(u: u/isActive eq false)', (g) => g.users.every((u) => !u.isActive)],
      ['users/all(u: u/isActive)', (g) => g.users.every((u) => u.isActive)],
      ['users/any(u: u/email eq null)', (g) => g.users.some((u) => u.email === null)],
      ["users/any(u: contains(u/name, 'a') and u/isActive eq false)", (g) => g.users.some((u) => u.name.includes('a') && !u.isActive)],
      // a null email makes the predicate null, which is not true: all() fails
      ["users/all(u: contains(u/email, 'example'))", (g) => g.users.every((u) => u.email?.includes('example') ?? false)],
      ["users/any(u: u/name eq 'Иван') or users/any(u: u/name eq '山田 健')", (g) => g.users.some((u) => u.userKey === 'ivan' || u.userKey === 'ken')],
      ['users/any(u: u/groups/any())', (g) => g.users.length > 0],
      ["users/any(u: u/groups/$count ge 3)", (g) => g.users.some((u) => groupsOf(A, u.userKey).length >= 3)],
      ['users/any(u: u/isActive eq false) and users/$count gt 4', (g) => g.users.some((u) => !u.isActive) && g.users.length > 4],
      ["users/any(u: $it/groupKey eq 'ops' and u/isActive)", (g) => g.groupKey === 'ops'],
    ])('applies lambdas and navigation counts: %s', async (filter, predicate) => {
      await expectFilter(filter, predicate, { empty: filter.includes('ALICE') });
    });

    it('falls back to a case-insensitive property match (GroupKey, USERS/any, ISACTIVE)', async () => {
      await expectFilter("GroupKey eq 'ops'", (g) => g.groupKey === 'ops');
      await expectFilter("USERS/any(u: u/USERKEY eq 'alice') and ISACTIVE", (g) => g.isActive && g.users.some((u) => u.userKey === 'alice'));
      expect(await groupKeys({ $orderby: 'NAME desc', $filter: "Name eq 'Team'" })).toEqual(
        sortRecords(A.groups.filter((g) => g.name === 'Team'), [{ value: (g) => g.name, direction: 'desc' }]).map((g) => g.groupKey),
      );
      const selected = await rows('/groups/odata', { $select: 'GROUPKEY,Email', $top: '1' });
      expect(Object.keys(selected[0]!).sort()).toEqual(['email', 'groupKey', 'id']);
    });
  });

  describe('scope isolation through every construct', () => {
    it('lambdas see only memberships of their own scope', async () => {
      // xavier exists only in B, where he is in ops and hr
      expect(await groupKeys({ $filter: "users/any(u: u/userKey eq 'xavier')" })).toEqual([]);
      expect(await groupKeys({ $filter: "users/any(u: u/userKey eq 'xavier')" }, B.base)).toEqual(['hr', 'ops']);
      // peggy is in Beta and qa in A, in hr and ops in B
      expect(await groupKeys({ $filter: "users/any(u: u/userKey eq 'peggy')" })).toEqual(['Beta', 'qa']);
      expect(await groupKeys({ $filter: "users/any(u: u/userKey eq 'peggy')" }, B.base)).toEqual(['hr', 'ops']);
      // a member's groups are counted in the scope: alice is in 4 groups in A, 1 in B
      expect(await groupKeys({ $filter: 'users/any(u: u/groups/$count ge 3)' })).toEqual(
        expectedKeys((g) => g.users.some((u) => groupsOf(A, u.userKey).length >= 3)),
      );
      expect(await groupKeys({ $filter: 'users/any(u: u/groups/$count ge 3)' }, B.base)).toEqual([]);
      expect(await groupKeys({ $filter: 'users/any(u: u/groups/$count ge 2)' }, B.base)).toEqual(['hr', 'ops']);
      // A's hr is empty, B's has six members
      expect(await groupKeys({ $filter: "groupKey eq 'hr' and users/all(u: u/isActive eq false)" })).toEqual(['hr']);
      expect(await groupKeys({ $filter: "groupKey eq 'hr' and users/all(u: u/isActive eq false)" }, B.base)).toEqual([]);
    });

    it('users/$count counts only the scope’s members, in $filter and $orderby', async () => {
      expect(await groupKeys({ $filter: 'users/$count gt 5' })).toEqual(['dev']);
      expect(await groupKeys({ $filter: 'users/$count gt 5' }, B.base)).toEqual(['hr']);
      expect(await groupKeys({ $filter: 'users/$count eq 0' })).toEqual(['hr']);
      expect(await groupKeys({ $filter: 'users/$count eq 0' }, B.base)).toEqual(['dev']);
      expect(await groupKeys({ $orderby: 'users/$count desc, groupKey', $top: '3' })).toEqual(['dev', 'ops', 'qa']);
      expect(await groupKeys({ $orderby: 'users/$count desc, groupKey' }, B.base)).toEqual(['hr', 'ops', 'dev']);
    });

    it('$expand=users shows only the scope’s members, and counts them', async () => {
      const value = await rows('/groups/odata', { $expand: 'users($select=userKey;$count=true)' });
      expect(value).toHaveLength(A.groups.length);
      for (const row of value) {
        const group = A.group(row['groupKey'] as string);
        expect({ group: group.groupKey, users: row['users'] }).toEqual({
          group: group.groupKey,
          users: byKey(group.users, (u) => u.userKey).map((u) => ({ id: u.id, userKey: u.userKey })),
        });
        expect(row['users@odata.count']).toBe(group.users.length);
      }
      const lookalike = await rows('/groups/odata', { $expand: 'users($select=userKey)', $filter: "groupKey eq 'hr'" }, B.base);
      expect((lookalike[0]!['users'] as Row[]).map((u) => u['userKey'])).toEqual(['Bob', 'alice', 'peggy', 'xavier', 'yvonne', 'zach']);
    });

    it('$search, $count and member lists stay in the scope', async () => {
      expect(await rows('/users/odata', { $search: 'xavier' })).toEqual([]);
      expect((await get('/groups/odata/$count')).text).toBe(String(A.groups.length));
      expect((await get('/groups/odata/$count', {}, B.base)).text).toBe(String(B.groups.length));
      expect((await get('/users/odata/$count')).text).toBe(String(A.users.length));
      // a group of B is not found through A's base, by id or by key
      const bHr = B.group('hr');
      expect((await get(`/groups/${bHr.id}/users`)).status).toBe(404);
      expect((await get(`/users/${B.user('xavier').id}/groups`)).status).toBe(404);
      expect((await get('/users/xavier/groups')).status).toBe(404);
      const aHr = await get('/groups/hr/users', { $count: 'true' });
      expect(aHr.body).toEqual({ '@odata.context': `${A.base}/$metadata#Users`, '@odata.count': 0, value: [] });
      expect((await rows('/users/peggy/groups')).map((row) => row['groupKey'])).toEqual(['Beta', 'qa']);
      expect((await rows('/users/peggy/groups', {}, B.base)).map((row) => row['groupKey'])).toEqual(['hr', 'ops']);
    });
  });

  describe('$orderby, $top, $skip', () => {
    const key = (name: keyof GroupRecord) => (g: GroupRecord) => g[name] as string | boolean | null;
    it.each<[string, SortKey<GroupRecord>[]]>([
      ['name', [{ value: key('name'), direction: 'asc' }]],
      ['name desc', [{ value: key('name'), direction: 'desc' }]],
      ['isActive desc, name', [{ value: key('isActive'), direction: 'desc' }, { value: key('name'), direction: 'asc' }]],
      ['email', [{ value: key('email'), direction: 'asc' }]],
      ['email desc', [{ value: key('email'), direction: 'desc' }]],
      ['notes desc, groupKey desc', [{ value: key('notes'), direction: 'desc' }, { value: key('groupKey'), direction: 'desc' }]],
      ['email asc, notes desc', [{ value: key('email'), direction: 'asc' }, { value: key('notes'), direction: 'desc' }]],
      ['users/$count desc, name asc', [{ value: (g) => g.users.length, direction: 'desc' }, { value: key('name'), direction: 'asc' }]],
      ['users/$count', [{ value: (g) => g.users.length, direction: 'asc' }]],
      ['tolower(groupKey)', [{ value: (g) => g.groupKey.toLowerCase(), direction: 'asc' }]],
      ['length(name), name desc', [{ value: (g) => len(g.name), direction: 'asc' }, { value: key('name'), direction: 'desc' }]],
      ['createdOn desc', [{ value: (g) => g.seq, direction: 'desc' }]],
      ['isActive, modifiedOn', [{ value: key('isActive'), direction: 'asc' }, { value: (g) => g.seq, direction: 'asc' }]],
      ['GroupKey desc', [{ value: key('groupKey'), direction: 'desc' }]],
    ])('orders by %s, ties by id', async (orderby, keys) => {
      const got = (await rows('/groups/odata', { $orderby: orderby })).map((row) => row.id);
      expect(got).toEqual(sortRecords(A.groups, keys).map((g) => g.id));
    });

    it('breaks ties by id in the direction of the last key', async () => {
      const teams = A.groups.filter((g) => g.name === 'Team').map((g) => g.id).sort();
      expect(teams).toHaveLength(2);
      expect((await rows('/groups/odata', { $filter: "name eq 'Team'", $orderby: 'name' })).map((r) => r.id)).toEqual(teams);
      expect((await rows('/groups/odata', { $filter: "name eq 'Team'", $orderby: 'name desc' })).map((r) => r.id)).toEqual([...teams].reverse());
    });

    it.each<[Record<string, string>, number, number]>([
      [{ $top: '3' }, 0, 3],
      [{ $skip: '10' }, 10, 100],
      [{ $top: '2', $skip: '3' }, 3, 2],
      [{ $top: '0' }, 0, 0],
      [{ $skip: '100' }, 100, 100],
      [{ $top: '1000', $skip: '12' }, 12, 1000],
    ])('windows the default order with %j', async (options, skip, top) => {
      const response = await get('/groups/odata', options);
      expect(response.status).toBe(200);
      expect((response.body.value as Row[]).map((r) => r.id)).toEqual(
        byKey(A.groups, (g) => g.groupKey)
          .slice(skip, skip + top)
          .map((g) => g.id),
      );
      expect(response.body['@odata.nextLink']).toBeUndefined();
    });

    it('combines $filter, $orderby, $top and $skip', async () => {
      const expected = sortRecords(
        A.groups.filter((g) => g.isActive),
        [{ value: (g) => g.name, direction: 'desc' }],
      ).slice(1, 4);
      expect((await rows('/groups/odata', { $filter: 'isActive', $orderby: 'name desc', $skip: '1', $top: '3' })).map((r) => r.id)).toEqual(expected.map((g) => g.id));
    });
  });

  describe('$select and $expand', () => {
    it('$select returns the chosen properties and always the id', async () => {
      const value = await rows('/groups/odata', { $select: 'groupKey,email', $filter: "groupKey eq 'ops'" });
      expect(value).toEqual([{ id: A.group('ops').id, groupKey: 'ops', email: 'ops@example.com' }]);
      const all = await rows('/groups/odata', { $select: '*', $top: '1' });
      expect(Object.keys(all[0]!).sort()).toEqual([...GROUP_PROPERTIES].sort());
      const idOnly = await rows('/users/odata', { $select: 'id', $top: '2' });
      expect(idOnly.map((row) => Object.keys(row))).toEqual([['id'], ['id']]);
    });

    it('$expand=users with every nested option', async () => {
      const value = await rows('/groups/odata', {
        $select: 'groupKey',
        $expand: "users($select=userKey;$filter=isActive eq true and userKey ne 'dave';$orderby=name desc;$top=2)",
        $filter: 'users/$count gt 1',
      });
      expect(value.map((row) => row['groupKey'])).toEqual(expectedKeys((g) => g.users.length > 1));
      for (const row of value) {
        const group = A.group(row['groupKey'] as string);
        const expected = sortRecords(
          group.users.filter((u) => u.isActive && u.userKey !== 'dave'),
          [{ value: (u) => u.name, direction: 'desc' }],
        ).slice(0, 2);
        expect(Object.keys(row).sort()).toEqual(['groupKey', 'id', 'users']);
        expect({ group: group.groupKey, users: row['users'] }).toEqual({ group: group.groupKey, users: expected.map((u) => ({ id: u.id, userKey: u.userKey })) });
      }
    });

    it('$expand=users alone: full user records in userKey order; nested $expand and $skip', async () => {
      const [dev] = await rows('/groups/odata', { $filter: "groupKey eq 'dev'", $expand: 'users' });
      const users = dev!['users'] as Row[];
      expect(users.map((u) => u.id)).toEqual(byKey(A.group('dev').users, (u) => u.userKey).map((u) => u.id));
      expect(Object.keys(users[0]!).sort()).toEqual([...USER_PROPERTIES].sort());
      const alice = A.user('alice');
      expect(users.find((u) => u.id === alice.id)).toMatchObject({ userKey: 'alice', name: alice.name, email: alice.email, isActive: true, createdOn: alice.createdOn });

      const [finance] = await rows('/groups/odata', {
        $filter: "groupKey eq 'finance'",
        $select: 'groupKey',
        $expand: 'users($select=userKey;$skip=1;$expand=groups($select=groupKey;$orderby=groupKey desc))',
      });
      expect(finance!['users']).toEqual([
        { id: A.user('ken').id, userKey: 'ken', groups: sortRecords(groupsOf(A, 'ken'), [{ value: (g) => g.groupKey, direction: 'desc' }]).map((g) => ({ id: g.id, groupKey: g.groupKey })) },
      ]);
    });

    it('refuses $select of a navigation property and unknown expansions', async () => {
      expectODataError(await get('/groups/odata', { $select: 'users' }), '$select=users');
      expect(expectODataError(await get('/groups/odata', { $expand: 'members' }), '$expand=members').message).toContain('members');
      expectODataError(await get('/groups/odata', { $expand: 'groupKey' }), '$expand=groupKey');
    });
  });

  describe('$count, /$count, $inlinecount', () => {
    it('$count=true gives the filtered total whatever the page', async () => {
      const response = await get('/groups/odata', { $count: 'true', $filter: 'isActive', $top: '2' });
      expect(response.body['@odata.count']).toBe(A.groups.filter((g) => g.isActive).length);
      expect(response.body.value).toHaveLength(2);
      expect(Object.keys(response.body)).toEqual(['@odata.context', '@odata.count', 'value']);
      expect((await get('/groups/odata', { $count: 'false' })).body['@odata.count']).toBeUndefined();
    });

    it('$inlinecount=allpages is $count=true; none is false', async () => {
      const response = await get('/groups/odata', { $inlinecount: 'allpages', $filter: 'email eq null', $skip: '1' });
      expect(response.body['@odata.count']).toBe(A.groups.filter((g) => g.email === null).length);
      expect(response.body.value).toHaveLength(A.groups.filter((g) => g.email === null).length - 1);
      expect((await get('/groups/odata', { $inlinecount: 'none' })).body['@odata.count']).toBeUndefined();
    });

    it('$count=true is the total also on a page with no rows (skipped past the end, or nothing matches)', async () => {
      const past = await get('/groups/odata', { $count: 'true', $skip: '1000' });
      expect(past.body['@odata.count']).toBe(A.groups.length);
      expect(past.body.value).toEqual([]);
      const none = await get('/groups/odata', { $count: 'true', $filter: "groupKey eq 'no-such-group'" });
      expect(none.body['@odata.count']).toBe(0);
      expect(none.body.value).toEqual([]);
      const top0 = await get('/groups/odata', { $count: 'true', $top: '0' });
      expect(top0.body['@odata.count']).toBe(A.groups.length);
      expect(top0.body.value).toEqual([]);
      const alice = A.user('alice');
      const members = await get(`/users/${alice.id}/groups`, { $count: 'true', $skip: '1000' });
      expect(members.body['@odata.count']).toBe(groupsOf(A, 'alice').length);
      expect(members.body.value).toEqual([]);
    });

    it('/odata/$count answers the number as text/plain, honouring $filter and $search', async () => {
      const all = await get('/groups/odata/$count');
      expect(all.status).toBe(200);
      expect(all.headers['content-type']).toMatch(/^text\/plain/);
      expect(all.text).toBe('13');
      expect((await get('/groups/odata/$count', { $filter: "users/any(u: u/userKey eq 'alice')" })).text).toBe(String(groupsOf(A, 'alice').length));
      expect((await get('/groups/odata/$count', { $search: 'team' })).text).toBe('4');
      expect((await get('/users/odata/$count', { $filter: 'email eq null' })).text).toBe(String(A.users.filter((u) => u.email === null).length));
      const bad = await get('/groups/odata/$count', { $filter: 'nope eq 1' });
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.text).error.message).toContain("'nope'");
    });

    // Regression: the route's Content-Type: text/plain used to stick to the JSON error body.
    it('/odata/$count labels its JSON error body application/json', async () => {
      expect((await get('/groups/odata/$count', { $filter: 'nope eq 1' })).headers['content-type']).toMatch(/^application\/json/);
    });
  });

  describe('$search', () => {
    const searchText = (g: GroupRecord) => [g.groupKey, g.name, g.email, g.notes].filter((v): v is string => v !== null).map((v) => v.toLowerCase());
    const has = (g: GroupRecord, term: string) => searchText(g).some((v) => v.includes(term.toLowerCase()));
    it.each<[string, (g: GroupRecord) => boolean]>([
      ['TEAM', (g) => has(g, 'team')],
      ['example.com', (g) => has(g, 'example.com')],
      ['"dev ops"', (g) => has(g, 'dev ops')],
      ['ops NOT dev', (g) => has(g, 'ops') && !has(g, 'dev')],
      ['ops dev', (g) => has(g, 'ops') && has(g, 'dev')],
      ['ops OR finance', (g) => has(g, 'ops') || has(g, 'finance')],
      ['100%', (g) => has(g, '100%')],
      ['_', (g) => has(g, '_')],
      ['ÉQUIPE', (g) => has(g, 'équipe')],
      ["o'brien", (g) => has(g, "o'brien")],
      ['NOT notes', (g) => !has(g, 'notes')],
      ['😀', (g) => has(g, '😀')],
    ])('matches case-insensitively over groupKey, name, email, notes: %s', async (search, predicate) => {
      const expected = expectedKeys(predicate);
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(A.groups.length);
      expect(await groupKeys({ $search: search })).toEqual(expected);
    });

    it('searches users over userKey, name and email, and combines with $filter', async () => {
      const userHas = (u: UserRecord, term: string) => [u.userKey, u.name, u.email].some((v) => v?.toLowerCase().includes(term));
      const got = (await rows('/users/odata', { $search: 'EXAMPLE.COM', $filter: 'isActive' })).map((r) => r['userKey']);
      expect(got).toEqual(byKey(A.users.filter((u) => u.isActive && userHas(u, 'example.com')), (u) => u.userKey).map((u) => u.userKey));
      expect(got.length).toBeGreaterThan(0);
    });
  });

  describe('server-driven paging', () => {
    interface Page {
      body: { value: Row[]; '@odata.nextLink'?: string; '@odata.count'?: number };
      url: string;
    }

    async function follow(first: string, pageSize: number): Promise<Page[]> {
      const pages: Page[] = [];
      let url: string | undefined = first;
      while (url !== undefined) {
        const response: Response = await t.http.get(url).set('Prefer', `odata.maxpagesize=${pageSize}`);
        if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${response.text.slice(0, 300)}`);
        expect(response.headers['preference-applied']).toBe(`odata.maxpagesize=${pageSize}`);
        pages.push({ body: response.body, url });
        url = response.body['@odata.nextLink'];
        if (pages.length > 100) throw new Error('the next links never end');
      }
      return pages;
    }

    /** Pages of `pageSize` rows (the last one shorter or equal), together exactly `expected`, once each and in order. */
    function expectPages(pages: Page[], pageSize: number, expected: readonly string[], linkPrefix: string): void {
      const ids = pages.flatMap((page) => page.body.value.map((row) => row.id));
      expect(ids).toEqual(expected);
      expect(new Set(ids).size).toBe(ids.length);
      expect(pages).toHaveLength(Math.max(1, Math.ceil(expected.length / pageSize)));
      pages.forEach((page, index) => {
        if (index < pages.length - 1) {
          expect(page.body.value).toHaveLength(pageSize);
          const link = page.body['@odata.nextLink']!;
          expect(link.startsWith(`${linkPrefix}?`)).toBe(true);
          expect(link).toContain('$skiptoken=');
          expect(link).not.toMatch(/[?&]\$skip=/);
        } else {
          expect(page.body['@odata.nextLink']).toBeUndefined();
        }
      });
    }

    it.each<[string, Record<string, string>, (f: Fixtures) => string[]]>([
      ['the default order', {}, (f) => byKey(f.groups, (g) => g.groupKey).map((g) => g.id)],
      [
        'a nullable key descending with a filter',
        { $orderby: 'email desc,name', $filter: 'isActive eq true or email eq null' },
        (f) =>
          sortRecords(
            f.groups.filter((g) => g.isActive || g.email === null),
            [
              { value: (g) => g.email, direction: 'desc' },
              { value: (g) => g.name, direction: 'asc' },
            ],
          ).map((g) => g.id),
      ],
      [
        'mixed directions over nullable keys and a count',
        { $orderby: 'notes,users/$count desc' },
        (f) =>
          sortRecords(f.groups, [
            { value: (g) => g.notes, direction: 'asc' },
            { value: (g) => g.users.length, direction: 'desc' },
          ]).map((g) => g.id),
      ],
      ['createdOn descending', { $orderby: 'createdOn desc' }, (f) => [...f.groups].reverse().map((g) => g.id)],
      ['an expression key', { $orderby: 'tolower(name) desc' }, (f) => sortRecords(f.groups, [{ value: (g) => g.name.toLowerCase(), direction: 'desc' }]).map((g) => g.id)],
      ['booleans and names with ties', { $orderby: 'isActive,name', $search: 'e' }, (f) =>
        sortRecords(
          f.groups.filter((g) => [g.groupKey, g.name, g.email, g.notes].some((v) => v?.toLowerCase().includes('e'))),
          [
            { value: (g) => g.isActive, direction: 'asc' },
            { value: (g) => g.name, direction: 'asc' },
          ],
        ).map((g) => g.id),
      ],
    ])('follows @odata.nextLink to the end with maxpagesize=3: %s', async (_what, options, expected) => {
      const pages = await follow(`${A.base}/groups/odata${qs(options)}`, 3);
      expectPages(pages, 3, expected(A), `${A.base}/groups/odata`);
    });

    it('a text match with $count (page and count from one scan) counts the whole collection on every page and past the end', async () => {
      const options = { $search: 'e', $count: 'true', $orderby: 'name' };
      const expected = A.groups.filter((g) => [g.groupKey, g.name, g.email, g.notes].some((text) => text?.toLowerCase().includes('e')));
      expect(expected.length).toBeGreaterThan(3);
      const pages = await follow(`${A.base}/groups/odata${qs(options)}`, 2);
      expect(pages.length).toBe(Math.ceil(expected.length / 2));
      for (const page of pages) expect(page.body['@odata.count']).toBe(expected.length);
      expect(new Set(pages.flatMap((page) => page.body.value.map((row) => row.id)))).toEqual(new Set(expected.map((g) => g.id)));
      const past = await get('/groups/odata', { ...options, $skip: '1000' });
      expect({ count: past.body['@odata.count'], value: past.body.value }).toEqual({ count: expected.length, value: [] });
      const contains = await get('/groups/odata', { $filter: "contains(name,'e') and isActive", $count: 'true', $top: '1' });
      expect(contains.body['@odata.count']).toBe(A.groups.filter((g) => g.name.includes('e') && g.isActive).length);
    });

    it('keeps $select, $expand, $count in the links and reduces $top', async () => {
      const pages = await follow(`${A.base}/groups/odata${qs({ $top: '7', $count: 'true', $select: 'groupKey', $expand: 'users($select=userKey)' })}`, 3);
      expectPages(pages, 3, byKey(A.groups, (g) => g.groupKey).slice(0, 7).map((g) => g.id), `${A.base}/groups/odata`);
      expect(pages.map((page) => page.body['@odata.count'])).toEqual([13, 13, 13]);
      expect(new URL(pages[1]!.url, 'http://x').searchParams.get('$top')).toBe('4');
      expect(new URL(pages[2]!.url, 'http://x').searchParams.get('$top')).toBe('1');
      for (const page of pages) {
        for (const row of page.body.value) {
          expect(Object.keys(row).sort()).toEqual(['groupKey', 'id', 'users']);
          expect((row['users'] as Row[]).map((u) => u['userKey'])).toEqual(byKey(A.group(row['groupKey'] as string).users, (u) => u.userKey).map((u) => u.userKey));
        }
      }
    });

    it('continues a $skip with the token alone', async () => {
      const pages = await follow(`${A.base}/groups/odata?$skip=2`, 3);
      expectPages(pages, 3, byKey(A.groups, (g) => g.groupKey).slice(2).map((g) => g.id), `${A.base}/groups/odata`);
    });

    it('pages users and member lists the same way', async () => {
      expectPages(await follow(`${A.base}/users/odata?$orderby=email`, 4), 4, sortRecords(A.users, [{ value: (u) => u.email, direction: 'asc' }]).map((u) => u.id), `${A.base}/users/odata`);
      const dev = A.group('dev');
      const members = await follow(`${A.base}/groups/dev/users${qs({ $orderby: 'isActive desc, name' })}`, 3);
      expectPages(
        members,
        3,
        sortRecords(dev.users, [
          { value: (u) => u.isActive, direction: 'desc' },
          { value: (u) => u.name, direction: 'asc' },
        ]).map((u) => u.id),
        `${A.base}/groups/${dev.id}/users`,
      );
      const judy = A.user('judy');
      const groups = await follow(`${A.base}/users/judy/groups`, 2);
      expectPages(groups, 2, byKey(groupsOf(A, 'judy'), (g) => g.groupKey).map((g) => g.id), `${A.base}/users/${judy.id}/groups`);
    });

    it('caps maxpagesize at 1,000 and pages by 100 without a preference', async () => {
      const capped = await get('/groups/odata');
      expect(capped.headers['preference-applied']).toBeUndefined();
      const big = await t.http.get(`${A.base}/groups/odata`).set('Prefer', 'odata.maxpagesize=5000');
      expect(big.headers['preference-applied']).toBe('odata.maxpagesize=1000');
      expect(big.body.value).toHaveLength(13);

      const { base } = newScope('paging');
      const keys = Array.from({ length: 101 }, (_, i) => `g${String(i).padStart(3, '0')}`);
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(keys.slice(i, i + 50).map((groupKey) => t.http.post(`${base}/groups`).send({ groupKey, name: groupKey }).expect(201)));
      }
      const first = await t.http.get(`${base}/groups/odata`).expect(200);
      expect(first.body.value).toHaveLength(100);
      expect(first.body.value[99].groupKey).toBe('g099');
      const second = await t.http.get(first.body['@odata.nextLink']).expect(200);
      expect(second.body.value.map((row: Row) => row['groupKey'])).toEqual(['g100']);
      expect(second.body['@odata.nextLink']).toBeUndefined();
    });

    describe('$skiptoken', () => {
      async function tokenOf(url: string, pageSize = 3): Promise<string> {
        const response = await t.http.get(url).set('Prefer', `odata.maxpagesize=${pageSize}`).expect(200);
        const link: string = response.body['@odata.nextLink'];
        expect(link).toBeDefined();
        return new URL(link, 'http://x').searchParams.get('$skiptoken')!;
      }
      const decode = (token: string) => JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v: number; f: string; k: unknown[] };
      const encode = (payload: unknown) => Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');

      it('refuses a tampered token with 400', async () => {
        const token = await tokenOf(`${A.base}/groups/odata?$orderby=name`);
        const payload = decode(token);
        expect(payload.k).toHaveLength(2); // name, id
        const tampered: Array<[string, string]> = [
          ['other fingerprint', encode({ ...payload, f: 'AAAAAAAAAAAAAAAA' })],
          ['other version', encode({ ...payload, v: 2 })],
          ['fewer keys', encode({ ...payload, k: payload.k.slice(1) })],
          ['a number for a string key', encode({ ...payload, k: [5, payload.k[1]] })],
          ['not a uuid', encode({ ...payload, k: [payload.k[0], 'not-a-uuid'] })],
          ['a null for a key that is never null', encode({ ...payload, k: [null, payload.k[1]] })],
          ['not JSON', Buffer.from('{"v":1,', 'utf8').toString('base64url')],
          ['an array', encode([1, 2, 3])],
          ['not base64url', `${token.slice(0, 10)}!!${token.slice(10)}`],
          ['too long', 'A'.repeat(5000)],
          ['empty', ''],
        ];
        for (const [what, value] of tampered) {
          const error = expectODataError(await get('/groups/odata', { $orderby: 'name', $skiptoken: value }), what);
          expect({ what, target: error.target }).toEqual({ what, target: '$skiptoken' });
        }
      });

      it('refuses a token of another query, collection or member list with 400', async () => {
        const byName = await tokenOf(`${A.base}/groups/odata?$orderby=name`);
        const usersByName = await tokenOf(`${A.base}/users/odata?$orderby=name`);
        const active = await tokenOf(`${A.base}/groups/odata${qs({ $filter: 'isActive eq true' })}`, 2);
        const devMembers = await tokenOf(`${A.base}/groups/dev/users`);
        const opsMembers = await tokenOf(`${A.base}/groups/ops/users`);
        const foreign: Array<[string, string, Record<string, string>]> = [
          ['users token on groups', '/groups/odata', { $orderby: 'name', $skiptoken: usersByName }],
          ['groups token on users', '/users/odata', { $orderby: 'name', $skiptoken: byName }],
          ['other direction', '/groups/odata', { $orderby: 'name desc', $skiptoken: byName }],
          ['other filter', '/groups/odata', { $filter: 'isActive eq false', $skiptoken: active }],
          ['other search', '/groups/odata', { $filter: 'isActive eq true', $search: 'a', $skiptoken: active }],
          ['no filter', '/groups/odata', { $skiptoken: active }],
          ["another group's members", '/groups/ops/users', { $skiptoken: devMembers }],
          ['a member list token on the collection', '/users/odata', { $skiptoken: opsMembers }],
        ];
        for (const [what, path, options] of foreign) {
          expect({ what, target: expectODataError(await get(path, options), what).target }).toEqual({ what, target: '$skiptoken' });
        }
        // The same token where it belongs works.
        expect((await get('/groups/ops/users', { $skiptoken: opsMembers })).status).toBe(200);
      });

      it('a token from another scope selects only rows of the scope it is used in', async () => {
        const token = await tokenOf(`${A.base}/groups/odata`, 1);
        const response = await get('/groups/odata', { $skiptoken: token }, B.base);
        expect([200, 400]).toContain(response.status);
        if (response.status === 200) {
          const bIds = new Set(B.groups.map((g) => g.id));
          for (const row of response.body.value as Row[]) expect(bIds.has(row.id)).toBe(true);
        }
      });

      it('a token with the right fingerprint and forged values only positions the cursor (values are bound)', async () => {
        const token = await tokenOf(`${A.base}/groups/odata?$orderby=name`);
        const payload = decode(token);
        for (const name of ['Team', "x' OR 1=1 --", 'Quality ｚ', '']) {
          const forged = encode({ ...payload, k: [name, '00000000-0000-0000-0000-000000000000'] });
          const got = (await rows('/groups/odata', { $orderby: 'name', $skiptoken: forged })).map((r) => r.id);
          const expected = sortRecords(A.groups, [{ value: (g) => g.name, direction: 'asc' }]).filter((g) => compareCodePoints(g.name, name) >= 0).map((g) => g.id);
          expect({ name, got }).toEqual({ name, got: expected });
        }
      });
    });
  });

  describe('member collections with options', () => {
    it('/groups/{key}/users: $filter, $orderby, $select, $count, $top, $search', async () => {
      const response = await get('/groups/DEV/users', { $filter: 'isActive eq false', $orderby: 'name desc', $select: 'userKey,name', $count: 'true' });
      expect(response.status).toBe(200);
      expect(response.body['@odata.context']).toBe(`${A.base}/$metadata#Users`);
      expect(response.body['@odata.count']).toBe(2);
      expect(response.body.value).toEqual([
        { id: A.user('frank').id, userKey: 'frank', name: 'Frank' },
        { id: A.user("o'brien").id, userKey: "o'brien", name: "Carol O'Brien" },
      ]);
      const dev = A.group('dev');
      expect((await rows(`/groups/${dev.id}/users`, { $top: '3' })).map((r) => r['userKey'])).toEqual(byKey(dev.users, (u) => u.userKey).slice(0, 3).map((u) => u.userKey));
      expect((await rows(`/groups/${dev.id}/users`, { $search: 'EXAMPLE', $orderby: 'userKey desc' })).map((r) => r['userKey'])).toEqual(
        sortRecords(
          dev.users.filter((u) => [u.userKey, u.name, u.email].some((v) => v?.toLowerCase().includes('example'))),
          [{ value: (u) => u.userKey, direction: 'desc' }],
        ).map((u) => u.userKey),
      );
      expect((await rows('/groups/ops/users', { $filter: "groups/any(g: g/groupKey eq 'DevOps')" })).map((r) => r['userKey'])).toEqual(["o'brien"]);
    });

    it('/users/{key}/groups: $filter on users/$count, $orderby, $expand', async () => {
      const alice = A.user('alice');
      expect((await rows(`/users/${alice.id}/groups`, { $filter: 'users/$count gt 2' })).map((r) => r['groupKey'])).toEqual(
        expectedKeys((g) => g.users.some((u) => u.userKey === 'alice') && g.users.length > 2),
      );
      const judy = await rows('/users/judy/groups', { $orderby: 'groupKey desc', $select: 'groupKey', $expand: 'users($select=userKey;$filter=isActive)' });
      expect(judy).toEqual(
        sortRecords(groupsOf(A, 'judy'), [{ value: (g) => g.groupKey, direction: 'desc' }]).map((g) => ({
          id: g.id,
          groupKey: g.groupKey,
          users: byKey(g.users.filter((u) => u.isActive), (u) => u.userKey).map((u) => ({ id: u.id, userKey: u.userKey })),
        })),
      );
      expectODataError(await get('/users/judy/groups', { $filter: 'nope' }), 'unknown property on a member list');
    });
  });

  describe('$metadata', () => {
    it('is well-formed CSDL XML listing the properties and navigations of Group and User', async () => {
      const response = await t.http.get(`${A.base}/$metadata`);
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/xml/);
      const xml = response.text;
      expect(xml.startsWith('<?xml')).toBe(true);
      const root = parseXml(xml);
      expect(root.name).toBe('edmx:Edmx');
      expect(root.attributes['Version']).toBe('4.0');
      const types = Object.fromEntries(findAll(root, 'EntityType').map((type) => [type.attributes['Name'], type]));
      expect(Object.keys(types).sort()).toEqual(['Group', 'User']);
      const sampleGroup = (await rows('/groups/odata', { $top: '1' }))[0]!;
      const sampleUser = (await rows('/users/odata', { $top: '1' }))[0]!;
      for (const [name, sample, navigation, target] of [
        ['Group', sampleGroup, 'users', 'User'],
        ['User', sampleUser, 'groups', 'Group'],
      ] as const) {
        const type = types[name]!;
        const properties = findAll(type, 'Property');
        // exactly the properties the collection returns
        expect(properties.map((p) => p.attributes['Name']).sort()).toEqual(Object.keys(sample).sort());
        const byName = Object.fromEntries(properties.map((p) => [p.attributes['Name'], p.attributes]));
        expect(byName['id']).toMatchObject({ Type: 'Edm.Guid', Nullable: 'false' });
        expect(byName['name']).toMatchObject({ Type: 'Edm.String', Nullable: 'false' });
        expect(byName['email']).toMatchObject({ Type: 'Edm.String', Nullable: 'true' });
        expect(byName['isActive']).toMatchObject({ Type: 'Edm.Boolean' });
        expect(byName['createdOn']).toMatchObject({ Type: 'Edm.DateTimeOffset' });
        expect(findAll(type, 'PropertyRef').map((p) => p.attributes['Name'])).toEqual(['id']);
        const navigations = findAll(type, 'NavigationProperty');
        expect(navigations.map((n) => n.attributes)).toEqual([
          { Name: navigation, Type: `Collection(Identity.${target})`, Partner: name === 'Group' ? 'groups' : 'users' },
        ]);
      }
      expect(findAll(types['Group']!, 'Property').find((p) => p.attributes['Name'] === 'notes')!.attributes).toMatchObject({ Nullable: 'true', MaxLength: '4000' });
      const sets = findAll(root, 'EntitySet').map((set) => set.attributes);
      expect(sets).toEqual([
        { Name: 'Groups', EntityType: 'Identity.Group' },
        { Name: 'Users', EntityType: 'Identity.User' },
      ]);
      expect(findAll(root, 'NavigationPropertyBinding').map((b) => b.attributes)).toEqual([
        { Path: 'users', Target: 'Users' },
        { Path: 'groups', Target: 'Groups' },
      ]);
      // the same document in every scope
      expect((await t.http.get(`${B.base}/$metadata`).expect(200)).text).toBe(xml);
    });

    it('comes as CSDL JSON with $format=json', async () => {
      const response = await t.http.get(`${A.base}/$metadata?$format=json`);
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      const body = response.body;
      expect(body.$Version).toBe('4.0');
      expect(body.$EntityContainer).toBe('Identity.Container');
      const group = body.Identity.Group;
      const user = body.Identity.User;
      expect(group.$Kind).toBe('EntityType');
      expect(group.$Key).toEqual(['id']);
      const propertiesOf = (type: Record<string, { $Kind?: string }>) =>
        Object.keys(type)
          .filter((name) => !name.startsWith('$') && type[name]!.$Kind !== 'NavigationProperty')
          .sort();
      expect(propertiesOf(group)).toEqual([...GROUP_PROPERTIES].sort());
      expect(propertiesOf(user)).toEqual([...USER_PROPERTIES].sort());
      expect(group.groupKey).toMatchObject({ $Type: 'Edm.String' });
      expect(group.groupKey.$Nullable).toBeUndefined();
      expect(group.email).toMatchObject({ $Type: 'Edm.String', $Nullable: true });
      expect(group.users).toEqual({ $Kind: 'NavigationProperty', $Type: 'Identity.User', $Collection: true, $Partner: 'groups' });
      expect(user.groups).toMatchObject({ $Kind: 'NavigationProperty', $Type: 'Identity.Group', $Collection: true });
      expect(body.Identity.Container.Groups).toMatchObject({ $Collection: true, $Type: 'Identity.Group', $NavigationPropertyBinding: { users: 'Users' } });
      expect(body.Identity.Container.Users).toMatchObject({ $Type: 'Identity.User', $NavigationPropertyBinding: { groups: 'Groups' } });
    });

    it('refuses an unknown $format with 400', async () => {
      const response = await t.http.get(`${A.base}/$metadata?$format=yaml`);
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('BadRequest');
    });
  });

  describe('errors: 400 in the OData error shape, never 5xx', () => {
    it.each<[string, Record<string, string>]>([
      ['name eq', { $filter: 'name eq' }],
      ["name eq 'x' and", { $filter: "name eq 'x' and" }],
      ["(name eq 'x'", { $filter: "(name eq 'x'" }],
      ["name eq 'unterminated", { $filter: "name eq 'unterminated" }],
      ["name eqq 'x'", { $filter: "name eqq 'x'" }],
      ["name eq 'a' 'b'", { $filter: "name eq 'a' 'b'" }],
      ['users/any(u u/isActive)', { $filter: 'users/any(u u/isActive)' }],
      ['$orderby=name sideways', { $orderby: 'name sideways' }],
      ['$orderby=name,', { $orderby: 'name,' }],
      ['$select=name,,email', { $select: 'name,,email' }],
      ['$expand=users(', { $expand: 'users(' }],
      ['$expand=users($top=1', { $expand: 'users($top=1' }],
      ['$search="unterminated', { $search: '"unterminated' }],
      ['$search=a AND', { $search: 'a AND' }],
      ["tolower(name, name) eq 'x'", { $filter: "tolower(name, name) eq 'x'" }],
    ])('a syntax error (%s) → 400 with its position', async (_what, options) => {
      const error = expectODataError(await get('/groups/odata', options), JSON.stringify(options));
      expect(error.message).toMatch(/position \d+/);
      expect(error.target).toBe(Object.keys(options)[0]);
    });

    it('reports the position of a syntax error where it is', async () => {
      const error = expectODataError(await get('/groups/odata', { $filter: "isActive and name eq 'x' or or" }), 'or or');
      const position = Number(/position (\d+)/.exec(error.message)![1]);
      expect(position).toBeGreaterThanOrEqual("isActive and name eq 'x' ".length);
    });

    it.each<[string, Record<string, string>, string]>([
      ['$filter', { $filter: "colour eq 'x'" }, 'colour'],
      ['$filter in a lambda', { $filter: "users/any(u: u/colour eq 'x')" }, 'colour'],
      ['$filter after an and', { $filter: "groupKey eq 'x' and shoeSize gt 3" }, 'shoeSize'],
      ['an unknown lambda variable', { $filter: "users/any(u: v/userKey eq 'x')" }, 'v'],
      ['$orderby', { $orderby: 'colour desc' }, 'colour'],
      ['$select', { $select: 'groupKey,colour' }, 'colour'],
      ['$expand', { $expand: 'members' }, 'members'],
      ['$expand/$select', { $expand: 'users($select=shoeSize)' }, 'shoeSize'],
      ['$expand/$filter', { $expand: 'users($filter=notes eq null)' }, 'notes'],
    ])('an unknown property in %s → 400 naming it', async (_what, options, name) => {
      const error = expectODataError(await get('/groups/odata', options), JSON.stringify(options));
      expect(error.message).toContain(`'${name}'`);
    });

    it.each<[string]>([
      ['name eq 5'],
      ['isActive gt true'],
      ["createdOn eq 'yesterday'"],
      ['length(isActive) eq 1'],
      ['name'],
      ["users eq 'x'"],
      ["users/$count eq 'x'"],
      ['contains(name, 5)'],
      ["substring(name, 'a') eq 'b'"],
      ["isActive and 'x'"],
      ['id eq 5'],
      ["id eq 'not-a-guid'"],
      ['email gt null'],
      ["groupKey in (1, 'x')"],
    ])('a type mismatch (%s) → 400', async (filter) => {
      const error = expectODataError(await get('/groups/odata', { $filter: filter }), filter);
      expect(error.target).toBe('$filter');
      expect(error.message).toMatch(/mismatch|type|argument/i);
    });

    it.each<[string, string]>([
      ["matchesPattern(name, '^a')", 'matchesPattern'],
      ['totaloffsetminutes(createdOn) eq 0', 'totaloffsetminutes'],
      ['maxdatetime() eq createdOn', 'maxdatetime'],
      ["geo.distance(name, name) lt 1", 'geo.distance'],
    ])('an unsupported function (%s) → 400 naming it or pointing at it', async (filter, name) => {
      const error = expectODataError(await get('/groups/odata', { $filter: filter }), filter);
      // Functions odata-v4-parser does not know at all come back as syntax errors at the call.
      const position = /position (\d+)/.exec(error.message);
      if (!error.message.toLowerCase().includes(name.toLowerCase())) {
        expect(position).not.toBeNull();
        expect(Number(position![1])).toBeGreaterThanOrEqual(filter.indexOf(name));
        expect(Number(position![1])).toBeLessThanOrEqual(filter.indexOf(name) + name.length);
      }
    });

    it('nested lambdas with a predicate (u/groups/any(g: …)) answer 200 with the right rows or 400, never 5xx', async () => {
      const filter = "users/any(u: u/groups/any(g: g/groupKey eq 'finance'))";
      const response = await get('/groups/odata', { $filter: filter });
      if (response.status === 200) {
        expect((response.body.value as Row[]).map((row) => row['groupKey'])).toEqual(
          expectedKeys((g) => g.users.some((u) => groupsOf(A, u.userKey).some((o) => o.groupKey === 'finance'))),
        );
      } else {
        expect(expectODataError(response, filter).target).toBe('$filter');
      }
    });

    it('limits: $top ≤ 1000, 8 KB of query, 32 levels of nesting', async () => {
      expect((await get('/groups/odata', { $top: '1000' })).status).toBe(200);
      expect(expectODataError(await get('/groups/odata', { $top: '1001' }), '$top=1001').target).toBe('$top');
      expectODataError(await get('/groups/odata', { $expand: 'users($top=1001)' }), 'nested $top=1001');

      expect((await get('/groups/odata', { $filter: `name eq '${'a'.repeat(8000)}'` })).status).toBe(200);
      const long = expectODataError(await get('/groups/odata', { $filter: `name eq '${'a'.repeat(8200)}'` }), '8 KB');
      expect(long.message).toMatch(/longer|8192|8 ?KB/i);
      expectODataError(await get('/groups/odata', { $search: 'x'.repeat(5000), $orderby: 'name,'.repeat(700) + 'name' }), 'long over several options');

      const nested = (depth: number) => `${'('.repeat(depth)}isActive${')'.repeat(depth)}`;
      expect((await get('/groups/odata', { $filter: nested(20) })).status).toBe(200);
      expect(expectODataError(await get('/groups/odata', { $filter: nested(40) }), 'nested 40').message).toContain('32');
      expect(expectODataError(await get('/groups/odata', { $filter: nested(2000) }), 'nested 2000').message).toContain('32');
      expectODataError(await get('/groups/odata', { $filter: `${'not ('.repeat(40)}isActive${')'.repeat(40)}` }), 'not nested');
      const inLambda = (depth: number) => `users/any(u: ${'('.repeat(depth)}u/isActive${')'.repeat(depth)})`;
      expect((await get('/groups/odata', { $filter: inLambda(20) })).status).toBe(200);
      expectODataError(await get('/groups/odata', { $filter: inLambda(40) }), 'nested in a lambda');
      expectODataError(await get('/groups/odata', { $expand: `users($filter=${'('.repeat(40)}isActive${')'.repeat(40)})` }), 'nested in $expand');
      expectODataError(await get('/groups/odata', { $search: `${'('.repeat(40)}a${')'.repeat(40)}` }), '$search nested');
      expectODataError(await get('/groups/odata', { $expand: 'users($expand=groups($expand=users($expand=groups)))' }), '$expand 4 levels');
    });

    it('unsupported options and bad values → 400', async () => {
      const bad: Array<Record<string, string>> = [{ $apply: 'groupby((name))' }, { $format: 'xml' }, { '@p': "'x'" }, { $top: '1', TOP: '2' }, { $count: 'true', $inlinecount: 'allpages' }, { $skip: '-1' }, { $inlinecount: 'some' }];
      for (const options of bad) {
        expectODataError(await get('/groups/odata', options), JSON.stringify(options));
      }
    });
  });
});
