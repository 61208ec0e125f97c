import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Response } from 'supertest';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';

/*
 * Tenant isolation: a scope (tenantKey, orgKey) sees and touches only its own records. Scope A is
 * populated once; every route is then tried from other scopes B, addressing A's records by id and by
 * key, and referencing A's users and groups as members. B must see nothing of A, and A must end
 * byte-for-byte as it started.
 */

interface Scope {
  tenantKey: string;
  orgKey: string;
  base: string;
}

interface Rec {
  id: string;
  key: string;
}

const GROUP_SETTERS: Array<[string, string]> = [
  ['name', '"Hijacked"'],
  ['email', '"evil@example.com"'],
  ['email', 'null'],
  ['notes', '"pwned"'],
  ['isActive', 'false'],
  ['groupKey', '"stolen"'],
];
const USER_SETTERS: Array<[string, string]> = [
  ['name', '"Hijacked"'],
  ['email', '"evil@example.com"'],
  ['email', 'null'],
  ['isActive', 'false'],
  ['userKey', '"stolen"'],
];
const ACTIONS = ['add', 'addById', 'remove', 'removeById'] as const;

function scopeOf(tenantKey: string, orgKey: string): Scope {
  return { tenantKey, orgKey, base: `/api/${tenantKey}/${orgKey}/identity` };
}

