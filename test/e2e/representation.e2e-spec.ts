import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';

/**
 * A single-resource GET sends the representation as PostgreSQL writes it (JSON text, passed
 * through), while writes answer with the representation the service builds and serializes. Both
 * must be the same bytes — the ETag is their hash, and a client's `If-Match` from a GET must match
 * what a write computes. Checked on arbitrary text (quotes, backslashes, control characters,
 * non-BMP characters, U+2028) and member sets, on groups and on users.
 */
const tricky = fc.constantFrom('a', 'Z', ' ', '"', '\\', '/', '\n', '\t', '\r', '\b', '\f', '\u0001', '\u001f', '\u007f', 'é', 'ß', 'Σ', '𝄞', '\u2028', '<', '&', "'");
const text = (minLength: number, maxLength: number) =>
  fc.array(tricky, { minLength, maxLength }).map((chars) => chars.join('')).filter((value) => /\S/.test(value));

describe('a GET answers the very bytes a write answers (representation written by PostgreSQL)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('for groups and users with arbitrary text and members', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          name: text(1, 12),
          notes: fc.option(text(0, 12), { nil: null }),
          isActive: fc.boolean(),
          users: fc.array(fc.record({ name: text(1, 8), email: fc.option(fc.constantFrom('a@example.com', 'Ä@example.org'), { nil: null }) }), { maxLength: 4 }),
        }),
        async ({ name, notes, isActive, users }) => {
          const { base } = newScope('repr');
          const userKeys = users.map((_, index) => `u${index}`);
          for (const [index, user] of users.entries()) {
            await t.http.post(`${base}/users`).send({ userKey: userKeys[index], ...user }).expect(201);
          }
          await t.http.post(`${base}/groups`).send({ groupKey: 'g', name, notes, isActive, users: userKeys }).expect(201);

          // The write's answer (built and serialized by the service) …
          const written = await t.http.patch(`${base}/groups/g`).send({ notes }).expect(200);
          // … and the read's (passed through from PostgreSQL).
          const read = await t.http.get(`${base}/groups/g`).expect(200);
          expect(read.text).toBe(written.text);
          expect(read.headers['etag']).toBe(written.headers['etag']);
          await t.http.get(`${base}/groups/g`).set('If-None-Match', written.headers['etag']!).expect(304);

          if (users.length > 0) {
            const writtenUser = await t.http.patch(`${base}/users/u0`).send({ name: users[0]!.name }).expect(200);
            const readUser = await t.http.get(`${base}/users/${writtenUser.body.id}`).expect(200);
            expect(readUser.text).toBe(writtenUser.text);
            expect(readUser.headers['etag']).toBe(writtenUser.headers['etag']);
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
