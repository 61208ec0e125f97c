import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('groups', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  async function createUser(base: string, userKey: string): Promise<string> {
    const response = await t.http.post(`${base}/users`).send({ userKey, name: `User ${userKey}` }).expect(201);
    return response.body as string;
  }

  describe('POST /groups', () => {
    it('creates a group: 201, Location, body = id as a JSON string', async () => {
      const { base } = newScope();
      const response = await t.http.post(`${base}/groups`).send({ groupKey: 'Ops', name: 'Operations' }).expect(201);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.body).toMatch(UUID);
      expect(response.headers['location']).toBe(`${base}/groups/${response.body}`);
      const group = await t.http.get(response.headers['location']!).expect(200);
      expect(group.body).toMatchObject({
        id: response.body,
        groupKey: 'Ops',
        name: 'Operations',
        email: null,
        notes: null,
        isActive: true,
        usersCount: 0,
        users: [],
      });
      expect(new Date(group.body.createdOn).toISOString()).toBe(group.body.createdOn);
      expect(group.body.modifiedOn).toBe(group.body.createdOn);
    });

    it('returns the resource with Prefer: return=representation, members included', async () => {
      const { base } = newScope();
      await createUser(base, 'alice');
      await createUser(base, 'bob');
      const response = await t.http
        .post(`${base}/groups`)
        .set('Prefer', 'return=representation')
        .send({ groupKey: 'ops', name: 'Ops', email: 'ops@example.com', notes: 'n', isActive: false, users: ['BOB', 'alice', 'alice'] })
        .expect(201);
      expect(response.headers['preference-applied']).toBe('return=representation');
      expect(response.body).toMatchObject({ groupKey: 'ops', email: 'ops@example.com', notes: 'n', isActive: false, usersCount: 2 });
      expect(response.body.users.map((u: { userKey: string }) => u.userKey)).toEqual(['alice', 'bob']);
      expect(Object.keys(response.body.users[0]).sort()).toEqual(['email', 'id', 'isActive', 'name', 'userKey']);
    });

    it('rejects a taken groupKey case-insensitively with 409, keeping the original', async () => {
      const { base } = newScope();
      await t.http.post(`${base}/groups`).send({ groupKey: 'Sales', name: 'A' }).expect(201);
      const response = await t.http.post(`${base}/groups`).send({ groupKey: 'sALES', name: 'B' }).expect(409);
      expect(response.body.error).toMatchObject({ code: 'Conflict', target: 'groupKey' });
      const list = await t.http.get(`${base}/groups`).expect(200);
      expect(list.body).toHaveLength(1);
      expect(list.body[0]).toMatchObject({ groupKey: 'Sales', name: 'A' });
    });

    it('turns a race of creates with one key into exactly one 201 and 409s', async () => {
      const { base } = newScope();
      const responses = await Promise.all(
        Array.from({ length: 8 }, (_, i) => t.http.post(`${base}/groups`).send({ groupKey: i % 2 ? 'race' : 'RACE', name: `n${i}` })),
      );
      expect(responses.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    });

    it('resolves member keys with the database\'s own case folding (non-ASCII keys)', async () => {
      const { base } = newScope();
      for (const key of ['ΣΑΣ', 'İstanbul', 'Straße']) await createUser(base, key);
      const created = await t.http
        .post(`${base}/groups`)
        .set('Prefer', 'return=representation')
        .send({ groupKey: 'intl', name: 'International', users: ['ΣΑΣ', 'İstanbul', 'Straße'] })
        .expect(201);
      expect(created.body.usersCount).toBe(3);
      const removed = await t.http.post(`${base}/groups/intl/users/remove`).send(['ΣΑΣ', 'Straße']).expect(200);
      expect(removed.body).toEqual({ removed: 2, unchanged: 0 });
    });

    it('creates nothing when a member is unknown (400 listing it)', async () => {
      const { base } = newScope();
      await createUser(base, 'alice');
      const response = await t.http.post(`${base}/groups`).send({ groupKey: 'g', name: 'G', users: ['alice', 'ghost', 'nobody'] }).expect(400);
      expect(response.body.error.code).toBe('UnknownReferences');
      expect(response.body.error.details.map((d: { target: string }) => d.target)).toEqual(['ghost', 'nobody']);
      await t.http.get(`${base}/groups/g`).expect(404);
    });

    it.each([
      ['groupKey', { name: 'x' }],
      ['groupKey', { groupKey: 'a/b', name: 'x' }],
      ['groupKey', { groupKey: 'a b', name: 'x' }],
      ['groupKey', { groupKey: 'k'.repeat(65), name: 'x' }],
      ['groupKey', { groupKey: '', name: 'x' }],
      ['groupKey', { groupKey: 7, name: 'x' }],
      ['name', { groupKey: 'k' }],
      ['name', { groupKey: 'k', name: '' }],
      ['name', { groupKey: 'k', name: '   ' }],
      ['name', { groupKey: 'k', name: 'n'.repeat(201) }],
      ['email', { groupKey: 'k', name: 'n', email: 'not-an-email' }],
      ['email', { groupKey: 'k', name: 'n', email: `${'e'.repeat(250)}@x.io` }],
      ['notes', { groupKey: 'k', name: 'n', notes: 'n'.repeat(4001) }],
      ['isActive', { groupKey: 'k', name: 'n', isActive: 'true' }],
      ['isActive', { groupKey: 'k', name: 'n', isActive: null }],
      ['users', { groupKey: 'k', name: 'n', users: 'alice' }],
      ['users[0]', { groupKey: 'k', name: 'n', users: ['a b'] }],
      ['id', { groupKey: 'k', name: 'n', id: 'x' }],
      ['color', { groupKey: 'k', name: 'n', color: 'red' }],
    ])('rejects a bad %s with 400 naming it, writing nothing (case %#)', async (target, body) => {
      const { base } = newScope();
      const response = await t.http.post(`${base}/groups`).send(body).expect(400);
      expect(response.body.error.target).toBe(target);
      expect((await t.http.get(`${base}/groups`).expect(200)).body).toEqual([]);
    });

    it('accepts email and notes as null (none)', async () => {
      const { base } = newScope();
      const response = await t.http
        .post(`${base}/groups`)
        .set('Prefer', 'return=representation')
        .send({ groupKey: 'k', name: 'n', email: null, notes: null })
        .expect(201);
      expect(response.body).toMatchObject({ email: null, notes: null });
    });
  });

  describe('GET /groups/{idOrKey}', () => {
    it('finds a group by id, and by key case-insensitively', async () => {
      const { base } = newScope();
      const id = (await t.http.post(`${base}/groups`).send({ groupKey: 'Finance', name: 'F' }).expect(201)).body;
      expect((await t.http.get(`${base}/groups/${id}`).expect(200)).body.groupKey).toBe('Finance');
      expect((await t.http.get(`${base}/groups/finance`).expect(200)).body.id).toBe(id);
      expect((await t.http.get(`${base}/groups/FINANCE`).expect(200)).body.id).toBe(id);
    });

    it('prefers the id when a key looks like another group id', async () => {
      const { base } = newScope();
      const first = (await t.http.post(`${base}/groups`).send({ groupKey: 'first', name: 'F' }).expect(201)).body;
      const second = (await t.http.post(`${base}/groups`).send({ groupKey: first, name: 'S' }).expect(201)).body;
      expect((await t.http.get(`${base}/groups/${first}`).expect(200)).body.id).toBe(first);
      expect((await t.http.get(`${base}/groups/${second}`).expect(200)).body.id).toBe(second);
    });

    it('answers 404 in the OData error shape for an unknown group', async () => {
      const { base } = newScope();
      const response = await t.http.get(`${base}/groups/nope`).expect(404);
      expect(response.body).toEqual({ error: { code: 'NotFound', message: "Group 'nope' was not found", target: 'nope' } });
      await t.http.get(`${base}/groups/3f1e0a52-2b7c-4c38-9d1e-7f2a1b0c9d8e`).expect(404);
    });

    it('inlines at most 1,000 members, with usersCount and a link to the rest', async () => {
      const { base } = newScope();
      const keys = Array.from({ length: 1005 }, (_, i) => `u${String(i).padStart(4, '0')}`);
      for (let i = 0; i < keys.length; i += 250) {
        await Promise.all(keys.slice(i, i + 250).map((key) => t.http.post(`${base}/users`).send({ userKey: key, name: key }).expect(201)));
      }
      await t.http.post(`${base}/groups`).send({ groupKey: 'big', name: 'Big', users: keys }).expect(201);
      const group = await t.http.get(`${base}/groups/big`).expect(200);
      expect(group.body.usersCount).toBe(1005);
      expect(group.body.users).toHaveLength(1000);
      expect(group.body.users[999].userKey).toBe('u0999');
      const next = group.body['users@odata.nextLink'];
      expect(next).toMatch(new RegExp(`^${base}/groups/${group.body.id}/users\\?.*\\$skiptoken=`));
      const rest = await t.http.get(next).expect(200);
      expect(rest.body.value.map((u: { userKey: string }) => u.userKey)).toEqual(['u1000', 'u1001', 'u1002', 'u1003', 'u1004']);
      expect(rest.body['@odata.nextLink']).toBeUndefined();
    });
  });

  describe('GET /groups (plain list)', () => {
    it('pages in key order with a Link to the next page', async () => {
      const { base } = newScope();
      for (const key of ['delta', 'Alpha', 'charlie', 'bravo', 'echo']) {
        await t.http.post(`${base}/groups`).send({ groupKey: key, name: key }).expect(201);
      }
      const first = await t.http.get(`${base}/groups?pageSize=2`).expect(200);
      expect(first.body.map((g: { groupKey: string }) => g.groupKey)).toEqual(['Alpha', 'bravo']);
      expect(first.body[0].users).toBeUndefined();
      expect(first.headers['link']).toBe(`<${base}/groups?page=2&pageSize=2>; rel="next"`);
      const third = await t.http.get(`${base}/groups?page=3&pageSize=2`).expect(200);
      expect(third.body.map((g: { groupKey: string }) => g.groupKey)).toEqual(['echo']);
      expect(third.headers['link']).toBeUndefined();
      expect((await t.http.get(`${base}/groups?page=9`).expect(200)).body).toEqual([]);
    });

    it.each(['page=0', 'page=-1', 'page=x', 'pageSize=0', 'pageSize=1001', 'pageSize=1.5', 'sort=name'])(
      'rejects ?%s with 400',
      async (query) => {
        const { base } = newScope();
        const response = await t.http.get(`${base}/groups?${query}`).expect(400);
        expect(response.body.error.code).toBe('ValidationFailed');
      },
    );
  });

  describe('GET /groups/odata', () => {
    it('answers the OData collection shape with $count, $top, $skip and a nextLink', async () => {
      const { base } = newScope();
      for (let i = 0; i < 5; i++) await t.http.post(`${base}/groups`).send({ groupKey: `g${i}`, name: `G${i}` }).expect(201);
      const page = await t.http.get(`${base}/groups/odata?$top=3&$count=true`).expect(200);
      expect(page.body['@odata.context']).toBe(`${base}/$metadata#Groups`);
      expect(page.body['@odata.count']).toBe(5);
      expect(page.body.value.map((g: { groupKey: string }) => g.groupKey)).toEqual(['g0', 'g1', 'g2']);
      expect(page.body['@odata.nextLink']).toBeUndefined(); // $top=3 is satisfied
      const skipped = await t.http.get(`${base}/groups/odata?$skip=4&$inlinecount=allpages`).expect(200);
      expect(skipped.body.value.map((g: { groupKey: string }) => g.groupKey)).toEqual(['g4']);
      expect(skipped.body['@odata.count']).toBe(5);
    });

    it.each(['$filter=name eq', '$top=1001', '$top=-1', '$skip=x', '$count=yes', '$top=1&$top=2', '$orderby=nope', '$apply=groupby((name))'])(
      'rejects %s with 400 rather than ignoring it',
      async (query) => {
        const { base } = newScope();
        const response = await t.http.get(`${base}/groups/odata?${query}`).expect(400);
        expect(response.body.error.code).toMatch(/BadRequest|UnsupportedQueryOption/);
      },
    );
  });

  describe('setters PUT /groups/{groupKey}/{property}', () => {
    it('sets each property; null clears optional ones; 204 or the resource when preferred', async () => {
      const { base } = newScope();
      await t.http.post(`${base}/groups`).send({ groupKey: 'g', name: 'G', notes: 'old' }).expect(201);
      await t.http.put(`${base}/groups/g/name`).send('"New name"').type('json').expect(204);
      await t.http.put(`${base}/groups/g/email`).send('"team@example.com"').type('json').expect(204);
      await t.http.put(`${base}/groups/g/isActive`).send('false').type('json').expect(204);
      await t.http.put(`${base}/groups/g/notes`).send('null').type('json').expect(204);
      const renamed = await t.http.put(`${base}/groups/g/groupKey`).set('Prefer', 'return=representation').send('"G2"').type('json').expect(200);
      expect(renamed.body).toMatchObject({ groupKey: 'G2', name: 'New name', email: 'team@example.com', isActive: false, notes: null });
      expect(Date.parse(renamed.body.modifiedOn)).toBeGreaterThanOrEqual(Date.parse(renamed.body.createdOn));
      await t.http.get(`${base}/groups/g`).expect(404);
      await t.http.get(`${base}/groups/g2`).expect(200);
    });

    it.each([
      ['name', 'null'],
      ['name', '""'],
      ['name', '5'],
      ['groupKey', 'null'],
      ['groupKey', '"a/b"'],
      ['isActive', '"true"'],
      ['isActive', 'null'],
      ['email', '"nope"'],
      ['email', 'true'],
      ['notes', '{"a":1}'],
    ])('rejects %s = %s with 400 and changes nothing', async (property, value) => {
      const { base } = newScope();
      await t.http.post(`${base}/groups`).send({ groupKey: 'g', name: 'G' }).expect(201);
      const before = (await t.http.get(`${base}/groups/g`).expect(200)).body;
      const response = await t.http.put(`${base}/groups/g/${property}`).send(value).type('json').expect(400);
      expect(response.body.error.target).toBe(property);
      expect((await t.http.get(`${base}/groups/g`).expect(200)).body).toEqual(before);
    });

    it('lets exactly one of many concurrent renames to one groupKey win; the others get 409', async () => {
      const { base } = newScope();
      const keys = Array.from({ length: 8 }, (_, i) => `g${i}`);
      for (const key of keys) await t.http.post(`${base}/groups`).send({ groupKey: key, name: key }).expect(201);
      const responses = await Promise.all(
        keys.map((key, i) => t.http.put(`${base}/groups/${key}/groupKey`).type('json').send(i % 2 ? '"Target"' : '"TARGET"')),
      );
      expect(responses.map((response) => response.status).sort()).toEqual([204, 409, 409, 409, 409, 409, 409, 409]);
      const list = (await t.http.get(`${base}/groups`).expect(200)).body.map((group: { groupKey: string }) => group.groupKey.toLowerCase());
      expect(list.filter((key: string) => key === 'target')).toHaveLength(1);
      expect(list).toHaveLength(8);
    });

    it('rejects a missing body, 409s a taken key, 404s unknown groups and properties', async () => {
      const { base } = newScope();
      await t.http.post(`${base}/groups`).send({ groupKey: 'a', name: 'A' }).expect(201);
      await t.http.post(`${base}/groups`).send({ groupKey: 'b', name: 'B' }).expect(201);
      await t.http.put(`${base}/groups/a/name`).expect(400);
      await t.http.put(`${base}/groups/a/groupKey`).send('"B"').type('json').expect(409);
      await t.http.put(`${base}/groups/a/groupKey`).send('"A"').type('json').expect(204); // its own key, other case
      await t.http.put(`${base}/groups/zzz/name`).send('"x"').type('json').expect(404);
      await t.http.put(`${base}/groups/a/createdOn`).send('"x"').type('json').expect(404);
    });
  });

  describe('PATCH /groups/{idOrKey}', () => {
    it('changes only the given properties and returns the group', async () => {
      const { base } = newScope();
      await t.http.post(`${base}/groups`).send({ groupKey: 'g', name: 'G', email: 'a@b.co', notes: 'keep' }).expect(201);
      const response = await t.http.patch(`${base}/groups/g`).send({ name: 'Renamed', email: null }).expect(200);
      expect(response.body).toMatchObject({ groupKey: 'g', name: 'Renamed', email: null, notes: 'keep', isActive: true, usersCount: 0 });
    });

    it('ignores read-only properties sent back from a GET, rejects users and unknown ones', async () => {
      const { base } = newScope();
      await t.http.post(`${base}/groups`).send({ groupKey: 'g', name: 'G' }).expect(201);
      const { users: _users, ...current } = (await t.http.get(`${base}/groups/g`).expect(200)).body;
      await t.http.patch(`${base}/groups/g`).send({ ...current, name: 'N' }).expect(200);
      expect((await t.http.patch(`${base}/groups/g`).send({ users: [] }).expect(400)).body.error.target).toBe('users');
      expect((await t.http.patch(`${base}/groups/g`).send({ name: null }).expect(400)).body.error.target).toBe('name');
      await t.http.patch(`${base}/groups/g`).send([]).expect(400);
      await t.http.patch(`${base}/groups/missing`).send({ name: 'x' }).expect(404);
    });
  });

  describe('PUT /groups/{idOrKey}', () => {
    it('replaces every property and the member set', async () => {
      const { base } = newScope();
      for (const key of ['a', 'b', 'c']) await createUser(base, key);
      await t.http.post(`${base}/groups`).send({ groupKey: 'g', name: 'G', email: 'x@y.io', notes: 'n', users: ['a', 'b'] }).expect(201);
      const response = await t.http.put(`${base}/groups/g`).send({ groupKey: 'g', name: 'Whole', users: ['c', { userKey: 'b' }] }).expect(200);
      expect(response.body).toMatchObject({ name: 'Whole', email: null, notes: null, isActive: true, usersCount: 2 });
      expect(response.body.users.map((u: { userKey: string }) => u.userKey)).toEqual(['b', 'c']);
    });

    it('needs users (possibly empty) and changes nothing on unknown members', async () => {
      const { base } = newScope();
      await createUser(base, 'a');
      await t.http.post(`${base}/groups`).send({ groupKey: 'g', name: 'G', users: ['a'] }).expect(201);
      expect((await t.http.put(`${base}/groups/g`).send({ groupKey: 'g', name: 'G' }).expect(400)).body.error.target).toBe('users');
      await t.http.put(`${base}/groups/g`).send({ groupKey: 'g', name: 'Other', users: ['ghost'] }).expect(400);
      const unchanged = (await t.http.get(`${base}/groups/g`).expect(200)).body;
      expect(unchanged).toMatchObject({ name: 'G', usersCount: 1 });
      const emptied = await t.http.put(`${base}/groups/g`).send({ groupKey: 'g', name: 'G', users: [] }).expect(200);
      expect(emptied.body.usersCount).toBe(0);
    });
  });

  describe('DELETE /groups/{idOrKey}', () => {
    it('deletes (204), then 404; memberships go with it, users stay', async () => {
      const { base } = newScope();
      await createUser(base, 'a');
      const id = (await t.http.post(`${base}/groups`).send({ groupKey: 'g', name: 'G', users: ['a'] }).expect(201)).body;
      await t.http.delete(`${base}/groups/${id}`).expect(204);
      await t.http.delete(`${base}/groups/${id}`).expect(404);
      await t.http.get(`${base}/groups/g`).expect(404);
      const user = await t.http.get(`${base}/users/a`).expect(200);
      expect(user.body).toMatchObject({ groupsCount: 0, groups: [] });
    });
  });

  describe('request shape', () => {
    it('answers 415 for a non-JSON body, 400 for malformed JSON, and OData errors for unknown routes', async () => {
      const { base } = newScope();
      expect((await t.http.post(`${base}/groups`).set('Content-Type', 'text/plain').send('groupKey=x').expect(415)).body.error.code).toBe(
        'UnsupportedMediaType',
      );
      expect((await t.http.post(`${base}/groups`).set('Content-Type', 'application/json').send('{"groupKey":').expect(400)).body.error.code).toBe(
        'BadRequest',
      );
      expect((await t.http.post(`${base}/groups`).send('"text"').type('json').expect(400)).body.error.message).toMatch(/JSON object/);
      expect((await t.http.delete(`${base}/groups`).expect(404)).body.error.code).toBe('RouteNotFound');
      expect((await t.http.post(`${base}/groups/g/users/merge`).send([]).expect(404)).body.error.code).toBe('RouteNotFound');
    });

    it('answers 413 for a body over MAX_BODY (default 1 MB)', async () => {
      const { base } = newScope();
      const response = await t.http
        .post(`${base}/groups`)
        .send({ groupKey: 'big', name: 'x', notes: 'n'.repeat(1024 * 1024 + 10) })
        .expect(413);
      expect(response.body.error.code).toBe('PayloadTooLarge');
    });

    it.each(['a%20b', 'x'.repeat(65), 'a.b', 'caf%C3%A9'])('rejects tenantKey %s with 400', async (tenantKey) => {
      const response = await t.http.get(`/api/${tenantKey}/hq/identity/groups`).expect(400);
      expect(response.body.error).toMatchObject({ code: 'InvalidScope', target: 'tenantKey' });
    });

    it('rejects a bad orgKey with 400, before reading the body', async () => {
      const response = await t.http.post(`/api/acme/h!q/identity/groups`).send({}).expect(400);
      expect(response.body.error).toMatchObject({ code: 'InvalidScope', target: 'orgKey' });
    });
  });
});
