import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import type { Response } from 'supertest';
import type Test from 'supertest/lib/test.js';
import { newScope, startTestApp, TestApp } from '../support/test-app.js';
import { percentEncode } from '../support/percent-encode.js';

/*
 * Property-based robustness: whatever a client sends (bodies, path segments, query strings, content
 * types, raw bytes), the service answers 2xx or 4xx, every 4xx carries the one error shape, and a
 * write that fails leaves nothing half done.
 */

/** FUZZ_SCALE multiplies every property's runs (CI: 1, about 2,000 inputs; 6 gives over 10,000). */
const SCALE = Math.max(1, Number(process.env['FUZZ_SCALE'] ?? 1) || 1);
const RUNS = 150 * SCALE;

// ---------------------------------------------------------------------------------------------
// Generators

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));

const NASTY = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u0000'.repeat(70),
  '\ud800',
  '\udc00',
  'x\udfffy',
  '\ud83d\ude00',
  '\ufe0f'.repeat(3),
  'a'.repeat(200) + '\ufe0f'.repeat(10),
  'İstanbul',
  'ß',
  'ﬃ',
  '%',
  '%25',
  '%00',
  '%zz',
  '/',
  'a/b',
  '\\',
  '.',
  '..',
  'odata',
  '$metadata',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'true',
  '00000000-0000-0000-0000-000000000000',
  'ABCDEF01-2345-6789-ABCD-EF0123456789',
  '\r\n',
  '\t',
  '\u2028',
  '\u00a0',
  '<script>alert(1)</script>',
  "'; DROP TABLE groups; --",
  'k'.repeat(64),
  'k'.repeat(65),
  '🙂'.repeat(64),
  '🙂'.repeat(65),
  'n'.repeat(200),
  'n'.repeat(201),
  'n'.repeat(4000),
  'n'.repeat(4001),
  'a@b.co',
  `${'e'.repeat(250)}@x.io`,
  'ops',
  'alice',
];

/** Long strings, built by repetition (cheap to generate, up to 30,000 characters). */
const longString = fc
  .tuple(fc.string({ unit: codeUnit, minLength: 1, maxLength: 3 }), fc.integer({ min: 60, max: 10_000 }))
  .map(([piece, times]) => piece.repeat(times));

const weirdString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: codeUnit, maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.constantFrom(...NASTY),
  longString,
);

/** Nested arrays or objects of a random depth, deep enough to overflow recursive code. */
const deeplyNested = fc
  .tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean())
  .map(([depth, arrays]) => (arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)));

/** A JSON text for any value fast-check can make (undefined, NaN, boxed values … become JSON). */
function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return 'null';
  }
}

const jsonLeaf = fc.oneof(
  weirdString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(1e308, -0, 2 ** 53 + 2, 0.1, -1, 1e21),
);

const PROPERTY_NAMES = [
  'groupKey',
  'userKey',
  'name',
  'email',
  'notes',
  'isActive',
  'users',
  'groups',
  'id',
  'createdOn',
  'modifiedOn',
  'createdBy',
  'modifiedBy',
  'usersCount',
  'groupsCount',
  'rowVersion',
  '__proto__',
  'constructor',
  'toString',
  '',
  'GroupKey',
  '@odata.type',
];

/** The JSON text of a property value: a leaf, a list of keys, member objects, nested JSON or deep nesting. */
function fieldValueText(knownKeys: string[], knownIds: string[]): fc.Arbitrary<string> {
  const reference = fc.oneof(fc.constantFrom(...knownKeys, ...knownIds), weirdString);
  return fc.oneof(
    { weight: 4, arbitrary: jsonLeaf.map(jsonText) },
    { weight: 3, arbitrary: fc.array(reference, { maxLength: 8 }).map(jsonText) },
    { weight: 1, arbitrary: fc.array(fc.oneof(jsonLeaf, reference), { maxLength: 5 }).map(jsonText) },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.record({ userKey: reference, groupKey: reference, id: fc.oneof(reference, jsonLeaf) }, { requiredKeys: [] }), { maxLength: 4 })
        .map(jsonText),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(jsonText) },
    { weight: 1, arbitrary: deeplyNested },
  );
}

/**
 * A JSON object text made of (possibly repeated) known property names with random values. Written by
 * hand so that keys such as `__proto__` and duplicates reach the server as sent.
 */
function objectText(knownKeys: string[], knownIds: string[]): fc.Arbitrary<string> {
  const name = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PROPERTY_NAMES) }, { weight: 1, arbitrary: weirdString });
  return fc
    .array(fc.tuple(name, fieldValueText(knownKeys, knownIds)), { maxLength: 8 })
    .map((pairs) => `{${pairs.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`);
}

