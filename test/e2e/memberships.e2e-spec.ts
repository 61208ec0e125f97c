import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';

/**
 * Memberships from both ends: a group's users (`/groups/{key}/users…`) and a user's groups
 * (`/users/{key}/groups…`). Most rules are the same on both sides, so they run once per side.
 */
interface Side {
  label: string;
  /** The collection of the owner (the record whose membership list changes) and of its members. */
  owners: 'groups' | 'users';
  members: 'groups' | 'users';
  memberKeyProperty: 'groupKey' | 'userKey';
  /** The owner's navigation property: `users` on a group, `groups` on a user. */
  navigation: 'users' | 'groups';
}

const GROUP_SIDE: Side = {
  label: 'group → users',
  owners: 'groups',
  members: 'users',
  memberKeyProperty: 'userKey',
  navigation: 'users',
};
const USER_SIDE: Side = {
  label: 'user → groups',
  owners: 'users',
  members: 'groups',
  memberKeyProperty: 'groupKey',
  navigation: 'groups',
};

const MAX_PER_CALL = 10_000;

/** Lets the clock move on, so a later write gets a later modifiedOn (milliseconds in the API). */
const clockTick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('memberships', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    // Listen once, so supertest reuses this port instead of opening (and closing) a listener per
    // request: that halves the cost of the thousands of requests the bulk and concurrency tests send.
    const server = t.app.getHttpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  });
  afterAll(async () => {
    await t?.close();
  });

  async function create(base: string, collection: 'groups' | 'users', key: string): Promise<string> {
    const keyProperty = collection === 'groups' ? 'groupKey' : 'userKey';
    const response = await t.http.post(`${base}/${collection}`).send({ [keyProperty]: key, name: `Name of ${key}` });
    expect(response.status).toBe(201);
    return response.body as string;
  }

  /** Creates the records in parallel batches; returns their ids by key. */
  async function createMany(base: string, collection: 'groups' | 'users', keys: string[], batch = 200): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    for (let i = 0; i < keys.length; i += batch) {
      const slice = keys.slice(i, i + batch);
      const created = await Promise.all(slice.map((key) => create(base, collection, key)));
      slice.forEach((key, index) => ids.set(key, created[index]!));
    }
    return ids;
  }

  /** An owner and its would-be members on one side; returns the ids by key. */
  async function setUp(side: Side, base: string, memberKeys: string[], ownerKey = 'owner') {
    const ownerId = await create(base, side.owners, ownerKey);
    const memberIds = await createMany(base, side.members, memberKeys);
    return { ownerId, memberIds };
  }

  /** The owner's members as the owner's GET shows them (keys in list order), checked against its count. */
  async function membersOf(side: Side, base: string, ownerKey: string): Promise<string[]> {
    const owner = (await t.http.get(`${base}/${side.owners}/${ownerKey}`).expect(200)).body;
    const keys = (owner[side.navigation] as Record<string, string>[]).map((member) => member[side.memberKeyProperty]!);
    expect(owner[`${side.navigation}Count`]).toBe(keys.length);
    return keys;
  }

  /** Every member of an owner through its OData member collection, following nextLinks. */
  async function memberCollection(base: string, owners: 'groups' | 'users', ownerKey: string): Promise<string[]> {
    const keyProperty = owners === 'groups' ? 'userKey' : 'groupKey';
    const keys: string[] = [];
    let url: string | undefined = `${base}/${owners}/${ownerKey}/${owners === 'groups' ? 'users' : 'groups'}`;
    while (url) {
      const page: Response = await t.http.get(url).expect(200);
      keys.push(...(page.body.value as Record<string, string>[]).map((member) => member[keyProperty]!));
      url = page.body['@odata.nextLink'];
    }
    return keys;
  }

  async function modifiedOn(side: Side, base: string, ownerKey: string): Promise<string> {
    return (await t.http.get(`${base}/${side.owners}/${ownerKey}`).expect(200)).body.modifiedOn as string;
  }

  function post(base: string, side: Side, ownerKey: string, action: string, body: unknown) {
    return t.http.post(`${base}/${side.owners}/${ownerKey}/${side.navigation}/${action}`).send(JSON.stringify(body)).type('json');
  }

  function put(base: string, side: Side, ownerKey: string, body: unknown) {
    return t.http.put(`${base}/${side.owners}/${ownerKey}/${side.navigation}`).send(JSON.stringify(body)).type('json');
  }

  describe.each([GROUP_SIDE, USER_SIDE])('$label', (side) => {
    const { owners, members, navigation } = side;

    it('add answers {added, unchanged}; re-adding is a no-op', async () => {
      const { base } = newScope();
      await setUp(side, base, ['a', 'b', 'c']);
      expect((await post(base, side, 'owner', 'add', ['a', 'b']).expect(200)).body).toEqual({ added: 2, unchanged: 0 });
      expect((await post(base, side, 'owner', 'add', ['b', 'c']).expect(200)).body).toEqual({ added: 1, unchanged: 1 });
      expect((await post(base, side, 'OWNER', 'add', ['c', 'a', 'b']).expect(200)).body).toEqual({ added: 0, unchanged: 3 });
      expect((await post(base, side, 'owner', 'add', []).expect(200)).body).toEqual({ added: 0, unchanged: 0 });
      expect(await membersOf(side, base, 'owner')).toEqual(['a', 'b', 'c']);
      expect(await memberCollection(base, owners, 'owner')).toEqual(['a', 'b', 'c']);
    });

    it('addById adds by id, found by the owner id too, duplicate ids (any case) counted once', async () => {
      const { base } = newScope();
      const { ownerId, memberIds } = await setUp(side, base, ['a', 'b']);
      const a = memberIds.get('a')!;
      const b = memberIds.get('b')!;
      const response = await post(base, side, ownerId, 'addById', [a, a.toUpperCase(), b, a]).expect(200);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.body).toEqual({ added: 2, unchanged: 0 });
      expect((await post(base, side, 'owner', 'addById', [b.toUpperCase()]).expect(200)).body).toEqual({ added: 0, unchanged: 1 });
      expect(await membersOf(side, base, 'owner')).toEqual(['a', 'b']);
    });

    it('remove answers {removed, unchanged}; removing a non-member counts as unchanged', async () => {
      const { base } = newScope();
      await setUp(side, base, ['a', 'b', 'c']);
      await post(base, side, 'owner', 'add', ['a', 'b']).expect(200);
      expect((await post(base, side, 'owner', 'remove', ['a', 'c']).expect(200)).body).toEqual({ removed: 1, unchanged: 1 });
      expect((await post(base, side, 'owner', 'remove', ['a']).expect(200)).body).toEqual({ removed: 0, unchanged: 1 });
      expect((await post(base, side, 'owner', 'remove', []).expect(200)).body).toEqual({ removed: 0, unchanged: 0 });
      expect(await membersOf(side, base, 'owner')).toEqual(['b']);
      // the removed member itself is untouched
      await t.http.get(`${base}/${members}/a`).expect(200);
    });

    it('removeById removes by id; duplicates counted once; non-members unchanged', async () => {
      const { base } = newScope();
      const { memberIds } = await setUp(side, base, ['a', 'b', 'c']);
      await post(base, side, 'owner', 'add', ['a', 'b', 'c']).expect(200);
      const a = memberIds.get('a')!;
      const c = memberIds.get('c')!;
      expect((await post(base, side, 'owner', 'removeById', [a, c, a.toUpperCase()]).expect(200)).body).toEqual({ removed: 2, unchanged: 0 });
      expect((await post(base, side, 'owner', 'removeById', [a, memberIds.get('b')!]).expect(200)).body).toEqual({ removed: 1, unchanged: 1 });
      expect(await membersOf(side, base, 'owner')).toEqual([]);
    });

    it('deduplicates keys case-insensitively', async () => {
      const { base } = newScope();
      await setUp(side, base, ['Alice', 'bob']);
      expect((await post(base, side, 'owner', 'add', ['alice', 'ALICE', 'Alice', 'bob', 'BOB']).expect(200)).body).toEqual({
        added: 2,
        unchanged: 0,
      });
      expect((await post(base, side, 'owner', 'remove', ['ALICE', 'alice']).expect(200)).body).toEqual({ removed: 1, unchanged: 0 });
      expect(await membersOf(side, base, 'owner')).toEqual(['bob']);
      expect((await put(base, side, 'owner', ['BOB', 'bob', 'aLiCe']).expect(200)).body).toEqual({ added: 1, removed: 0, unchanged: 1 });
      expect(await membersOf(side, base, 'owner')).toEqual(['Alice', 'bob']);
    });

    it(`PUT /${owners}/{key}/${navigation} replaces the set and answers {added, removed, unchanged}`, async () => {
      const { base } = newScope();
      await setUp(side, base, ['a', 'b', 'c', 'd']);
      await post(base, side, 'owner', 'add', ['a', 'b']).expect(200);
      expect((await put(base, side, 'owner', ['b', 'c', 'd']).expect(200)).body).toEqual({ added: 2, removed: 1, unchanged: 1 });
      expect(await membersOf(side, base, 'owner')).toEqual(['b', 'c', 'd']);
      expect((await put(base, side, 'owner', ['d', 'c', 'b']).expect(200)).body).toEqual({ added: 0, removed: 0, unchanged: 3 });
      expect((await put(base, side, 'owner', ['a']).expect(200)).body).toEqual({ added: 1, removed: 3, unchanged: 0 });
      expect(await membersOf(side, base, 'owner')).toEqual(['a']);
      expect((await put(base, side, 'owner', []).expect(200)).body).toEqual({ added: 0, removed: 1, unchanged: 0 });
      expect(await membersOf(side, base, 'owner')).toEqual([]);
    });

    it('rejects unknown keys and ids with 400 UnknownReferences listing each, and changes nothing', async () => {
      const { base } = newScope();
      const { memberIds } = await setUp(side, base, ['a', 'b', 'c']);
      await post(base, side, 'owner', 'add', ['a', 'b']).expect(200);
      const before = (await t.http.get(`${base}/${owners}/owner`).expect(200)).body;
      const ghostId = randomUUID();
      const otherGhostId = randomUUID();
      const calls: Array<[string, () => ReturnType<typeof post>, string[]]> = [
        ['add', () => post(base, side, 'owner', 'add', ['c', 'ghost', 'GHOST', 'nobody']), ['ghost', 'nobody']],
        ['remove', () => post(base, side, 'owner', 'remove', ['a', 'ghost']), ['ghost']],
        ['addById', () => post(base, side, 'owner', 'addById', [memberIds.get('c')!, ghostId, otherGhostId]), [ghostId, otherGhostId]],
        ['removeById', () => post(base, side, 'owner', 'removeById', [memberIds.get('a')!, ghostId]), [ghostId]],
        ['PUT', () => put(base, side, 'owner', ['c', 'ghost']), ['ghost']],
        // an id is not a key: an existing member's id in a by-key call is unknown
        ['add (id as key)', () => post(base, side, 'owner', 'add', [memberIds.get('c')!]), [memberIds.get('c')!]],
      ];
      for (const [label, call, unknown] of calls) {
        const response = await call();
        expect({ label, status: response.status }).toEqual({ label, status: 400 });
        expect(response.body.error).toMatchObject({ code: 'UnknownReferences', target: navigation });
        expect(response.body.error.details.map((d: { target: string }) => d.target)).toEqual(unknown);
        for (const reference of unknown) expect(response.body.error.message).toContain(reference);
      }
      expect((await t.http.get(`${base}/${owners}/owner`).expect(200)).body).toEqual(before);
      expect(await membersOf(side, base, 'owner')).toEqual(['a', 'b']);
    });

    it('does not see members of another scope', async () => {
      const { base } = newScope();
      const other = newScope();
      await create(base, owners, 'owner');
      const foreignId = await create(other.base, members, 'm');
      const byKey = await post(base, side, 'owner', 'add', ['m']).expect(400);
      expect(byKey.body.error.code).toBe('UnknownReferences');
      const byId = await post(base, side, 'owner', 'addById', [foreignId]).expect(400);
      expect(byId.body.error.details).toEqual([expect.objectContaining({ code: 'UnknownReference', target: foreignId })]);
      expect(await membersOf(side, base, 'owner')).toEqual([]);
      expect((await t.http.get(`${other.base}/${members}/m`).expect(200)).body[`${owners}Count`]).toBe(0);
      // nor an owner of another scope
      await post(other.base, side, 'owner', 'add', ['m']).expect(404);
    });

    it.each([
      ['add', ['a', 5, 'a b', 'a/b', null, {}, '', 'k'.repeat(65), ['a'], 'ok'], [1, 2, 3, 4, 5, 6, 7, 8]],
      ['remove', [true, 'a'], [0]],
      ['addById', [randomUUID(), 'not-a-uuid', 5, 'a', `${randomUUID()}x`, null], [1, 2, 3, 4, 5]],
      ['removeById', ['a'], [0]],
      ['PUT', ['a', 'tab\tkey', 7], [1, 2]],
    ])('%s: rejects invalid entries with 400 naming body[i], changing nothing', async (action, body, invalid) => {
      const { base } = newScope();
      await setUp(side, base, ['a', 'ok']);
      await post(base, side, 'owner', 'add', ['a']).expect(200);
      const before = (await t.http.get(`${base}/${owners}/owner`).expect(200)).body;
      const response = action === 'PUT' ? await put(base, side, 'owner', body).expect(400) : await post(base, side, 'owner', action, body).expect(400);
      expect(response.body.error.code).toBe('ValidationFailed');
      expect(response.body.error.target).toBe(`body[${invalid[0]}]`);
      expect(response.body.error.details.map((d: { target: string }) => d.target)).toEqual(invalid.map((i) => `body[${i}]`));
      expect((await t.http.get(`${base}/${owners}/owner`).expect(200)).body).toEqual(before);
    });

    it.each(['add', 'addById', 'remove', 'removeById', 'PUT'])('%s: rejects a body that is not a JSON array with 400', async (action) => {
      const { base } = newScope();
      await setUp(side, base, ['a']);
      const send = (body: string | undefined) => {
        const request =
          action === 'PUT'
            ? t.http.put(`${base}/${owners}/owner/${navigation}`)
            : t.http.post(`${base}/${owners}/owner/${navigation}/${action}`);
        return body === undefined ? request : request.send(body).type('json');
      };
      for (const body of ['{}', '{"0":"a"}', '"a"', 'null', '5', undefined]) {
        const response = await send(body);
        expect({ body, status: response.status }).toEqual({ body, status: 400 });
        expect(response.body.error).toMatchObject({ code: 'ValidationFailed', target: 'body' });
      }
      expect(await membersOf(side, base, 'owner')).toEqual([]);
    });

    it.each(['add', 'addById', 'remove', 'removeById', 'PUT'])(`%s: rejects more than ${MAX_PER_CALL} entries with 400`, async (action) => {
      const { base } = newScope();
      const { memberIds } = await setUp(side, base, ['a']);
      const byId = action.endsWith('ById');
      const valid = byId ? memberIds.get('a')! : 'a';
      const body = Array.from({ length: MAX_PER_CALL + 1 }, (_, i) => (i === 0 ? valid : byId ? randomUUID() : `k${i}`));
      const response = action === 'PUT' ? await put(base, side, 'owner', body) : await post(base, side, 'owner', action, body);
      expect(response.status).toBe(400);
      expect(response.body.error).toMatchObject({ code: 'ValidationFailed', target: 'body' });
      expect(response.body.error.message).toContain(String(MAX_PER_CALL));
      expect(await membersOf(side, base, 'owner')).toEqual([]);
    });

    it('404s an unknown owner (any action) and an unknown action', async () => {
      const { base } = newScope();
      await setUp(side, base, ['a']);
      for (const action of ['add', 'remove']) {
        const response = await post(base, side, 'nobody', action, ['a']).expect(404);
        expect(response.body.error).toMatchObject({ code: 'NotFound', target: 'nobody' });
      }
      await post(base, side, randomUUID(), 'addById', []).expect(404);
      await put(base, side, 'nobody', ['a']).expect(404);
      for (const action of ['merge', 'ADD', 'addbyid', 'toString', '__proto__']) {
        const response = await post(base, side, 'owner', action, ['a']);
        expect({ action, status: response.status, code: response.body.error?.code }).toEqual({ action, status: 404, code: 'RouteNotFound' });
      }
      expect((await t.http.get(`${base}/${members}/a`).expect(200)).body[`${owners}Count`]).toBe(0);
    });

    it("a membership change bumps the owner's modifiedOn; a no-op does not", async () => {
      const { base } = newScope();
      await setUp(side, base, ['a', 'b']);
      const created = (await t.http.get(`${base}/${owners}/owner`).expect(200)).body;
      expect(created.modifiedOn).toBe(created.createdOn);
      let last = created.modifiedOn as string;
      const changes: Array<[string, () => ReturnType<typeof post>]> = [
        ['add', () => post(base, side, 'owner', 'add', ['a', 'b'])],
        ['remove', () => post(base, side, 'owner', 'remove', ['a'])],
        ['PUT', () => put(base, side, 'owner', ['a'])],
      ];
      for (const [label, change] of changes) {
        await clockTick();
        expect({ label, status: (await change()).status }).toEqual({ label, status: 200 });
        const now = await modifiedOn(side, base, 'owner');
        expect({ label, later: Date.parse(now) > Date.parse(last) }).toEqual({ label, later: true });
        last = now;
      }
      const noOps: Array<[string, () => ReturnType<typeof post>]> = [
        ['re-add', () => post(base, side, 'owner', 'add', ['a'])],
        ['remove a non-member', () => post(base, side, 'owner', 'remove', ['b'])],
        ['PUT the same set', () => put(base, side, 'owner', ['A'])],
      ];
      for (const [label, noOp] of noOps) {
        await clockTick();
        expect({ label, status: (await noOp()).status }).toEqual({ label, status: 200 });
        expect({ label, modifiedOn: await modifiedOn(side, base, 'owner') }).toEqual({ label, modifiedOn: last });
      }
      const owner = (await t.http.get(`${base}/${owners}/owner`).expect(200)).body;
      expect(owner.createdOn).toBe(created.createdOn);
    });
  });

  describe('both directions', () => {
    it('both sides see the same memberships after changes from either side', async () => {
      const { base } = newScope();
      const groups = await createMany(base, 'groups', ['g1', 'g2', 'g3']);
      const users = await createMany(base, 'users', ['u1', 'u2', 'u3', 'u4', 'u5']);
      const ok = async (request: ReturnType<typeof post>) => (await request.expect(200)).body;
      expect(await ok(post(base, GROUP_SIDE, 'g1', 'add', ['u1', 'u2', 'u3']))).toEqual({ added: 3, unchanged: 0 });
      expect(await ok(post(base, USER_SIDE, 'u4', 'add', ['g1', 'g2']))).toEqual({ added: 2, unchanged: 0 });
      expect(await ok(post(base, GROUP_SIDE, 'g2', 'addById', [users.get('u5')!, users.get('u4')!]))).toEqual({ added: 1, unchanged: 1 });
      expect(await ok(post(base, USER_SIDE, 'u1', 'addById', [groups.get('g3')!, groups.get('g1')!]))).toEqual({ added: 1, unchanged: 1 });
      expect(await ok(post(base, GROUP_SIDE, 'g1', 'remove', ['u2']))).toEqual({ removed: 1, unchanged: 0 });
      expect(await ok(post(base, USER_SIDE, 'u3', 'removeById', [groups.get('g1')!, groups.get('g2')!]))).toEqual({ removed: 1, unchanged: 1 });
      expect(await ok(put(base, USER_SIDE, 'u2', ['g2', 'g3']))).toEqual({ added: 2, removed: 0, unchanged: 0 });
      expect(await ok(put(base, GROUP_SIDE, 'g3', ['u2', 'u5']))).toEqual({ added: 1, removed: 1, unchanged: 1 });

      const expected: Record<string, string[]> = { g1: ['u1', 'u4'], g2: ['u2', 'u4', 'u5'], g3: ['u2', 'u5'] };
      for (const [group, keys] of Object.entries(expected)) {
        expect({ group, users: await membersOf(GROUP_SIDE, base, group) }).toEqual({ group, users: keys });
        expect({ group, users: await memberCollection(base, 'groups', group) }).toEqual({ group, users: keys });
      }
      for (const user of users.keys()) {
        const keys = Object.keys(expected).filter((group) => expected[group]!.includes(user));
        expect({ user, groups: await membersOf(USER_SIDE, base, user) }).toEqual({ user, groups: keys });
        expect({ user, groups: await memberCollection(base, 'users', user) }).toEqual({ user, groups: keys });
      }
    });

    it('a membership added on one side is removed from the other', async () => {
      const { base } = newScope();
      await create(base, 'groups', 'g');
      await create(base, 'users', 'u');
      await post(base, GROUP_SIDE, 'g', 'add', ['u']).expect(200, { added: 1, unchanged: 0 });
      await post(base, USER_SIDE, 'u', 'add', ['g']).expect(200, { added: 0, unchanged: 1 });
      await post(base, USER_SIDE, 'u', 'remove', ['G']).expect(200, { removed: 1, unchanged: 0 });
      await post(base, GROUP_SIDE, 'g', 'remove', ['u']).expect(200, { removed: 0, unchanged: 1 });
      expect(await membersOf(GROUP_SIDE, base, 'g')).toEqual([]);
      expect(await membersOf(USER_SIDE, base, 'u')).toEqual([]);
    });
  });

  describe(`${MAX_PER_CALL} entries in one call`, () => {
    it(
      `accepts exactly ${MAX_PER_CALL} ids, then ${MAX_PER_CALL} keys`,
      async () => {
        const { base } = newScope();
        await create(base, 'groups', 'big');
        const keys = Array.from({ length: MAX_PER_CALL }, (_, i) => `u${String(i).padStart(5, '0')}`);
        const ids = await createMany(base, 'users', keys);
        expect(ids.size).toBe(MAX_PER_CALL);

        const added = await post(base, GROUP_SIDE, 'big', 'addById', [...ids.values()]).expect(200);
        expect(added.body).toEqual({ added: MAX_PER_CALL, unchanged: 0 });
        // the member set is exactly those users (read back through a replace with the same set, as
        // listing 10,000 members page by page would dominate the test)
        const replaced = await put(base, GROUP_SIDE, 'big', keys.map((key) => key.toUpperCase())).expect(200);
        expect(replaced.body).toEqual({ added: 0, removed: 0, unchanged: MAX_PER_CALL });
        // the other side sees it too
        expect(await membersOf(USER_SIDE, base, 'u00000')).toEqual(['big']);
        expect(await membersOf(USER_SIDE, base, 'u09999')).toEqual(['big']);

        const removed = await post(base, GROUP_SIDE, 'big', 'remove', keys).expect(200);
        expect(removed.body).toEqual({ removed: MAX_PER_CALL, unchanged: 0 });
        expect((await t.http.get(`${base}/groups/big`).expect(200)).body).toMatchObject({ usersCount: 0, users: [] });
        expect(await membersOf(USER_SIDE, base, 'u04321')).toEqual([]);
      },
      180_000,
    );
  });

  describe('concurrency', () => {
    it.each([1, 2, 3])('16 parallel clients on one group end with exactly the expected members (round %i)', async () => {
      const { base } = newScope();
      const keys = Array.from({ length: 48 }, (_, i) => `u${String(i).padStart(2, '0')}`);
      const ids = await createMany(base, 'users', keys);
      await create(base, 'groups', 'g');
      const range = (from: number, to: number) => keys.slice(from, to + 1);
      const idsOf = (list: string[]) => list.map((key) => ids.get(key)!);
      const initial = range(0, 15);
      await post(base, GROUP_SIDE, 'g', 'add', initial).expect(200, { added: 16, unchanged: 0 });

      type Client = { kind: 'add' | 'remove'; run: () => ReturnType<typeof post> };
      const clients: Client[] = [
        // disjoint adds
        { kind: 'add', run: () => post(base, GROUP_SIDE, 'g', 'add', range(16, 19)) },
        { kind: 'add', run: () => post(base, GROUP_SIDE, 'g', 'add', range(20, 23)) },
        { kind: 'add', run: () => post(base, GROUP_SIDE, 'g', 'addById', idsOf(range(24, 27))) },
        { kind: 'add', run: () => post(base, GROUP_SIDE, 'g', 'add', range(28, 31)) },
        // overlapping adds, some of existing members
        { kind: 'add', run: () => post(base, GROUP_SIDE, 'g', 'add', [...range(32, 35), 'u15']) },
        { kind: 'add', run: () => post(base, GROUP_SIDE, 'g', 'add', range(34, 37)) },
        { kind: 'add', run: () => post(base, GROUP_SIDE, 'g', 'addById', idsOf(range(36, 39))) },
        { kind: 'add', run: () => post(base, GROUP_SIDE, 'g', 'add', range(32, 39)) },
        // disjoint removes
        { kind: 'remove', run: () => post(base, GROUP_SIDE, 'g', 'remove', range(0, 1)) },
        { kind: 'remove', run: () => post(base, GROUP_SIDE, 'g', 'removeById', idsOf(range(2, 3))) },
        { kind: 'remove', run: () => post(base, GROUP_SIDE, 'g', 'remove', range(4, 7)) },
        // overlapping removes, and removes of non-members
        { kind: 'remove', run: () => post(base, GROUP_SIDE, 'g', 'remove', range(8, 11)) },
        { kind: 'remove', run: () => post(base, GROUP_SIDE, 'g', 'removeById', idsOf(range(10, 13))) },
        { kind: 'remove', run: () => post(base, GROUP_SIDE, 'g', 'remove', [...range(8, 13), ...range(40, 43)]) },
        // the same group from the users' side
        { kind: 'add', run: () => post(base, USER_SIDE, 'u44', 'add', ['g']) },
        { kind: 'remove', run: () => post(base, USER_SIDE, 'u14', 'remove', ['g']) },
      ];
      expect(clients).toHaveLength(16);
      const responses = await Promise.all(clients.map((client) => client.run()));
      expect(responses.map((response) => response.status)).toEqual(clients.map(() => 200));

      const expected = [...range(15, 39), 'u44'];
      expect(await membersOf(GROUP_SIDE, base, 'g')).toEqual(expected);
      // every membership was added, and removed, exactly once
      const total = (kind: 'add' | 'remove') =>
        responses.filter((_, i) => clients[i]!.kind === kind).reduce((sum, r) => sum + (r.body.added ?? r.body.removed) as number, 0);
      expect(total('add')).toBe(expected.length - 1); // all but u15, which was in from the start
      expect(total('remove')).toBe(15); // u00–u14
      const userGroups = await Promise.all(keys.map(async (key) => [key, await membersOf(USER_SIDE, base, key)] as const));
      expect(userGroups.filter(([, groups]) => groups.includes('g')).map(([key]) => key)).toEqual(expected);
    });

    it.each([1, 2, 3])(
      'deleting a group while members are added leaves it gone and only 200/404/409 answers (round %i)',
      async () => {
        const { base } = newScope();
        const keys = Array.from({ length: 40 }, (_, i) => `u${String(i).padStart(2, '0')}`);
        const ids = await createMany(base, 'users', keys);
        const groupId = await create(base, 'groups', 'doomed');
        await create(base, 'groups', 'stays');
        await post(base, GROUP_SIDE, 'doomed', 'add', keys.slice(0, 5)).expect(200);
        await post(base, GROUP_SIDE, 'stays', 'add', keys).expect(200);

        const adds = keys.slice(5).map((key, i) =>
          i % 2 === 0 ? () => post(base, GROUP_SIDE, 'doomed', 'add', [key]) : () => post(base, GROUP_SIDE, groupId, 'addById', [ids.get(key)!]),
        );
        const requests = [...adds.slice(0, 12).map((run) => run()), t.http.delete(`${base}/groups/doomed`), ...adds.slice(12).map((run) => run())];
        const responses = await Promise.all(requests);
        const deletion = responses[12]!;
        expect(deletion.status).toBe(204);
        const addResponses = responses.filter((_, i) => i !== 12);
        for (const response of addResponses) {
          expect([200, 404, 409]).toContain(response.status);
          if (response.status === 200) expect(response.body).toEqual({ added: 1, unchanged: 0 });
          else expect(response.body.error.code).toMatch(/^(NotFound|Conflict)$/);
        }

        await t.http.get(`${base}/groups/doomed`).expect(404);
        await t.http.get(`${base}/groups/${groupId}`).expect(404);
        await t.http.get(`${base}/groups/${groupId}/users`).expect(404);
        expect(await membersOf(GROUP_SIDE, base, 'stays')).toEqual(keys);
        for (const key of keys) {
          const groups = (await t.http.get(`${base}/users/${key}/groups?$count=true`).expect(200)).body;
          expect({ key, groups: groups.value.map((g: { groupKey: string }) => g.groupKey), count: groups['@odata.count'] }).toEqual({
            key,
            groups: ['stays'],
            count: 1,
          });
        }
      },
    );

    it.each([1, 2])(
      'users joining a group while it is deleted get 200, 400 UnknownReferences or 409, never 5xx (round %i)',
      async () => {
        const { base } = newScope();
        const keys = Array.from({ length: 30 }, (_, i) => `u${String(i).padStart(2, '0')}`);
        await createMany(base, 'users', keys);
        await create(base, 'groups', 'doomed');
        await create(base, 'groups', 'other');
        const joins = keys.map((key) => () => post(base, USER_SIDE, key, 'add', ['doomed']));
        const requests = [...joins.slice(0, 10).map((run) => run()), t.http.delete(`${base}/groups/doomed`), ...joins.slice(10).map((run) => run())];
        const responses = await Promise.all(requests);
        expect(responses[10]!.status).toBe(204);
        for (const response of responses.filter((_, i) => i !== 10)) {
          expect([200, 400, 409]).toContain(response.status);
          if (response.status === 200) expect(response.body).toEqual({ added: 1, unchanged: 0 });
          if (response.status === 400) expect(response.body.error.code).toBe('UnknownReferences');
        }
        await t.http.get(`${base}/groups/doomed`).expect(404);
        for (const key of keys) {
          expect({ key, groups: await membersOf(USER_SIDE, base, key) }).toEqual({ key, groups: [] });
        }
        // the users' own writes went through: each can still join another group
        expect((await post(base, USER_SIDE, 'u00', 'add', ['other']).expect(200)).body).toEqual({ added: 1, unchanged: 0 });
      },
    );
  });
});