describe('scope isolation', () => {
  let t: TestApp;
  const a = newScope('a');
  const aUsers: Record<string, Rec> = {};
  const aGroups: Record<string, Rec> = {};
  /** Path → raw response body of every read of scope A, taken before any other scope acts. */
  let before: Record<string, string>;

  /** The raw body of every read route of A (lists, collections, each record by id and key, members). */
  async function readEverything(base: string): Promise<Record<string, string>> {
    const paths = [
      '/groups',
      '/groups?pageSize=1000',
      '/users',
      '/users?pageSize=1000',
      '/groups/odata?$count=true',
      '/users/odata?$count=true',
    ];
    for (const group of Object.values(aGroups)) {
      paths.push(`/groups/${group.id}`, `/groups/${group.key}`, `/groups/${group.id}/users?$count=true`);
    }
    for (const user of Object.values(aUsers)) {
      paths.push(`/users/${user.id}`, `/users/${user.key}`, `/users/${user.id}/groups?$count=true`);
    }
    const bodies: Record<string, string> = {};
    for (const path of paths) {
      const response = await t.http.get(`${base}${path}`).expect(200);
      bodies[path] = response.text;
    }
    return bodies;
  }

  function expectNotFound(response: Response, target: string): void {
    expect(response.status).toBe(404);
    expect(response.body.error).toMatchObject({ code: 'NotFound', target });
  }

  function expectUnknownReferences(response: Response, targets: string[]): void {
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('UnknownReferences');
    expect(response.body.error.details.map((detail: { target: string }) => detail.target)).toEqual(targets);
  }

  beforeAll(async () => {
    t = await startTestApp();
    for (const key of ['alice', 'bob', 'carol', 'dave']) {
      const id = (await t.http.post(`${a.base}/users`).send({ userKey: key, name: `A ${key}`, email: `${key}@a.test` }).expect(201)).body;
      aUsers[key] = { id, key };
    }
    const groups: Array<[string, object]> = [
      ['ops', { groupKey: 'ops', name: 'A Ops', email: 'ops@a.test', notes: 'A notes', users: ['alice', 'bob'] }],
      ['sales', { groupKey: 'sales', name: 'A Sales', isActive: false }],
      ['empty', { groupKey: 'empty', name: 'A Empty' }],
    ];
    for (const [key, body] of groups) {
      aGroups[key] = { id: (await t.http.post(`${a.base}/groups`).send(body).expect(201)).body, key };
    }
    await t.http.post(`${a.base}/groups/sales/users/add`).send(['carol']).expect(200);
    await t.http.post(`${a.base}/users/alice/groups/add`).send(['sales']).expect(200);
    before = await readEverything(a.base);
    // The snapshot really holds A's data (so comparing it later means something).
    expect(JSON.parse(before['/groups/odata?$count=true']!)['@odata.count']).toBe(3);
    expect(JSON.parse(before['/users/odata?$count=true']!)['@odata.count']).toBe(4);
    expect(JSON.parse(before[`/groups/${aGroups['ops']!.id}`]!).usersCount).toBe(2);
    expect(JSON.parse(before[`/users/${aUsers['alice']!.id}`]!).groupsCount).toBe(2);
  });

  afterAll(async () => {
    await t?.close();
  });

  const other = newScope('b');
  const variants: Array<[string, () => Scope]> = [
    ['a different tenantKey (same orgKey)', () => scopeOf(other.tenantKey, a.orgKey)],
    ['the same tenantKey and a different orgKey', () => scopeOf(a.tenantKey, other.orgKey)],
    ['the tenantKey in another letter case (keys compare exactly)', () => scopeOf(a.tenantKey.toUpperCase(), a.orgKey)],
    ['the orgKey in another letter case (keys compare exactly)', () => scopeOf(a.tenantKey, a.orgKey.toUpperCase())],
    ['tenantKey and orgKey swapped', () => scopeOf(a.orgKey, a.tenantKey)],
  ];

  describe.each(variants)('from a scope with %s', (_label, makeScope) => {
    const b = makeScope();

    it('is a different scope from A', () => {
      expect(`${b.tenantKey}/${b.orgKey}`).not.toBe(`${a.tenantKey}/${a.orgKey}`);
    });

    it('lists no groups and no users: plain lists, OData collections and counts are empty', async () => {
      expect((await t.http.get(`${b.base}/groups`).expect(200)).body).toEqual([]);
      expect((await t.http.get(`${b.base}/groups?page=1&pageSize=1000`).expect(200)).body).toEqual([]);
      expect((await t.http.get(`${b.base}/users`).expect(200)).body).toEqual([]);
      expect((await t.http.get(`${b.base}/users?pageSize=1000`).expect(200)).body).toEqual([]);
      for (const [collection, entitySet] of [['groups', 'Groups'], ['users', 'Users']] as const) {
        const odata = await t.http.get(`${b.base}/${collection}/odata?$count=true&$top=1000`).expect(200);
        expect(odata.body).toEqual({ '@odata.context': `${b.base}/$metadata#${entitySet}`, '@odata.count': 0, value: [] });
        const inline = await t.http.get(`${b.base}/${collection}/odata?$inlinecount=allpages`).expect(200);
        expect(inline.body['@odata.count']).toBe(0);
      }
    });

    it("answers 404 for A's groups and users by id, by key in any case, and for their member lists", async () => {
      for (const group of Object.values(aGroups)) {
        for (const x of [group.id, group.id.toUpperCase(), group.key, group.key.toUpperCase()]) {
          expectNotFound(await t.http.get(`${b.base}/groups/${x}`), x);
          expectNotFound(await t.http.get(`${b.base}/groups/${x}/users`), x);
          expectNotFound(await t.http.get(`${b.base}/groups/${x}/users?$count=true&$top=10`), x);
        }
      }
      for (const user of Object.values(aUsers)) {
        for (const x of [user.id, user.id.toUpperCase(), user.key, user.key.toUpperCase()]) {
          expectNotFound(await t.http.get(`${b.base}/users/${x}`), x);
          expectNotFound(await t.http.get(`${b.base}/users/${x}/groups`), x);
          expectNotFound(await t.http.get(`${b.base}/users/${x}/groups?$inlinecount=allpages`), x);
        }
      }
    });

    it("answers 404 to every write addressed to one of A's groups, by id or by key", async () => {
      const aUserKeys = Object.keys(aUsers);
      const aUserIds = Object.values(aUsers).map((user) => user.id);
      for (const group of Object.values(aGroups)) {
        for (const x of [group.id, group.key]) {
          const path = `${b.base}/groups/${x}`;
          for (const action of ACTIONS) {
            const body = action.endsWith('ById') ? aUserIds : aUserKeys;
            expectNotFound(await t.http.post(`${path}/users/${action}`).send(body), x);
            expectNotFound(await t.http.post(`${path}/users/${action}`).send([]), x);
          }
          expectNotFound(await t.http.put(`${path}/users`).send(aUserKeys), x);
          expectNotFound(await t.http.put(`${path}/users`).send([]), x);
          for (const [property, value] of GROUP_SETTERS) {
            expectNotFound(await t.http.put(`${path}/${property}`).type('json').send(value), x);
          }
          expectNotFound(await t.http.patch(path).send({ name: 'Hijacked', notes: null }), x);
          expectNotFound(await t.http.patch(path).send({}), x);
          expectNotFound(await t.http.put(path).send({ groupKey: group.key, name: 'Hijacked', users: [] }), x);
          expectNotFound(await t.http.delete(path), x);
        }
      }
    });

    it("answers 404 to every write addressed to one of A's users, by id or by key", async () => {
      const aGroupKeys = Object.keys(aGroups);
      const aGroupIds = Object.values(aGroups).map((group) => group.id);
      for (const user of Object.values(aUsers)) {
        for (const x of [user.id, user.key]) {
          const path = `${b.base}/users/${x}`;
          for (const action of ACTIONS) {
            const body = action.endsWith('ById') ? aGroupIds : aGroupKeys;
            expectNotFound(await t.http.post(`${path}/groups/${action}`).send(body), x);
            expectNotFound(await t.http.post(`${path}/groups/${action}`).send([]), x);
          }
          expectNotFound(await t.http.put(`${path}/groups`).send(aGroupKeys), x);
          expectNotFound(await t.http.put(`${path}/groups`).send([]), x);
          for (const [property, value] of USER_SETTERS) {
            expectNotFound(await t.http.put(`${path}/${property}`).type('json').send(value), x);
          }
          expectNotFound(await t.http.patch(path).send({ name: 'Hijacked' }), x);
          expectNotFound(await t.http.patch(path).send({}), x);
          expectNotFound(await t.http.put(path).send({ userKey: user.key, name: 'Hijacked', groups: [] }), x);
          expectNotFound(await t.http.delete(path), x);
        }
      }
    });

    it("rejects A's users as members of its own group (400 UnknownReferences by key and by id), changing nothing", async () => {
      const zed = (await t.http.post(`${b.base}/users`).send({ userKey: 'zed', name: 'B zed' }).expect(201)).body;
      const team = (await t.http.post(`${b.base}/groups`).send({ groupKey: 'team', name: 'B team' }).expect(201)).body;
      const { id: aliceId } = aUsers['alice']!;
      const { id: bobId } = aUsers['bob']!;
      const teamBefore = (await t.http.get(`${b.base}/groups/team`).expect(200)).text;

      expectUnknownReferences(await t.http.post(`${b.base}/groups/team/users/add`).send(['alice', 'bob']), ['alice', 'bob']);
      expectUnknownReferences(await t.http.post(`${b.base}/groups/${team}/users/add`).send(['zed', 'carol']), ['carol']);
      expectUnknownReferences(await t.http.post(`${b.base}/groups/team/users/addById`).send([aliceId, bobId]), [aliceId, bobId]);
      expectUnknownReferences(await t.http.post(`${b.base}/groups/team/users/addById`).send([zed, aliceId]), [aliceId]);
      expectUnknownReferences(await t.http.post(`${b.base}/groups/team/users/remove`).send(['alice']), ['alice']);
      expectUnknownReferences(await t.http.post(`${b.base}/groups/team/users/removeById`).send([bobId]), [bobId]);
      // A's user ids are not keys of B's users either.
      expectUnknownReferences(await t.http.post(`${b.base}/groups/team/users/add`).send([aliceId]), [aliceId]);
      expectUnknownReferences(await t.http.put(`${b.base}/groups/team/users`).send(['zed', 'dave']), ['dave']);
      expectUnknownReferences(
        await t.http.put(`${b.base}/groups/team/users`).send([{ id: aliceId, userKey: 'alice' }]),
        ['alice'],
      );
      expectUnknownReferences(
        await t.http.put(`${b.base}/groups/team`).send({ groupKey: 'team', name: 'Changed', users: ['zed', 'bob'] }),
        ['bob'],
      );
      expect((await t.http.get(`${b.base}/groups/team`).expect(200)).text).toBe(teamBefore);
      expect((await t.http.get(`${b.base}/users/zed`).expect(200)).body).toMatchObject({ groupsCount: 0, groups: [] });
    });

    it("rejects A's groups as groups of its own user (400 UnknownReferences by key and by id), changing nothing", async () => {
      const yan = (await t.http.post(`${b.base}/users`).send({ userKey: 'yan', name: 'B yan' }).expect(201)).body;
      const crew = (await t.http.post(`${b.base}/groups`).send({ groupKey: 'crew', name: 'B crew' }).expect(201)).body;
      const { id: opsId } = aGroups['ops']!;
      const { id: salesId } = aGroups['sales']!;
      const yanBefore = (await t.http.get(`${b.base}/users/${yan}`).expect(200)).text;

      expectUnknownReferences(await t.http.post(`${b.base}/users/yan/groups/add`).send(['ops', 'sales']), ['ops', 'sales']);
      expectUnknownReferences(await t.http.post(`${b.base}/users/yan/groups/add`).send(['crew', 'empty']), ['empty']);
      expectUnknownReferences(await t.http.post(`${b.base}/users/${yan}/groups/addById`).send([crew, opsId]), [opsId]);
      expectUnknownReferences(await t.http.post(`${b.base}/users/yan/groups/remove`).send(['sales']), ['sales']);
      expectUnknownReferences(await t.http.post(`${b.base}/users/yan/groups/removeById`).send([salesId]), [salesId]);
      expectUnknownReferences(await t.http.post(`${b.base}/users/yan/groups/add`).send([opsId]), [opsId]);
      expectUnknownReferences(await t.http.put(`${b.base}/users/yan/groups`).send(['crew', 'ops']), ['ops']);
      expectUnknownReferences(await t.http.put(`${b.base}/users/yan/groups`).send([{ id: opsId, groupKey: 'ops' }]), ['ops']);
      expectUnknownReferences(
        await t.http.put(`${b.base}/users/yan`).send({ userKey: 'yan', name: 'Changed', groups: ['crew', 'sales'] }),
        ['sales'],
      );
      expect((await t.http.get(`${b.base}/users/yan`).expect(200)).text).toBe(yanBefore);
      expect((await t.http.get(`${b.base}/groups/crew`).expect(200)).body).toMatchObject({ usersCount: 0, users: [] });
    });

    it("creates nothing when a create body names A's users or groups, by key or by id", async () => {
      const { id: aliceId } = aUsers['alice']!;
      const { id: opsId } = aGroups['ops']!;
      expectUnknownReferences(await t.http.post(`${b.base}/groups`).send({ groupKey: 'g1', name: 'G', users: ['alice'] }), ['alice']);
      expectUnknownReferences(await t.http.post(`${b.base}/groups`).send({ groupKey: 'g2', name: 'G', users: [aliceId] }), [aliceId]);
      expectUnknownReferences(await t.http.post(`${b.base}/users`).send({ userKey: 'u1', name: 'U', groups: ['ops'] }), ['ops']);
      expectUnknownReferences(await t.http.post(`${b.base}/users`).send({ userKey: 'u2', name: 'U', groups: [opsId] }), [opsId]);
      for (const path of ['/groups/g1', '/groups/g2', '/users/u1', '/users/u2']) {
        expectNotFound(await t.http.get(`${b.base}${path}`), path.split('/')[2]!);
      }
      const groups = (await t.http.get(`${b.base}/groups?pageSize=1000`).expect(200)).body as Array<{ groupKey: string }>;
      const users = (await t.http.get(`${b.base}/users?pageSize=1000`).expect(200)).body as Array<{ userKey: string }>;
      expect(groups.map((group) => group.groupKey)).not.toContain('g1');
      expect(groups.map((group) => group.groupKey)).not.toContain('g2');
      expect(users.map((user) => user.userKey)).not.toContain('u1');
      expect(users.map((user) => user.userKey)).not.toContain('u2');
    });

    it("reuses A's keys for records of its own, which stay apart from A's", async () => {
      const ops = await t.http.post(`${b.base}/groups`).set('Prefer', 'return=representation').send({ groupKey: 'ops', name: 'B Ops' }).expect(201);
      expect(ops.body.id).not.toBe(aGroups['ops']!.id);
      expect(ops.headers['location']).toBe(`${b.base}/groups/${ops.body.id}`);
      expect(ops.body).toMatchObject({ groupKey: 'ops', name: 'B Ops', usersCount: 0, users: [] });
      const sales = (await t.http.post(`${b.base}/groups`).send({ groupKey: 'SALES', name: 'B Sales' }).expect(201)).body;
      expect(sales).not.toBe(aGroups['sales']!.id);
      const alice = (await t.http.post(`${b.base}/users`).send({ userKey: 'alice', name: 'B alice', groups: ['ops'] }).expect(201)).body;
      expect(alice).not.toBe(aUsers['alice']!.id);

      // Keys now resolve to B's own records.
      expect((await t.http.get(`${b.base}/groups/OPS`).expect(200)).body).toMatchObject({ id: ops.body.id, name: 'B Ops', usersCount: 1 });
      const members = await t.http.get(`${b.base}/groups/ops/users?$count=true`).expect(200);
      expect(members.body['@odata.count']).toBe(1);
      expect(members.body.value).toHaveLength(1);
      expect(members.body.value[0]).toMatchObject({ id: alice, userKey: 'alice', name: 'B alice' });
      expect((await t.http.post(`${b.base}/groups/sales/users/add`).send(['alice']).expect(200)).body).toEqual({ added: 1, unchanged: 0 });
      expect((await t.http.get(`${b.base}/users/alice/groups`).expect(200)).body.value.map((g: { id: string }) => g.id).sort()).toEqual(
        [ops.body.id, sales].sort(),
      );

      // A's ids still mean nothing here, even though B has records with the same keys.
      expectNotFound(await t.http.get(`${b.base}/groups/${aGroups['ops']!.id}`), aGroups['ops']!.id);
      expectNotFound(await t.http.get(`${b.base}/users/${aUsers['alice']!.id}`), aUsers['alice']!.id);
      expectUnknownReferences(
        await t.http.post(`${b.base}/groups/ops/users/addById`).send([aUsers['alice']!.id]),
        [aUsers['alice']!.id],
      );
      expectUnknownReferences(
        await t.http.post(`${b.base}/users/alice/groups/removeById`).send([aGroups['ops']!.id]),
        [aGroups['ops']!.id],
      );

      // Renaming to a key only A uses is no conflict; deleting B's record leaves A's alone.
      await t.http.put(`${b.base}/groups/ops/groupKey`).type('json').send('"empty"').expect(204);
      await t.http.patch(`${b.base}/users/alice`).send({ userKey: 'bob' }).expect(200);
      await t.http.put(`${b.base}/groups/sales`).send({ groupKey: 'dave', name: 'B Dave', users: ['bob'] }).expect(200);
      await t.http.delete(`${b.base}/groups/empty`).expect(204);
      await t.http.delete(`${b.base}/users/bob`).expect(204);
      await t.http.delete(`${b.base}/groups/dave`).expect(204);
      expectNotFound(await t.http.get(`${b.base}/groups/empty`), 'empty');
      expectNotFound(await t.http.get(`${b.base}/users/bob`), 'bob');
      // A's records of those keys are still there.
      await t.http.get(`${a.base}/groups/empty`).expect(200);
      await t.http.get(`${a.base}/groups/ops`).expect(200);
      await t.http.get(`${a.base}/users/bob`).expect(200);
    });

    it("lists only its own records, never A's", async () => {
      const aIds = new Set([...Object.values(aGroups), ...Object.values(aUsers)].map((record) => record.id));
      const groups = (await t.http.get(`${b.base}/groups?pageSize=1000`).expect(200)).body as Array<{ id: string }>;
      const users = (await t.http.get(`${b.base}/users/odata?$count=true`).expect(200)).body.value as Array<{ id: string }>;
      expect(groups.length + users.length).toBeGreaterThan(0); // the tests above created B records
      for (const record of [...groups, ...users]) expect(aIds.has(record.id)).toBe(false);
      for (const group of groups) {
        const members = (await t.http.get(`${b.base}/groups/${group.id}/users`).expect(200)).body.value as Array<{ id: string }>;
        for (const member of members) expect(aIds.has(member.id)).toBe(false);
      }
    });
  });

  it('the upper-case tenantKey scope is distinct from A in both directions', async () => {
    const upper = scopeOf(a.tenantKey.toUpperCase(), a.orgKey);
    const id = (await t.http.post(`${upper.base}/groups`).send({ groupKey: 'only-upper', name: 'U' }).expect(201)).body;
    expectNotFound(await t.http.get(`${a.base}/groups/only-upper`), 'only-upper');
    expectNotFound(await t.http.get(`${a.base}/groups/${id}`), id);
    expect((await t.http.get(`${upper.base}/groups/only-upper`).expect(200)).body.id).toBe(id);
    await t.http.delete(`${upper.base}/groups/only-upper`).expect(204);
  });

  it("leaves A's data byte-for-byte as it was", async () => {
    const after = await readEverything(a.base);
    expect(Object.keys(after)).toEqual(Object.keys(before));
    for (const path of Object.keys(before)) {
      expect({ path, body: after[path] }).toEqual({ path, body: before[path] });
    }
  });
});
