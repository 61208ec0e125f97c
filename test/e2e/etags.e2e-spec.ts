import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';

const STRONG_ETAG = /^"[A-Za-z0-9_-]{27}"$/;

describe('ETags and conditional requests', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A scope with group g holding user a, and user b outside it. */
  async function seeded() {
    const scope = newScope();
    for (const userKey of ['a', 'b']) await t.http.post(`${scope.base}/users`).send({ userKey, name: userKey }).expect(201);
    await t.http.post(`${scope.base}/groups`).send({ groupKey: 'g', name: 'G', users: ['a'] }).expect(201);
    return scope;
  }
  const etagOf = async (url: string) => (await t.http.get(url).expect(200)).headers['etag'] as string;

  describe('GET', () => {
    it('carries a strong ETag that stays the same while nothing changes', async () => {
      const { base } = await seeded();
      const first = await etagOf(`${base}/groups/g`);
      expect(first).toMatch(STRONG_ETAG);
      expect(await etagOf(`${base}/groups/g`)).toBe(first);
      expect(await etagOf(`${base}/users/a`)).toMatch(STRONG_ETAG);
    });

    it('is the hash of the very bytes sent, which are the JSON representation (and a write sees the same tag)', async () => {
      const { base } = await seeded();
      for (const url of [`${base}/groups/g`, `${base}/users/a`]) {
        const response = await t.http.get(url).expect(200);
        expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
        const digest = createHash('sha256').update(response.text).digest('base64url');
        expect(response.headers['etag']).toBe(`"${digest.slice(0, 27)}"`);
        expect(JSON.parse(response.text)).toEqual(response.body);
      }
      const current = await etagOf(`${base}/groups/g`);
      await t.http.patch(`${base}/groups/g`).set('If-Match', current).send({}).expect(200);
    });

    it('answers 304 without a body to If-None-Match with the current tag (also weak, listed, or *)', async () => {
      const { base } = await seeded();
      const tag = await etagOf(`${base}/groups/g`);
      for (const header of [tag, `W/${tag}`, `"other", ${tag}`, '*']) {
        const response = await t.http.get(`${base}/groups/g`).set('If-None-Match', header).expect(304);
        expect(response.text ?? '').toBe('');
        expect(response.headers['etag']).toBe(tag);
      }
      await t.http.get(`${base}/groups/g`).set('If-None-Match', '"stale"').expect(200);
    });

    it('changes when the representation changes by any path: own write, member joins from the user side, member renamed', async () => {
      const { base } = await seeded();
      const tags = [await etagOf(`${base}/groups/g`)];
      await t.http.put(`${base}/groups/g/notes`).type('json').send('"n"').expect(204);
      tags.push(await etagOf(`${base}/groups/g`));
      await t.http.post(`${base}/users/b/groups/add`).send(['g']).expect(200);
      tags.push(await etagOf(`${base}/groups/g`));
      await t.http.put(`${base}/users/a/name`).type('json').send('"Renamed"').expect(204);
      tags.push(await etagOf(`${base}/groups/g`));
      expect(new Set(tags).size).toBe(4);
    });
  });

  describe('write responses carry the ETag a GET would return next', () => {
    it.each([
      ['POST create', async (base: string) => t.http.post(`${base}/groups`).send({ groupKey: 'h', name: 'H', users: ['b'] }).expect(201), 'h'],
      ['PATCH', async (base: string) => t.http.patch(`${base}/groups/g`).send({ name: 'P' }).expect(200), 'g'],
      ['PUT', async (base: string) => t.http.put(`${base}/groups/g`).send({ groupKey: 'g', name: 'R', users: ['b'] }).expect(200), 'g'],
      ['setter', async (base: string) => t.http.put(`${base}/groups/g/isActive`).type('json').send('false').expect(204), 'g'],
      ['users/add', async (base: string) => t.http.post(`${base}/groups/g/users/add`).send(['b']).expect(200), 'g'],
      ['users/removeById', async (base: string) => {
        const id = (await t.http.get(`${base}/users/a`).expect(200)).body.id;
        return t.http.post(`${base}/groups/g/users/removeById`).send([id]).expect(200);
      }, 'g'],
      ['PUT users', async (base: string) => t.http.put(`${base}/groups/g/users`).send(['a', 'b']).expect(200), 'g'],
    ])('%s', async (_name, write, key) => {
      const { base } = await seeded();
      const response = await write(base);
      expect(response.headers['etag']).toMatch(STRONG_ETAG);
      expect(response.headers['etag']).toBe(await etagOf(`${base}/groups/${key}`));
    });
  });

  describe('If-Match', () => {
    const writes: Array<[string, (base: string, ifMatch: string) => Promise<{ status: number }>]> = [
      ['PATCH', (base, ifMatch) => t.http.patch(`${base}/groups/g`).set('If-Match', ifMatch).send({ name: 'X' })],
      ['PUT', (base, ifMatch) => t.http.put(`${base}/groups/g`).set('If-Match', ifMatch).send({ groupKey: 'g', name: 'X', users: [] })],
      ['setter', (base, ifMatch) => t.http.put(`${base}/groups/g/name`).set('If-Match', ifMatch).type('json').send('"X"')],
      ['users/add', (base, ifMatch) => t.http.post(`${base}/groups/g/users/add`).set('If-Match', ifMatch).send(['b'])],
      ['users/remove', (base, ifMatch) => t.http.post(`${base}/groups/g/users/remove`).set('If-Match', ifMatch).send(['a'])],
      ['PUT users', (base, ifMatch) => t.http.put(`${base}/groups/g/users`).set('If-Match', ifMatch).send([])],
      ['user-side groups/add', (base, ifMatch) => t.http.post(`${base}/users/b/groups/add`).set('If-Match', ifMatch).send(['g'])],
      ['DELETE', (base, ifMatch) => t.http.delete(`${base}/groups/g`).set('If-Match', ifMatch)],
    ];

    it.each(writes)('%s: a stale or weak tag → 412 and nothing changes', async (name, write) => {
      const { base } = await seeded();
      const groupBefore = (await t.http.get(`${base}/groups/g`).expect(200)).body;
      const userBefore = (await t.http.get(`${base}/users/b`).expect(200)).body;
      const current = name.startsWith('user-side') ? await etagOf(`${base}/users/b`) : await etagOf(`${base}/groups/g`);
      for (const stale of ['"stale"', `W/${current}`, '"a", "b"']) {
        const response = await write(base, stale);
        expect({ name, stale, status: response.status }).toEqual({ name, stale, status: 412 });
        expect((response as unknown as { body: { error: { code: string } } }).body.error.code).toBe('PreconditionFailed');
      }
      expect((await t.http.get(`${base}/groups/g`).expect(200)).body).toEqual(groupBefore);
      expect((await t.http.get(`${base}/users/b`).expect(200)).body).toEqual(userBefore);
    });

    it.each(writes)('%s: the current tag, a list holding it, or * → the write happens', async (name, write) => {
      for (const form of ['current', 'list', '*'] as const) {
        const { base } = await seeded();
        const current = name.startsWith('user-side') ? await etagOf(`${base}/users/b`) : await etagOf(`${base}/groups/g`);
        const header = form === 'current' ? current : form === 'list' ? `"x", ${current}` : '*';
        const response = await write(base, header);
        expect({ name, form, ok: response.status < 300 }).toEqual({ name, form, ok: true });
      }
    });

    it('lets exactly one of two writers holding the same tag win (optimistic concurrency)', async () => {
      const { base } = await seeded();
      const tag = await etagOf(`${base}/groups/g`);
      const results = await Promise.all(
        ['first', 'second', 'third', 'fourth'].map((name) => t.http.patch(`${base}/groups/g`).set('If-Match', tag).send({ name })),
      );
      expect(results.map((response) => response.status).sort()).toEqual([200, 412, 412, 412]);
      const winner = results.find((response) => response.status === 200)!;
      expect((await t.http.get(`${base}/groups/g`).expect(200)).body.name).toBe(winner.body.name);
    });

    it('a missing record is still 404', async () => {
      const { base } = await seeded();
      await t.http.patch(`${base}/groups/nope`).set('If-Match', '*').send({ name: 'x' }).expect(404);
    });
  });
});