/** A valid group or user body with random properties after it (a later duplicate wins in JSON.parse). */
function almostValidText(kind: 'group' | 'user', knownKeys: string[], knownIds: string[]): fc.Arbitrary<string> {
  return fc.tuple(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 }), objectText(knownKeys, knownIds)).map(([key, rest]) => {
    const base = kind === 'group' ? `"groupKey":${JSON.stringify(`pbt-${key}`)},"name":"N"` : `"userKey":${JSON.stringify(`pbt-${key}`)},"name":"N"`;
    return rest === '{}' ? `{${base}}` : `{${base},${rest.slice(1)}`;
  });
}

/** Any JSON text: fc.jsonValue, fc.anything made JSON, objects of known properties, deep nesting. */
function bodyText(knownKeys: string[], knownIds: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.jsonValue().map(jsonText) },
    { weight: 1, arbitrary: fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }).map(jsonText) },
    {
      weight: 2,
      arbitrary: fc
        .anything({ maxDepth: 3, withBoxedValues: true, withNullPrototype: true, withObjectString: true, withMap: true, withSet: true, withDate: true })
        .map(jsonText),
    },
    { weight: 4, arbitrary: objectText(knownKeys, knownIds) },
    { weight: 1, arbitrary: fieldValueText(knownKeys, knownIds) },
  );
}


type Encoding = 'component' | 'raw' | 'double';

/**
 * How a random string goes into a URL: fully encoded; "raw" (printable ASCII, including '%' and '/',
 * left as is, so invalid escapes and extra segments reach the router); or encoded twice.
 */
function encode(text: string, encoding: Encoding, keepInRaw: RegExp): string {
  switch (encoding) {
    case 'component':
      return percentEncode(text, /^[A-Za-z0-9\-_.!~*'()]$/);
    case 'raw':
      return percentEncode(text, keepInRaw);
    case 'double':
      return percentEncode(percentEncode(text, /^[A-Za-z0-9\-_.!~*'()]$/), /^[A-Za-z0-9\-_.!~*'()]$/);
  }
}

const encoding = fc.constantFrom<Encoding>('component', 'raw', 'double');

/** Random bytes as percent escapes (invalid UTF-8 included). */
const encodedBytes = fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) =>
  [...bytes].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join(''),
);

/** Node's HTTP server answers 431 (before the application) for request heads over 16 KiB: stay below. */
const MAX_URL = 12_000;

// ---------------------------------------------------------------------------------------------
// Assertions

const ERROR_KEYS = ['code', 'details', 'message', 'target'];

/** The one error shape of the README. */
function expectErrorBody(response: Response): void {
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(response.body)).toEqual(['error']);
  const error = response.body.error;
  expect(typeof error.code).toBe('string');
  expect(error.code.length).toBeGreaterThan(0);
  expect(typeof error.message).toBe('string');
  for (const key of Object.keys(error)) expect(ERROR_KEYS).toContain(key);
  if (error.target !== undefined) expect(typeof error.target).toBe('string');
  if (error.details !== undefined) {
    expect(Array.isArray(error.details)).toBe(true);
    for (const detail of error.details) {
      expect(typeof detail.code).toBe('string');
      expect(typeof detail.message).toBe('string');
      if (detail.target !== undefined) expect(typeof detail.target).toBe('string');
    }
  }
}

/** 2xx, or 4xx with the error shape; never 5xx (the message names the request when it is). */
function expectSane(response: Response, what: string): void {
  if (response.status >= 500 || response.status < 200) {
    throw new Error(`${what} answered ${response.status}: ${response.text.slice(0, 300)}`);
  }
  if (response.status >= 400) expectErrorBody(response);
}

// ---------------------------------------------------------------------------------------------

