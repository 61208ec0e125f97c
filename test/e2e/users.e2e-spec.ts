import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A string that starts with `prefix` (nextLinks: their query options are the server's business). */
const startingWith = (prefix: string) => expect.stringMatching(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

type Keyed = { groupKey?: string; userKey?: string };
const groupKeys = (items: Keyed[]) => items.map((item) => item.groupKey);
const userKeys = (items: Keyed[]) => items.map((item) => item.userKey);

describe('users', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  async function createUser(base: string, userKey: string, extra: Record<string, unknown> = {}): Promise<string> {
    const response = await t.http.post(`${base}/users`).send({ userKey, name: `User ${userKey}`, ...extra }).expect(201);
    return response.body as string;
  }

  async function createGroup(base: string, groupKey: string, users: string[] = []): Promise<string> {
    const response = await t.http.post(`${base}/groups`).send({ groupKey, name: `Group ${groupKey}`, users }).expect(201);
    return response.body as string;
  }

  describe('POST /users', () => {
    it('creates a user: 201, Location, body = id as a JSON string', async () => {
      const { base } = newScope();
      const response = await t.http.post(`${base}/users`).send({ userKey: 'Alice', name: 'Alice A.' }).expect(201);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.body).toMatch(UUID);
      expect(response.headers['location']).toBe(`${base}/users/${response.body}`);
      const user = await t.http.get(response.headers['location']!).expect(200);
      expect(Object.keys(user.body).sort()).toEqual(
        ['createdBy', 'createdOn', 'email', 'groups', 'groupsCount', 'id', 'isActive', 'modifiedBy', 'modifiedOn', 'name', 'userKey'],
      );
      expect(user.body).toMatchObject({
        id: response.body,
        userKey: 'Alice',
        name: 'Alice A.',
        email: null,
        isActive: true,
        modifiedOn: user.body.createdOn,
        modifiedBy: user.body.createdBy,
        groupsCount: 0,
        groups: [],
      });
      expect(new Date(user.body.createdOn).toISOString()).toBe(user.body.createdOn);
    });

    it('returns the resource with Prefer: return=representation, groups included and deduplicated', async () => {
      const { base } = newScope();
      await createGroup(base, 'sales');
      await createGroup(base, 'Ops');
      const response = await t.http
        .post(`${base}/users`)
        .set('Prefer', 'return=representation')
        .send({ userKey: 'bob', name: 'Bob', email: 'bob@example.com', isActive: false, groups: ['sales', 'OPS', 'ops', 'Sales'] })
        .expect(201);
      expect(response.headers['preference-applied']).toBe('return=representation');
      expect(response.headers['location']).toBe(`${base}/users/${response.body.id}`);
      expect(response.body).toMatchObject({ userKey: 'bob', name: 'Bob', email: 'bob@example.com', isActive: false, groupsCount: 2 });
      expect(groupKeys(response.body.groups)).toEqual(['Ops', 'sales']);
      expect(Object.keys(response.body.groups[0]).sort()).toEqual(['email', 'groupKey', 'id', 'isActive', 'name']);
      // the groups see the new member too
      const ops = await t.http.get(`${base}/groups/ops`).expect(200);
      expect(userKeys(ops.body.users)).toEqual(['bob']);
    });

    it('accepts an empty groups list, and email as null', async () => {
      const { base } = newScope();
      const response = await t.http
        .post(`${base}/users`)
        .set('Prefer', 'return=representation')
        .send({ userKey: 'u', name: 'U', email: null, groups: [] })
        .expect(201);
      expect(response.body).toMatchObject({ email: null, groupsCount: 0, groups: [] });
    });

    it('rejects a taken userKey case-insensitively with 409, keeping the original', async () => {
      const { base } = newScope();
      await createUser(base, 'Carol', { name: 'First' });
      const response = await t.http.post(`${base}/users`).send({ userKey: 'cAROL', name: 'Second' }).expect(409);
      expect(response.body.error).toMatchObject({ code: 'Conflict', target: 'userKey' });
      const list = await t.http.get(`${base}/users`).expect(200);
      expect(list.body).toHaveLength(1);
      expect(list.body[0]).toMatchObject({ userKey: 'Carol', name: 'First' });
    });

    it('turns a race of creates with one key into exactly one 201 and 409s', async () => {
      const { base } = newScope();
      const responses = await Promise.all(
        Array.from({ length: 8 }, (_, i) => t.http.post(`${base}/users`).send({ userKey: i % 2 ? 'race' : 'RACE', name: `n${i}` })),
      );
      expect(responses.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
      expect((await t.http.get(`${base}/users`).expect(200)).body).toHaveLength(1);
    });

    it('allows the same userKey in another scope, and keeps scopes apart', async () => {
      const a = newScope();
      const b = newScope();
      const idA = await createUser(a.base, 'dave');
      const idB = await createUser(b.base, 'dave');
      expect(idB).not.toBe(idA);
      await t.http.get(`${b.base}/users/${idA}`).expect(404);
      expect((await t.http.get(`${b.base}/users/dave`).expect(200)).body.id).toBe(idB);
    });

    it('creates nothing when a group is unknown (400 listing each unknown)', async () => {
      const { base } = newScope();
      await createGroup(base, 'ops');
      const response = await t.http.post(`${base}/users`).send({ userKey: 'u', name: 'U', groups: ['ops', 'ghost', 'GHOST', 'nowhere'] }).expect(400);
      expect(response.body.error).toMatchObject({ code: 'UnknownReferences', target: 'groups' });
      expect(response.body.error.details.map((d: { target: string }) => d.target)).toEqual(['ghost', 'nowhere']);
      await t.http.get(`${base}/users/u`).expect(404);
      expect((await t.http.get(`${base}/groups/ops`).expect(200)).body.usersCount).toBe(0);
    });

    it.each([
      ['userKey', { name: 'x' }],
      ['userKey', { userKey: 'a/b', name: 'x' }],
      ['userKey', { userKey: 'a b', name: 'x' }],
      ['userKey', { userKey: 'tab\there', name: 'x' }],
      ['userKey', { userKey: 'k'.repeat(65), name: 'x' }],
      ['userKey', { userKey: '', name: 'x' }],
      ['userKey', { userKey: 7, name: 'x' }],
      ['userKey', { userKey: null, name: 'x' }],
      ['name', { userKey: 'k' }],
      ['name', { userKey: 'k', name: '' }],
      ['name', { userKey: 'k', name: '   ' }],
      ['name', { userKey: 'k', name: 'n'.repeat(201) }],
      ['name', { userKey: 'k', name: null }],
      ['name', { userKey: 'k', name: 42 }],
      ['email', { userKey: 'k', name: 'n', email: 'not-an-email' }],
      ['email', { userKey: 'k', name: 'n', email: `${'e'.repeat(250)}@x.io` }],
      ['email', { userKey: 'k', name: 'n', email: 5 }],
      ['isActive', { userKey: 'k', name: 'n', isActive: 'true' }],
      ['isActive', { userKey: 'k', name: 'n', isActive: 1 }],
      ['isActive', { userKey: 'k', name: 'n', isActive: null }],
      ['notes', { userKey: 'k', name: 'n', notes: 'users have no notes' }],
      ['notes', { userKey: 'k', name: 'n', notes: null }],
      ['users', { userKey: 'k', name: 'n', users: [] }],
      ['groups', { userKey: 'k', name: 'n', groups: 'ops' }],
      ['groups[0]', { userKey: 'k', name: 'n', groups: ['a b'] }],
      ['groups[1]', { userKey: 'k', name: 'n', groups: ['ok', 3] }],
      ['id', { userKey: 'k', name: 'n', id: 'x' }],
      ['color', { userKey: 'k', name: 'n', color: 'red' }],
    ])('rejects a bad %s with 400 naming it, writing nothing (case %#)', async (target, body) => {
      const { base } = newScope();
      const response = await t.http.post(`${base}/users`).send(body).expect(400);
      expect(response.body.error.code).toBe('ValidationFailed');
      expect(response.body.error.target).toBe(target);
      expect((await t.http.get(`${base}/users`).expect(200)).body).toEqual([]);
    });

    it.each([['[]'], ['"alice"'], ['null'], ['42']])('rejects the non-object body %s with 400', async (body) => {
      const { base } = newScope();
      const response = await t.http.post(`${base}/users`).send(body).type('json').expect(400);
      expect(response.body.error.message).toMatch(/JSON object/);
      expect((await t.http.get(`${base}/users`).expect(200)).body).toEqual([]);
    });
  });

  describe('GET /users/{idOrKey}', () => {
    it('finds a user by id, and by key case-insensitively', async () => {
      const { base } = newScope();
      const id = await createUser(base, 'Erin');
      expect((await t.http.get(`${base}/users/${id}`).expect(200)).body.userKey).toBe('Erin');
      expect((await t.http.get(`${base}/users/${id.toUpperCase()}`).expect(200)).body.userKey).toBe('Erin');
      expect((await t.http.get(`${base}/users/erin`).expect(200)).body.id).toBe(id);
      expect((await t.http.get(`${base}/users/ERIN`).expect(200)).body.id).toBe(id);
    });

    it('prefers the id when a key looks like another user id', async () => {
      const { base } = newScope();
      const first = await createUser(base, 'first');
      const second = await createUser(base, first);
      expect((await t.http.get(`${base}/users/${first}`).expect(200)).body.id).toBe(first);
      expect((await t.http.get(`${base}/users/${second}`).expect(200)).body.id).toBe(second);
    });

    it('answers 404 in the OData error shape for an unknown user', async () => {
      const { base } = newScope();
      const response = await t.http.get(`${base}/users/nope`).expect(404);
      expect(response.body).toEqual({ error: { code: 'NotFound', message: "User 'nope' was not found", target: 'nope' } });
      await t.http.get(`${base}/users/3f1e0a52-2b7c-4c38-9d1e-7f2a1b0c9d8e`).expect(404);
    });

    it('inlines the groups in key order with groupsCount', async () => {
      const { base } = newScope();
      await createUser(base, 'frank');
      for (const key of ['zeta', 'Alpha', 'mid']) await createGroup(base, key, ['frank']);
      await createGroup(base, 'other');
      const user = await t.http.get(`${base}/users/frank`).expect(200);
      expect(user.body.groupsCount).toBe(3);
      expect(groupKeys(user.body.groups)).toEqual(['Alpha', 'mid', 'zeta']);
      expect(user.body.groups[0]).toEqual({
        id: expect.stringMatching(UUID),
        groupKey: 'Alpha',
        name: 'Group Alpha',
        email: null,
        isActive: true,
      });
      expect(user.body['groups@odata.nextLink']).toBeUndefined();
    });
  });

  describe('GET /users (plain list)', () => {
    it('pages in key order with a Link to the next page, without groups inline', async () => {
      const { base } = newScope();
      for (const key of ['delta', 'Alpha', 'charlie', 'bravo', 'echo']) await createUser(base, key);
      await createGroup(base, 'g', ['alpha']);
      const first = await t.http.get(`${base}/users?pageSize=2`).expect(200);
      expect(userKeys(first.body)).toEqual(['Alpha', 'bravo']);
      expect(first.body[0].groups).toBeUndefined();
      expect(first.body[0].groupsCount).toBeUndefined();
      expect(first.headers['link']).toBe(`<${base}/users?page=2&pageSize=2>; rel="next"`);
      const second = await t.http.get(`${base}/users?page=2&pageSize=2`).expect(200);
      expect(userKeys(second.body)).toEqual(['charlie', 'delta']);
      expect(second.headers['link']).toBe(`<${base}/users?page=3&pageSize=2>; rel="next"`);
      const third = await t.http.get(`${base}/users?page=3&pageSize=2`).expect(200);
      expect(userKeys(third.body)).toEqual(['echo']);
      expect(third.headers['link']).toBeUndefined();
      const all = await t.http.get(`${base}/users`).expect(200);
      expect(userKeys(all.body)).toEqual(['Alpha', 'bravo', 'charlie', 'delta', 'echo']);
      expect(all.headers['link']).toBeUndefined();
      expect((await t.http.get(`${base}/users?page=9`).expect(200)).body).toEqual([]);
    });

    it.each(['page=0', 'page=x', 'pageSize=0', 'pageSize=1001', 'pageSize=1.5', 'sort=name'])('rejects ?%s with 400', async (query) => {
      const { base } = newScope();
      const response = await t.http.get(`${base}/users?${query}`).expect(400);
      expect(response.body.error.code).toBe('ValidationFailed');
    });
  });

  describe('GET /users/odata', () => {
    it('answers the OData collection shape with $count, $top, $skip and a nextLink', async () => {
      const { base } = newScope();
      for (let i = 0; i < 5; i++) await createUser(base, `u${i}`);
      const page = await t.http.get(`${base}/users/odata?$top=3&$count=true`).expect(200);
      expect(page.body['@odata.context']).toBe(`${base}/$metadata#Users`);
      expect(page.body['@odata.count']).toBe(5);
      expect(userKeys(page.body.value)).toEqual(['u0', 'u1', 'u2']);
      expect(page.body['@odata.nextLink']).toBeUndefined();
      const skipped = await t.http.get(`${base}/users/odata?$skip=3`).expect(200);
      expect(userKeys(skipped.body.value)).toEqual(['u3', 'u4']);
      expect(skipped.body['@odata.count']).toBeUndefined();
      const counted = await t.http.get(`${base}/users/odata?$skip=4&$inlinecount=allpages`).expect(200);
      expect(userKeys(counted.body.value)).toEqual(['u4']);
      expect(counted.body['@odata.count']).toBe(5);
    });

    it('pages server-side by 100 and links to the rest', async () => {
      const { base } = newScope();
      const keys = Array.from({ length: 105 }, (_, i) => `u${String(i).padStart(3, '0')}`);
      await Promise.all(keys.map((key) => createUser(base, key)));
      const first = await t.http.get(`${base}/users/odata?$count=true`).expect(200);
      expect(first.body['@odata.count']).toBe(105);
      expect(first.body.value).toHaveLength(100);
      expect(first.body['@odata.nextLink']).toEqual(startingWith(`${base}/users/odata?`));
      const rest = await t.http.get(first.body['@odata.nextLink']).expect(200);
      expect(userKeys(rest.body.value)).toEqual(['u100', 'u101', 'u102', 'u103', 'u104']);
      expect(rest.body['@odata.nextLink']).toBeUndefined();
    });

    it.each([
      ['$top=1001', '$top'],
      ['$top=-1', '$top'],
      ['$skip=-1', '$skip'],
      ['$skip=x', '$skip'],
      ['$count=1', '$count'],
      ['$top=1&$top=2', '$top'],
    ])('rejects %s with 400 naming the option', async (query, option) => {
      const { base } = newScope();
      const response = await t.http.get(`${base}/users/odata?${query}`).expect(400);
      expect(response.body.error.target).toBe(option);
    });
  });

  describe('setters PUT /users/{userKey}/{property}', () => {
    it('sets each property; null clears email; 204, or 200 with the user when preferred', async () => {
      const { base } = newScope();
      await createUser(base, 'gina', { email: 'old@example.com' });
      const name = await t.http.put(`${base}/users/gina/name`).send('"Gina G."').type('json').expect(204);
      expect(name.text).toBe('');
      await t.http.put(`${base}/users/GINA/isActive`).send('false').type('json').expect(204);
      let user = (await t.http.get(`${base}/users/gina`).expect(200)).body;
      expect(user).toMatchObject({ name: 'Gina G.', isActive: false, email: 'old@example.com' });
      await t.http.put(`${base}/users/gina/email`).send('null').type('json').expect(204);
      expect((await t.http.get(`${base}/users/gina`).expect(200)).body.email).toBeNull();
      await t.http.put(`${base}/users/gina/email`).send('"new@example.com"').type('json').expect(204);
      const renamed = await t.http
        .put(`${base}/users/gina/userKey`)
        .set('Prefer', 'return=representation')
        .send('"Gina2"')
        .type('json')
        .expect(200);
      expect(renamed.headers['preference-applied']).toBe('return=representation');
      expect(renamed.body).toMatchObject({ id: user.id, userKey: 'Gina2', name: 'Gina G.', email: 'new@example.com', isActive: false, groupsCount: 0 });
      await t.http.get(`${base}/users/gina`).expect(404);
      user = (await t.http.get(`${base}/users/gina2`).expect(200)).body;
      expect(user.userKey).toBe('Gina2');
    });

    it('keeps the groups when the userKey changes', async () => {
      const { base } = newScope();
      await createUser(base, 'hal');
      await createGroup(base, 'g', ['hal']);
      await t.http.put(`${base}/users/hal/userKey`).send('"hal9000"').type('json').expect(204);
      expect(groupKeys((await t.http.get(`${base}/users/hal9000`).expect(200)).body.groups)).toEqual(['g']);
      expect(userKeys((await t.http.get(`${base}/groups/g`).expect(200)).body.users)).toEqual(['hal9000']);
    });

    it.each([
      ['name', 'null'],
      ['name', '""'],
      ['name', '"  "'],
      ['name', '5'],
      ['userKey', 'null'],
      ['userKey', '"a/b"'],
      ['userKey', '"a b"'],
      ['isActive', '"true"'],
      ['isActive', 'null'],
      ['email', '"nope"'],
      ['email', 'true'],
    ])('rejects %s = %s with 400 naming it and changes nothing', async (property, value) => {
      const { base } = newScope();
      await createUser(base, 'u', { email: 'u@example.com' });
      const before = (await t.http.get(`${base}/users/u`).expect(200)).body;
      const response = await t.http.put(`${base}/users/u/${property}`).send(value).type('json').expect(400);
      expect(response.body.error.code).toBe('ValidationFailed');
      expect(response.body.error.target).toBe(property);
      expect((await t.http.get(`${base}/users/u`).expect(200)).body).toEqual(before);
    });

    it('has no notes setter (404 RouteNotFound), and 404s other unknown properties and users', async () => {
      const { base } = newScope();
      await createUser(base, 'u');
      const before = (await t.http.get(`${base}/users/u`).expect(200)).body;
      const notes = await t.http.put(`${base}/users/u/notes`).send('"hello"').type('json').expect(404);
      expect(notes.body.error.code).toBe('RouteNotFound');
      expect((await t.http.put(`${base}/users/u/createdOn`).send('"x"').type('json').expect(404)).body.error.code).toBe('RouteNotFound');
      expect((await t.http.put(`${base}/users/u/groupsCount`).send('3').type('json').expect(404)).body.error.code).toBe('RouteNotFound');
      expect((await t.http.put(`${base}/users/zzz/name`).send('"x"').type('json').expect(404)).body.error.code).toBe('NotFound');
      expect((await t.http.get(`${base}/users/u`).expect(200)).body).toEqual(before);
    });

    it('rejects a missing body with 400, and 409s a key taken by another user (but not its own key)', async () => {
      const { base } = newScope();
      await createUser(base, 'a');
      await createUser(base, 'b');
      expect((await t.http.put(`${base}/users/a/name`).expect(400)).body.error.target).toBe('name');
      const conflict = await t.http.put(`${base}/users/a/userKey`).send('"B"').type('json').expect(409);
      expect(conflict.body.error).toMatchObject({ code: 'Conflict', target: 'userKey' });
      await t.http.put(`${base}/users/a/userKey`).send('"A"').type('json').expect(204);
      expect(userKeys((await t.http.get(`${base}/users`).expect(200)).body)).toEqual(['A', 'b']);
    });
  });

  describe('PATCH /users/{idOrKey}', () => {
    it('changes only the given properties and returns the user', async () => {
      const { base } = newScope();
      await createUser(base, 'ivy', { email: 'ivy@example.com', isActive: false });
      await createGroup(base, 'g', ['ivy']);
      const response = await t.http.patch(`${base}/users/IVY`).send({ name: 'Ivy Renamed' }).expect(200);
      expect(response.body).toMatchObject({
        userKey: 'ivy',
        name: 'Ivy Renamed',
        email: 'ivy@example.com',
        isActive: false,
        groupsCount: 1,
      });
      expect(groupKeys(response.body.groups)).toEqual(['g']);
      const cleared = await t.http.patch(`${base}/users/ivy`).send({ email: null, isActive: true }).expect(200);
      expect(cleared.body).toMatchObject({ name: 'Ivy Renamed', email: null, isActive: true });
      expect((await t.http.get(`${base}/users/ivy`).expect(200)).body).toMatchObject({ name: 'Ivy Renamed', email: null, isActive: true });
    });

    it('ignores read-only properties sent back from a GET; rejects groups, notes and unknown ones', async () => {
      const { base } = newScope();
      const id = await createUser(base, 'u');
      const { groups: _groups, ...current } = (await t.http.get(`${base}/users/u`).expect(200)).body;
      const patched = await t.http
        .patch(`${base}/users/u`)
        .send({ ...current, id: '3f1e0a52-2b7c-4c38-9d1e-7f2a1b0c9d8e', createdOn: '2000-01-01T00:00:00.000Z', groupsCount: 99, name: 'N' })
        .expect(200);
      expect(patched.body).toMatchObject({ id, name: 'N', createdOn: current.createdOn, groupsCount: 0 });
      for (const [target, body] of [
        ['groups', { groups: [] }],
        ['notes', { notes: 'x' }],
        ['color', { color: 'red' }],
        ['name', { name: null }],
        ['userKey', { userKey: null }],
        ['isActive', { isActive: null }],
      ] as const) {
        const response = await t.http.patch(`${base}/users/u`).send(body).expect(400);
        expect(response.body.error.target).toBe(target);
      }
      await t.http.patch(`${base}/users/u`).send([]).expect(400);
      await t.http.patch(`${base}/users/missing`).send({ name: 'x' }).expect(404);
      expect((await t.http.get(`${base}/users/u`).expect(200)).body.name).toBe('N');
    });

    it('409s a taken userKey and keeps the user unchanged', async () => {
      const { base } = newScope();
      await createUser(base, 'a');
      await createUser(base, 'b');
      const response = await t.http.patch(`${base}/users/a`).send({ userKey: 'B', name: 'changed' }).expect(409);
      expect(response.body.error.target).toBe('userKey');
      expect((await t.http.get(`${base}/users/a`).expect(200)).body).toMatchObject({ userKey: 'a', name: 'User a' });
    });
  });

  describe('PUT /users/{idOrKey}', () => {
    it('replaces every property and the group set (keys or group objects)', async () => {
      const { base } = newScope();
      for (const key of ['a', 'b', 'c']) await createGroup(base, key);
      await createUser(base, 'u', { email: 'u@example.com', isActive: false, groups: ['a', 'b'] });
      const response = await t.http.put(`${base}/users/u`).send({ userKey: 'U2', name: 'Whole', groups: ['c', { groupKey: 'B' }] }).expect(200);
      expect(response.body).toMatchObject({ userKey: 'U2', name: 'Whole', email: null, isActive: true, groupsCount: 2 });
      expect(groupKeys(response.body.groups)).toEqual(['b', 'c']);
      expect((await t.http.get(`${base}/groups/a`).expect(200)).body.usersCount).toBe(0);
      expect(userKeys((await t.http.get(`${base}/groups/c`).expect(200)).body.users)).toEqual(['U2']);
    });

    it('accepts a user sent back as GET returned it', async () => {
      const { base } = newScope();
      await createGroup(base, 'g1');
      await createGroup(base, 'g2');
      await createUser(base, 'u', { email: 'u@example.com', groups: ['g1', 'g2'] });
      const current = (await t.http.get(`${base}/users/u`).expect(200)).body;
      const response = await t.http.put(`${base}/users/u`).send({ ...current, name: 'Edited' }).expect(200);
      expect(response.body).toMatchObject({ id: current.id, userKey: 'u', name: 'Edited', email: 'u@example.com', groupsCount: 2 });
      expect(response.body.groups).toEqual(current.groups);
    });

    it('needs groups (possibly empty) and changes nothing on invalid input or unknown groups', async () => {
      const { base } = newScope();
      await createGroup(base, 'g');
      await createUser(base, 'u', { groups: ['g'] });
      const before = (await t.http.get(`${base}/users/u`).expect(200)).body;
      expect((await t.http.put(`${base}/users/u`).send({ userKey: 'u', name: 'X' }).expect(400)).body.error.target).toBe('groups');
      expect((await t.http.put(`${base}/users/u`).send({ userKey: 'u', name: 'X', groups: null }).expect(400)).body.error.target).toBe('groups');
      expect((await t.http.put(`${base}/users/u`).send({ userKey: 'u', name: 'X', groups: [{ name: 'g' }] }).expect(400)).body.error.target).toBe(
        'groups[0]',
      );
      expect((await t.http.put(`${base}/users/u`).send({ name: 'X', groups: [] }).expect(400)).body.error.target).toBe('userKey');
      expect((await t.http.put(`${base}/users/u`).send({ userKey: 'u', groups: [] }).expect(400)).body.error.target).toBe('name');
      expect((await t.http.put(`${base}/users/u`).send({ userKey: 'u', name: 'X', notes: 'n', groups: [] }).expect(400)).body.error.target).toBe(
        'notes',
      );
      const unknown = await t.http.put(`${base}/users/u`).send({ userKey: 'u', name: 'X', groups: ['ghost'] }).expect(400);
      expect(unknown.body.error.code).toBe('UnknownReferences');
      expect(unknown.body.error.details.map((d: { target: string }) => d.target)).toEqual(['ghost']);
      expect((await t.http.get(`${base}/users/u`).expect(200)).body).toEqual(before);
      const emptied = await t.http.put(`${base}/users/u`).send({ userKey: 'u', name: 'U', groups: [] }).expect(200);
      expect(emptied.body).toMatchObject({ groupsCount: 0, groups: [] });
      await t.http.put(`${base}/users/missing`).send({ userKey: 'missing', name: 'M', groups: [] }).expect(404);
    });

    it('409s a userKey taken by another user and changes nothing', async () => {
      const { base } = newScope();
      await createGroup(base, 'g');
      await createUser(base, 'a');
      await createUser(base, 'b');
      const response = await t.http.put(`${base}/users/a`).send({ userKey: 'b', name: 'X', groups: ['g'] }).expect(409);
      expect(response.body.error.target).toBe('userKey');
      expect((await t.http.get(`${base}/users/a`).expect(200)).body).toMatchObject({ userKey: 'a', name: 'User a', groupsCount: 0 });
      expect((await t.http.get(`${base}/groups/g`).expect(200)).body.usersCount).toBe(0);
    });
  });

  describe('DELETE /users/{idOrKey}', () => {
    it('deletes (204), then 404; memberships go with it, groups stay', async () => {
      const { base } = newScope();
      await createUser(base, 'keep');
      const id = await createUser(base, 'gone');
      await createGroup(base, 'g1', ['gone', 'keep']);
      await createGroup(base, 'g2', ['gone']);
      const deleted = await t.http.delete(`${base}/users/GONE`).expect(204);
      expect(deleted.text).toBe('');
      await t.http.delete(`${base}/users/${id}`).expect(404);
      await t.http.get(`${base}/users/${id}`).expect(404);
      await t.http.get(`${base}/users/gone/groups`).expect(404);
      const g1 = (await t.http.get(`${base}/groups/g1`).expect(200)).body;
      expect(g1.usersCount).toBe(1);
      expect(userKeys(g1.users)).toEqual(['keep']);
      expect((await t.http.get(`${base}/groups/g2`).expect(200)).body).toMatchObject({ usersCount: 0, users: [] });
      expect(userKeys((await t.http.get(`${base}/users`).expect(200)).body)).toEqual(['keep']);
      // the key is free again
      await createUser(base, 'gone');
      expect((await t.http.get(`${base}/users/gone`).expect(200)).body.groupsCount).toBe(0);
    });

    it('does not delete a user of another scope', async () => {
      const a = newScope();
      const b = newScope();
      const id = await createUser(a.base, 'u');
      await t.http.delete(`${b.base}/users/${id}`).expect(404);
      await t.http.delete(`${b.base}/users/u`).expect(404);
      await t.http.get(`${a.base}/users/${id}`).expect(200);
    });
  });

  describe('GET /users/{idOrKey}/groups', () => {
    it('lists the groups in the OData shape, by id or key, with $count/$top/$skip', async () => {
      const { base } = newScope();
      const id = await createUser(base, 'u');
      await createUser(base, 'other');
      for (const key of ['d', 'b', 'a', 'c']) await createGroup(base, key, ['u']);
      await createGroup(base, 'e', ['other']);
      const all = await t.http.get(`${base}/users/U/groups?$count=true`).expect(200);
      expect(all.body['@odata.context']).toBe(`${base}/$metadata#Groups`);
      expect(all.body['@odata.count']).toBe(4);
      expect(groupKeys(all.body.value)).toEqual(['a', 'b', 'c', 'd']);
      expect(all.body.value[0]).toMatchObject({ id: expect.stringMatching(UUID), groupKey: 'a', name: 'Group a', email: null, isActive: true });
      expect(all.body['@odata.nextLink']).toBeUndefined();
      const page = await t.http.get(`${base}/users/${id}/groups?$top=2&$skip=1`).expect(200);
      expect(groupKeys(page.body.value)).toEqual(['b', 'c']);
      expect(page.body['@odata.count']).toBeUndefined();
      expect(page.body['@odata.nextLink']).toBeUndefined();
      const empty = await t.http.get(`${base}/users/u/groups?$skip=10&$count=true`).expect(200);
      expect(empty.body).toEqual({ '@odata.context': `${base}/$metadata#Groups`, '@odata.count': 4, value: [] });
    });

    it('links to the next page when more than 100 groups remain', async () => {
      const { base } = newScope();
      const id = await createUser(base, 'u');
      const keys = Array.from({ length: 102 }, (_, i) => `g${String(i).padStart(3, '0')}`);
      await Promise.all(keys.map((key) => createGroup(base, key)));
      await t.http.post(`${base}/users/u/groups/add`).send(keys).expect(200, { added: 102, unchanged: 0 });
      const first = await t.http.get(`${base}/users/u/groups`).expect(200);
      expect(first.body.value).toHaveLength(100);
      expect(first.body['@odata.nextLink']).toEqual(startingWith(`${base}/users/${id}/groups?`));
      const rest = await t.http.get(first.body['@odata.nextLink']).expect(200);
      expect(groupKeys(rest.body.value)).toEqual(['g100', 'g101']);
      expect((await t.http.get(`${base}/users/u`).expect(200)).body.groupsCount).toBe(102);
    });

    it('404s an unknown user and rejects invalid options', async () => {
      const { base } = newScope();
      await createUser(base, 'u');
      expect((await t.http.get(`${base}/users/nobody/groups`).expect(404)).body.error.code).toBe('NotFound');
      expect((await t.http.get(`${base}/users/u/groups?$top=x`).expect(400)).body.error.target).toBe('$top');
    });
  });
});