describe('bad input (property-based)', () => {
  let t: TestApp;
  const s = newScope('pbt');
  const ids: Record<string, string> = {};
  const KEYS = ['alice', 'bob', 'carol', 'ops', 'sales'];

  beforeAll(async () => {
    t = await startTestApp();
    for (const key of ['alice', 'bob', 'carol']) {
      ids[key] = (await t.http.post(`${s.base}/users`).send({ userKey: key, name: key }).expect(201)).body;
    }
    ids['ops'] = (await t.http.post(`${s.base}/groups`).send({ groupKey: 'ops', name: 'Ops', users: ['alice'] }).expect(201)).body;
    ids['sales'] = (await t.http.post(`${s.base}/groups`).send({ groupKey: 'sales', name: 'Sales' }).expect(201)).body;
  });

  afterAll(async () => {
    await t?.close();
  });

  const knownIds = () => Object.values(ids);

  function send(test: Test, body: string): Test {
    return test.type('json').send(body);
  }

  describe('(a) random JSON bodies never cause a 5xx', () => {
    it('POST /groups and /users', async () => {
      const body = fc.oneof(bodyText(KEYS, knownIds()), almostValidText('group', KEYS, knownIds()), almostValidText('user', KEYS, knownIds()));
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('groups', 'users'), body, async (collection, text) => {
          expectSane(await send(t.http.post(`${s.base}/${collection}`), text), `POST /${collection} ${text.slice(0, 200)}`);
        }),
        { numRuns: RUNS },
      );
    });

    it('PATCH and PUT (full replace) of a group or a user', async () => {
      const body = fc.oneof(bodyText(KEYS, knownIds()), almostValidText('group', KEYS, knownIds()), almostValidText('user', KEYS, knownIds()));
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('patch', 'put'),
          fc.constantFrom(['groups', 'ops'], ['groups', 'sales'], ['users', 'bob'], ['users', 'carol']),
          body,
          async (method, [collection, record], text) => {
            const path = `${s.base}/${collection}/${ids[record!]}`;
            const test = method === 'patch' ? t.http.patch(path) : t.http.put(path);
            expectSane(await send(test, text), `${method} ${collection}/${record} ${text.slice(0, 200)}`);
          },
        ),
        { numRuns: RUNS },
      );
    });

    it('PUT setters (known properties, and a few that are not)', async () => {
      const setter = fc.oneof(
        fc.constantFrom('name', 'email', 'notes', 'isActive', 'groupKey', 'id', 'createdOn', 'usersCount').map((p) => ['groups', 'sales', p] as const),
        fc.constantFrom('name', 'email', 'isActive', 'userKey', 'notes', 'modifiedBy').map((p) => ['users', 'carol', p] as const),
      );
      await fc.assert(
        fc.asyncProperty(setter, bodyText(KEYS, knownIds()), fc.boolean(), async ([collection, record, property], text, prefer) => {
          const test = t.http.put(`${s.base}/${collection}/${ids[record]}/${property}`);
          if (prefer) test.set('Prefer', 'return=representation');
          expectSane(await send(test, text), `PUT ${collection}/${record}/${property} ${text.slice(0, 200)}`);
        }),
        { numRuns: RUNS },
      );
    });

    it('membership routes on both sides', async () => {
      const route = fc.oneof(
        fc.constantFrom('add', 'addById', 'remove', 'removeById').map((action) => ['post', `groups/${ids['ops']}/users/${action}`] as const),
        fc.constantFrom('add', 'addById', 'remove', 'removeById').map((action) => ['post', `users/${ids['bob']}/groups/${action}`] as const),
        fc.constant(['put', `groups/${ids['sales']}/users`] as const),
        fc.constant(['put', `users/${ids['carol']}/groups`] as const),
      );
      const body = fc.oneof(
        bodyText(KEYS, knownIds()),
        fc.array(fc.oneof(fc.constantFrom(...KEYS, ...knownIds()), jsonLeaf), { maxLength: 12 }).map(jsonText),
      );
      await fc.assert(
        fc.asyncProperty(route, body, async ([method, path], text) => {
          const test = method === 'post' ? t.http.post(`${s.base}/${path}`) : t.http.put(`${s.base}/${path}`);
          expectSane(await send(test, text), `${method} ${path} ${text.slice(0, 200)}`);
        }),
        { numRuns: RUNS },
      );
    });

    it('answers 400 (not 5xx) for bodies nested deeper than any resource', async () => {
      const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
      const cases: Array<[string, string, string]> = [
        ['post', `${s.base}/groups`, `{"groupKey":"deep","name":"d","users":${deep(5000)}}`],
        ['post', `${s.base}/groups`, `{"color":${deep(5000)}}`],
        ['post', `${s.base}/users`, `{"userKey":"deep","name":"d","id":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`],
        ['patch', `${s.base}/groups/${ids['sales']}`, `{"id":${deep(5000)}}`],
        ['put', `${s.base}/groups/${ids['sales']}`, `{"groupKey":"sales","name":"Sales","users":[],"createdBy":${deep(5000)}}`],
        ['put', `${s.base}/groups/${ids['sales']}/notes`, deep(5000)],
        ['post', `${s.base}/groups/${ids['ops']}/users/add`, deep(5000)],
      ];
      const before = (await t.http.get(`${s.base}/groups/${ids['sales']}`).expect(200)).text;
      for (const [method, path, text] of cases) {
        const test = method === 'post' ? t.http.post(path) : method === 'patch' ? t.http.patch(path) : t.http.put(path);
        const response = await send(test, text);
        expectSane(response, `${method} ${path} (deep)`);
        expect(response.status).toBe(400);
      }
      await t.http.get(`${s.base}/groups/deep`).expect(404);
      await t.http.get(`${s.base}/users/deep`).expect(404);
      expect((await t.http.get(`${s.base}/groups/${ids['sales']}`).expect(200)).text).toBe(before);
      // Ordinary nesting inside an ignored read-only property is still accepted.
      await send(t.http.patch(`${s.base}/groups/${ids['sales']}`), `{"createdBy":${deep(20)}}`).expect(200);
    });

    it.each(['\ud800', 'a\udc00@b.co', 'ops@ex\ud83d.com', '\udfff\ud800@x.io'])(
      'answers 400 (not 5xx) for an email with a lone surrogate (%j) on every route that sets one',
      async (email) => {
        const sales = `${s.base}/groups/${ids['sales']}`;
        const carol = `${s.base}/users/${ids['carol']}`;
        const calls: Array<() => Test> = [
          () => t.http.post(`${s.base}/groups`).send({ groupKey: 'surrogate', name: 'S', email }),
          () => t.http.post(`${s.base}/users`).send({ userKey: 'surrogate', name: 'S', email }),
          () => t.http.patch(sales).send({ email }),
          () => t.http.patch(carol).send({ email }),
          () => t.http.put(sales).send({ groupKey: 'sales', name: 'Sales', email, users: [] }),
          () => t.http.put(carol).send({ userKey: 'carol', name: 'Carol', email, groups: [] }),
          () => t.http.put(`${sales}/email`).send(JSON.stringify(email)).type('json'),
          () => t.http.put(`${carol}/email`).send(JSON.stringify(email)).type('json'),
        ];
        const before = [(await t.http.get(sales).expect(200)).text, (await t.http.get(carol).expect(200)).text];
        for (const call of calls) {
          const response = await call();
          expectSane(response, `email ${JSON.stringify(email)}`);
          expect(response.status).toBe(400);
          expect(response.body.error.target).toBe('email');
        }
        await t.http.get(`${s.base}/groups/surrogate`).expect(404);
        await t.http.get(`${s.base}/users/surrogate`).expect(404);
        expect([(await t.http.get(sales).expect(200)).text, (await t.http.get(carol).expect(200)).text]).toEqual(before);
      },
    );

    it("answers 400 (not 5xx) for a 'constructor' property anywhere in a body", async () => {
      const sales = `${s.base}/groups/${ids['sales']}`;
      const cases: Array<['post' | 'patch' | 'put', string, string]> = [
        ['post', `${s.base}/groups`, '{"groupKey":"ctor","name":"C","users":{"constructor":1}}'],
        ['post', `${s.base}/groups`, '{"groupKey":"ctor","name":"C","color":{"constructor":"x"}}'],
        ['post', `${s.base}/users`, '{"userKey":"ctor","name":"C","groups":[{"constructor":{}}]}'],
        ['post', `${s.base}/groups`, '{"constructor":{"prototype":{}},"groupKey":"ctor","name":"C"}'],
        ['patch', sales, '{"id":{"constructor":{}}}'],
        ['patch', sales, '{"name":"Renamed","createdBy":{"a":{"constructor":null}}}'],
        ['put', sales, '{"groupKey":"sales","name":"S","users":[{"userKey":"alice","constructor":1}]}'],
        ['put', `${sales}/name`, '{"constructor":"x"}'],
        ['put', `${sales}/notes`, '{"constructor":{"name":"Object"}}'],
      ];
      const before = (await t.http.get(sales).expect(200)).text;
      for (const [method, path, text] of cases) {
        const response = await send(t.http[method](path), text);
        expectSane(response, `${method} ${path} ${text}`);
        expect(response.status).toBe(400);
      }
      await t.http.get(`${s.base}/groups/ctor`).expect(404);
      await t.http.get(`${s.base}/users/ctor`).expect(404);
      expect((await t.http.get(sales).expect(200)).text).toBe(before);
    });
  });

  describe('(b) random path segments never cause a 5xx', () => {
    const p = newScope('path');

    beforeAll(async () => {
      await t.http.post(`${p.base}/users`).send({ userKey: 'u', name: 'U' }).expect(201);
      await t.http.post(`${p.base}/groups`).send({ groupKey: 'g', name: 'G', users: ['u'] }).expect(201);
    });

    const segmentText = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary', maxLength: 100 }),
      fc.string({ unit: codeUnit, maxLength: 100 }),
      fc.constantFrom(...NASTY.filter((text) => text.length < 1000)),
      fc.tuple(fc.string({ minLength: 1, maxLength: 3 }), fc.integer({ min: 20, max: 1500 })).map(([piece, times]) => piece.repeat(times)),
    );
    /** In "raw" mode, printable ASCII stays as is except '?' and '#' (which would end the path). */
    const segment = fc.oneof(
      { weight: 6, arbitrary: fc.tuple(segmentText, encoding).map(([text, how]) => encode(text, how, /^[\x21-\x22\x24-\x3e\x40-\x7e]$/)) },
      { weight: 1, arbitrary: encodedBytes },
      { weight: 1, arbitrary: fc.constantFrom('g', 'u', 'G', 'odata', 'users', 'groups', 'add', 'name', '') },
    );
    const scopeKey = (valid: string) => fc.oneof({ weight: 2, arbitrary: fc.constant(valid) }, { weight: 1, arbitrary: segment });
    const method = fc.constantFrom('get', 'post', 'put', 'patch', 'delete');

    it('in /api/{tenantKey}/{orgKey}/identity/{collection}/{idOrKey}[/{more}]', async () => {
      await fc.assert(
        fc.asyncProperty(
          method,
          scopeKey(p.tenantKey),
          scopeKey(p.orgKey),
          fc.constantFrom('groups', 'users'),
          fc.array(segment, { minLength: 0, maxLength: 3 }),
          fc.constantFrom('[]', '{}', '"x"', 'null', '["u"]', '{"name":"N"}'),
          async (verb, tenantKey, orgKey, collection, rest, body) => {
            const url = [`/api/${tenantKey}/${orgKey}/identity/${collection}`, ...rest].join('/');
            fc.pre(url.length < MAX_URL);
            let test = t.http[verb](url);
            if (verb !== 'get' && verb !== 'delete') test = send(test, body);
            expectSane(await test, `${verb.toUpperCase()} ${url.slice(0, 300)}`);
          },
        ),
        { numRuns: 200 * SCALE },
      );
    });

    it('anywhere under /api', async () => {
      await fc.assert(
        fc.asyncProperty(method, fc.array(segment, { minLength: 0, maxLength: 8 }), async (verb, segments) => {
          const url = `/api/${segments.join('/')}`;
          fc.pre(url.length < MAX_URL);
          expectSane(await t.http[verb](url), `${verb.toUpperCase()} ${url.slice(0, 300)}`);
        }),
        { numRuns: RUNS },
      );
    });

    it('NUL, lone surrogates and invalid escapes are 4xx in every position', async () => {
      await t.http.post(`${p.base}/groups`).send({ groupKey: 'sentinel', name: 'S' }).expect(201);
      const bad = ['%00', 'a%00b', '%ED%A0%80', '%C0%AF', '%', '%zz', '%E2%82', '%2F', '%F0%9F%98%80'];
      for (const x of bad) {
        for (const url of [
          `/api/${x}/${p.orgKey}/identity/groups`,
          `/api/${p.tenantKey}/${x}/identity/users`,
          `${p.base}/groups/${x}`,
          `${p.base}/users/${x}/groups`,
          `${p.base}/groups/${x}/users?$count=true`,
        ]) {
          const response = await t.http.get(url);
          expectSane(response, `GET ${url}`);
          expect(response.status).toBeGreaterThanOrEqual(400);
        }
        const deleted = await t.http.delete(`${p.base}/groups/${x}`);
        expectSane(deleted, `DELETE ${x}`);
        expect(deleted.status).toBeGreaterThanOrEqual(400);
      }
      await t.http.get(`${p.base}/groups/sentinel`).expect(200);
    });
  });

  describe('(c) random query strings never cause a 5xx', () => {
    const NAMES = [
      '$top',
      '$skip',
      '$count',
      '$inlinecount',
      '$filter',
      '$orderby',
      '$select',
      '$expand',
      '$search',
      '$skiptoken',
      '$format',
      '$TOP',
      '$Skip',
      '$',
      '$$top',
      'page',
      'pageSize',
      'PAGE',
      'pagesize',
      '__proto__',
      'constructor',
      'hasOwnProperty',
      'toString',
      'valueOf',
      '',
    ];
    const VALUES = [
      '',
      'true',
      'false',
      'TRUE',
      'allpages',
      'none',
      '0',
      '1',
      '-1',
      '1.5',
      '1e3',
      '1e16',
      '1e17',
      '1e19',
      '1e21',
      '1e308',
      '1e400',
      'Infinity',
      '-Infinity',
      'NaN',
      '0x10',
      '0b1',
      ' 7 ',
      '+1',
      '00001',
      '٣',
      '1000',
      '1001',
      '9007199254740991',
      '9007199254740992',
      '9223372036854775807',
      '9223372036854775808',
      '100000000000000000',
      '92233720368547758',
      "name eq 'x'",
    ];
    const name = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: weirdString.filter((x) => x.length < 500) });
    const value = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...VALUES) },
      { weight: 2, arbitrary: fc.bigInt({ min: -(10n ** 22n), max: 10n ** 22n }).map(String) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 2000 }).map(String) },
      { weight: 1, arbitrary: fc.double().map(String) },
      { weight: 1, arbitrary: weirdString.filter((x) => x.length < 500) },
    );
    /** '&', '=', '#' and '+' are escaped in raw mode so that the generated pairs stay pairs. */
    const keepInQuery = /^[\x21-\x22\x24-\x25\x27-\x2a\x2c-\x3c\x3e-\x7e]$/;
    const pairs = fc
      .array(fc.tuple(name, value, encoding), { maxLength: 6 })
      .map((list) => list.map(([n, v, how]) => `${encode(n, how, keepInQuery)}=${encode(v, how, keepInQuery)}`).join('&'));
    const junk = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 }).map((x) => x.replaceAll('#', '%23'));
    const query = fc.oneof({ weight: 4, arbitrary: pairs }, { weight: 1, arbitrary: junk }, { weight: 1, arbitrary: encodedBytes });

    it('on /groups, /users, their /odata collections and member lists', async () => {
      const path = fc.constantFrom(
        '/groups',
        '/groups/odata',
        '/users',
        '/users/odata',
        `/groups/${ids['ops']}/users`,
        `/users/${ids['alice']}/groups`,
      );
      await fc.assert(
        fc.asyncProperty(path, query, async (route, q) => {
          const url = `${s.base}${route}?${q}`;
          fc.pre(url.length < MAX_URL);
          expectSane(await t.http.get(url), `GET ${url.slice(0, 300)}`);
        }),
        { numRuns: 200 * SCALE },
      );
    });

    it.each([
      'page=100000000000000000',
      'page=1e17',
      'page=92233720368547758&pageSize=100',
      'page=9007199254740991&pageSize=1000',
      'page=1e308',
      'pageSize=1000&page=10000000000000000',
    ])('answers 400 for the page beyond any offset: ?%s', async (q) => {
      for (const collection of ['groups', 'users']) {
        const response = await t.http.get(`${s.base}/${collection}?${q}`);
        expectSane(response, q);
        expect(response.status).toBe(400);
        expect(response.body.error.target).toBe('page');
      }
    });

    it('still serves the largest $skip and a large page that stays within range', async () => {
      expect((await t.http.get(`${s.base}/groups/odata?$skip=9007199254740991`).expect(200)).body.value).toEqual([]);
      expect((await t.http.get(`${s.base}/groups?page=9007199254740&pageSize=1000`).expect(200)).body).toEqual([]);
    });
  });

  describe('(d) random Content-Types, encodings and raw bytes never cause a 5xx', () => {
    const CONTENT_TYPES = [
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=UTF-8',
      'application/json; charset="utf-8"',
      'application/json; charset=utf-16',
      'application/json; charset=utf-16le',
      'application/json; charset=utf-32',
      'application/json; charset=utf-7',
      'application/json; charset=latin1',
      'application/json; charset=us-ascii',
      'application/json; charset=bogus',
      'application/json; charset=',
      'application/json;',
      'application/json;;;=;',
      'APPLICATION/JSON',
      'application/merge-patch+json',
      'application/x+json',
      'application/+json',
      'text/json',
      'text/plain',
      'text/html; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'application/octet-stream',
      'application/xml',
      '*/*',
      'application/*',
      'json',
      ';',
      ' ',
      '',
    ];
    /** Header values Node's client accepts: tab and printable ASCII. */
    const headerText = fc.string({ unit: fc.constantFrom('\t', ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i))), maxLength: 80 });
    const contentType = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      { weight: 1, arbitrary: headerText },
      { weight: 1, arbitrary: headerText.map((params) => `application/json; ${params}`) },
    );
    const contentEncoding = fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'compress', 'x-gzip', 'zstd', 'gzip, gzip', 'GZIP', '') },
      { weight: 1, arbitrary: headerText },
    );
    const bytes = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 3000 }).map((array) => Buffer.from(array)),
      bodyText(KEYS, []).map((text) => Buffer.from(text, 'utf8')),
      bodyText(KEYS, []).map((text) => Buffer.from(text, 'utf16le')),
      bodyText(KEYS, []).map((text) => gzipSync(Buffer.from(text, 'utf8'))),
      fc.tuple(bodyText(KEYS, []), fc.nat()).map(([text, cut]) => {
        const buffer = Buffer.from(text, 'utf8');
        return buffer.subarray(0, buffer.length ? cut % buffer.length : 0); // truncated mid-character
      }),
    );
    const EXPECTED = [200, 201, 204, 400, 404, 409, 413, 415];

    it('on every route that reads a body', async () => {
      const route = fc.constantFrom(
        ['post', '/groups'],
        ['post', '/users'],
        ['patch', `/groups/${ids['sales']}`],
        ['put', `/groups/${ids['sales']}`],
        ['put', `/users/${ids['carol']}/name`],
        ['put', `/groups/${ids['sales']}/notes`],
        ['post', `/groups/${ids['ops']}/users/add`],
        ['post', `/users/${ids['bob']}/groups/removeById`],
        ['put', `/users/${ids['carol']}/groups`],
        ['delete', '/groups/no-such-group'],
      );
      await fc.assert(
        fc.asyncProperty(route, contentType, contentEncoding, bytes, async ([verb, path], type, encodingHeader, buffer) => {
          const test = t.http[verb as 'post'](`${s.base}${path}`).set('Content-Type', type);
          if (encodingHeader !== undefined) test.set('Content-Encoding', encodingHeader);
          // Send the bytes exactly as they are (superagent would otherwise JSON-encode a Buffer).
          const response = await test.serialize((data: unknown) => data as string).send(buffer as unknown as string);
          expectSane(response, `${verb} ${path} [${type}] [${encodingHeader}] ${buffer.length} bytes`);
          expect(EXPECTED).toContain(response.status);
        }),
        { numRuns: 200 * SCALE },
      );
    });

    it('answers 415 for non-JSON types, 413 for oversized or inflating bodies, 400 for undecodable ones', async () => {
      const raw = (test: Test, type: string, body: Buffer, encodingHeader?: string) => {
        test.set('Content-Type', type);
        if (encodingHeader) test.set('Content-Encoding', encodingHeader);
        return test.serialize((data: unknown) => data as string).send(body as unknown as string);
      };
      const cases: Array<[Promise<Response>, number]> = [
        [raw(t.http.post(`${s.base}/groups`), 'text/plain', Buffer.from('{}')), 415],
        [raw(t.http.post(`${s.base}/groups`), 'application/json; charset=bogus', Buffer.from('{}')), 415],
        [raw(t.http.post(`${s.base}/groups`), 'application/json', Buffer.from('{}'), 'x-unknown'), 415],
        [raw(t.http.post(`${s.base}/groups`), 'application/json', Buffer.alloc(1024 * 1024 + 1, 0x20)), 413],
        [raw(t.http.post(`${s.base}/groups`), 'application/json', gzipSync(Buffer.alloc(2 * 1024 * 1024, 0x20)), 'gzip'), 413],
        [raw(t.http.post(`${s.base}/groups`), 'application/json', Buffer.from('not gzip'), 'gzip'), 400],
        [raw(t.http.post(`${s.base}/groups`), 'application/json', Buffer.from([0xff, 0xfe, 0x7b, 0x7d])), 400],
        [raw(t.http.post(`${s.base}/groups`), 'application/json', Buffer.from('{"groupKey":"\u00ff', 'latin1')), 400],
      ];
      for (const [pending, status] of cases) {
        const response = await pending;
        expectSane(response, `expected ${status}`);
        expect(response.status).toBe(status);
      }
      // And a well-formed gzipped UTF-16 body is read like any other.
      const created = await raw(
        t.http.post(`${s.base}/groups`),
        'application/json; charset=utf-16le',
        gzipSync(Buffer.from(JSON.stringify({ groupKey: 'zipped-ü', name: 'Zipped' }), 'utf16le')),
        'gzip',
      );
      expect(created.status).toBe(201);
      expect((await t.http.get(`${s.base}/groups/ZIPPED-Ü`).expect(200)).body.name).toBe('Zipped');
    });
  });

  describe('(e) a failed write leaves nothing half done', () => {
    const e = newScope('atomic');
    const users = ['u1', 'u2', 'u3', 'U4'];
    const groups = ['g1', 'g2', 'g3'];

    beforeAll(async () => {
      for (const key of users) await t.http.post(`${e.base}/users`).send({ userKey: key, name: key }).expect(201);
      await t.http.post(`${e.base}/groups`).send({ groupKey: 'g1', name: 'G1', email: 'g1@e.test', notes: 'keep', users: ['u1', 'u2'] }).expect(201);
      await t.http.post(`${e.base}/groups`).send({ groupKey: 'g2', name: 'G2', users: ['u3'] }).expect(201);
      await t.http.post(`${e.base}/groups`).send({ groupKey: 'g3', name: 'G3', isActive: false }).expect(201);
    });

    /** Everything of the scope, as raw response bodies. */
    async function state(): Promise<string[]> {
      const paths = ['/groups?pageSize=1000', '/users?pageSize=1000', '/groups/odata?$count=true', '/users/odata?$count=true'];
      for (const key of groups) paths.push(`/groups/${key}`);
      for (const key of users) paths.push(`/users/${key}`);
      const bodies: string[] = [];
      for (const path of paths) bodies.push((await t.http.get(`${e.base}${path}`).expect(200)).text);
      return bodies;
    }

    /** A key no record has (the prefix keeps it apart from u1…, g1…), sometimes also an invalid one. */
    const unknownKey = fc.string({ minLength: 0, maxLength: 30 }).map((suffix) => `ghost-${suffix}`);
    const invalidEntry = fc.constantFrom<unknown>('', ' ', 'a b', 'a/b', 'k'.repeat(65), '\u0000', 'x\ty', 5, null, true, {}, [], ['u1'], { id: 5 });
    /** A member list with at least one entry that is unknown or invalid, anywhere among known ones. */
    function badMembers(known: string[]): fc.Arbitrary<unknown[]> {
      const knownEntry = fc.constantFrom(...known, ...known.map((key) => key.toUpperCase()));
      return fc
        .tuple(
          fc.array(knownEntry, { maxLength: 4 }),
          fc.array(fc.oneof(unknownKey, invalidEntry), { minLength: 1, maxLength: 3 }),
          fc.array(knownEntry, { maxLength: 4 }),
        )
        .map(([head, bad, tail]) => [...head, ...bad, ...tail]);
    }
    /** One field that fails validation (or a missing required one). */
    const INVALID_FIELDS: Array<Record<string, unknown>> = [
      { name: '' },
      { name: '   ' },
      { name: 'n'.repeat(201) },
      { name: 'a\u0000b' },
      { name: null },
      { name: 5 },
      { groupKey: '' },
      { groupKey: 'a b' },
      { groupKey: 'a/b' },
      { groupKey: 'k'.repeat(65) },
      { groupKey: null },
      { email: 'nope' },
      { email: `${'e'.repeat(250)}@x.io` },
      { email: 7 },
      { notes: 'n'.repeat(4001) },
      { notes: 'a\u0000' },
      { notes: {} },
      { isActive: 'true' },
      { isActive: null },
      { color: 'red' },
      { users: 'u1' },
      { users: { 0: 'u1' } },
    ];

    it('a create with an unknown or invalid member creates no group, and no user', async () => {
      const before = await state();
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('groups', 'users'),
          fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 }),
          badMembers(users),
          badMembers(groups),
          async (collection, suffix, memberUsers, memberGroups) => {
            const key = `new-${suffix.replace(/[\s/]/g, '_')}`;
            const body =
              collection === 'groups'
                ? { groupKey: key, name: 'New', notes: 'n', users: memberUsers }
                : { userKey: key, name: 'New', email: 'new@e.test', groups: memberGroups };
            const response = await t.http.post(`${e.base}/${collection}`).send(body);
            expectSane(response, `POST /${collection} ${JSON.stringify(body)}`);
            expect(response.status).toBe(400);
            expect(['UnknownReferences', 'ValidationFailed']).toContain(response.body.error.code);
            expect((await t.http.get(`${e.base}/${collection}/${encodeURIComponent(key)}`)).status).toBe(404);
          },
        ),
        { numRuns: 100 * SCALE },
      );
      expect(await state()).toEqual(before);
    });

    it('a PUT replace that fails validation or names unknown members changes nothing', async () => {
      const before = await state();
      const failingBody = fc.oneof(
        // valid properties (even a new key), bad members
        fc.tuple(fc.constantFrom('g1', 'G1', 'renamed-g1'), badMembers(users)).map(([groupKey, members]) => ({
          groupKey,
          name: 'Replaced',
          email: null,
          isActive: false,
          users: members,
        })),
        // good members, one invalid field
        fc.tuple(fc.constantFrom(...INVALID_FIELDS), fc.subarray(users)).map(([invalid, members]) => ({
          groupKey: 'renamed-g1',
          name: 'Replaced',
          users: members,
          ...invalid,
        })),
        // members missing entirely
        fc.constant({ groupKey: 'renamed-g1', name: 'Replaced' }),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('g1', 'G1'), failingBody, async (x, body) => {
          const response = await t.http.put(`${e.base}/groups/${x}`).send(body);
          expectSane(response, `PUT /groups/${x} ${JSON.stringify(body)}`);
          expect(response.status).toBe(400);
          await t.http.get(`${e.base}/groups/renamed-g1`).expect(404);
        }),
        { numRuns: 100 * SCALE },
      );
      expect(await state()).toEqual(before);
    });

    it('a user PUT replace with unknown groups, and member changes with any unknown entry, change nothing', async () => {
      const before = await state();
      const call = fc.oneof(
        badMembers(groups).map((list) => ['put', '/users/u1', { userKey: 'u1-renamed', name: 'X', groups: list }] as const),
        badMembers(users).map((list) => ['put', '/groups/g2/users', list] as const),
        badMembers(groups).map((list) => ['put', '/users/U4/groups', list] as const),
        badMembers(users).map((list) => ['post', '/groups/g1/users/add', list] as const),
        badMembers(users).map((list) => ['post', '/groups/g1/users/remove', list] as const),
        badMembers(groups).map((list) => ['post', '/users/u2/groups/add', list] as const),
        badMembers(groups).map((list) => ['post', '/users/u3/groups/remove', list] as const),
        fc.array(fc.oneof(fc.uuid(), fc.constantFrom<unknown>('nope', 1, null)), { minLength: 1, maxLength: 4 }).map(
          (list) => ['post', '/groups/g3/users/addById', list] as const,
        ),
      );
      await fc.assert(
        fc.asyncProperty(call, async ([method, path, body]) => {
          const test = method === 'put' ? t.http.put(`${e.base}${path}`) : t.http.post(`${e.base}${path}`);
          const response = await test.send(body as object);
          expectSane(response, `${method} ${path} ${JSON.stringify(body)}`);
          expect(response.status).toBe(400);
        }),
        { numRuns: 150 },
      );
      expect(await state()).toEqual(before);
    });
  });
});
