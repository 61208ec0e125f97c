import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, TestDatabase } from '../support/test-database.js';
import { ALL_SCOPES, signToken, TEST_JWT_SECRET } from '../support/tokens.js';

/*
 * The service as an operator runs it: the built `dist/main.js` in its own process (`npm test` builds
 * first). Covers start-up configuration errors and the SIGTERM drain.
 */
const MAIN = join(process.cwd(), 'dist', 'main.js');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

const outputs = new WeakMap<ChildProcess, () => string>();

/** What a running child has written to stdout so far. */
function output(child: ChildProcess): string {
  return outputs.get(child)?.() ?? '';
}

function run(env: Record<string, string | undefined>): { child: ChildProcess; exited: Promise<Exit> } {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env['PATH'], NODE_ENV: 'production', LOG_LEVEL: 'info', ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  outputs.set(child, () => stdout);
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { child, exited };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitUntilServing(port: number, exited: Promise<Exit>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (let attempt = 0; attempt < 240 && !gone; attempt++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the service did not start: ${JSON.stringify(await Promise.race([exited, Promise.resolve('still running')]))}`);
}

function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

describe('process lifecycle', () => {
  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run `npm run build` (npm test does it first)');
  });

  describe('configuration errors stop start-up with one line naming the variable', () => {
    it.each([
      ['PORT', { PORT: 'eighty' }, /PORT must be an integer/],
      ['PORT', { PORT: '70000' }, /PORT must be an integer between 0 and 65535/],
      ['DATABASE_URL', { DATABASE_URL: 'mysql://localhost/db' }, /DATABASE_URL must be a postgres/],
      ['LOG_LEVEL', { LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
      ['MAX_BODY', { MAX_BODY: 'huge' }, /MAX_BODY must be a size/],
      ['DB_POOL_SIZE', { DB_POOL_SIZE: '0' }, /DB_POOL_SIZE must be an integer/],
    ])('%s', async (_variable, env, message) => {
      const { exited } = run({ DATA_DIR: 'memory://', ...env });
      const result = await exited;
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    });
  });

  describe('local default (no JWT configuration)', () => {
    it('makes a random secret and logs a ready dev token for demo/main with all scopes', async () => {
      const port = await freePort();
      const { child, exited } = run({ PORT: String(port), DATA_DIR: 'memory://' });
      try {
        await waitUntilServing(port, exited);
        let token: string | undefined;
        for (let attempt = 0; attempt < 40 && !token; attempt++) {
          token = /Dev token for \/api\/demo\/main\/identity \(all scopes, 12 h\): ([\w.-]+)/.exec(output(child))?.[1];
          if (!token) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(token).toBeDefined();
        const claims = JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString());
        expect(claims).toMatchObject({ tenant: 'demo', orgs: ['main'], scope: ALL_SCOPES });
        const api = `http://127.0.0.1:${port}/api/demo`;
        const bearer = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
        const created = await fetch(`${api}/main/identity/groups`, { method: 'POST', headers: bearer, body: '{"groupKey":"g","name":"G"}' });
        expect(created.status).toBe(201);
        expect((await fetch(`${api}/other/identity/groups`, { headers: bearer })).status).toBe(403);
        // Any other secret's token fails: the dev secret is random.
        const guessed = { Authorization: `Bearer ${signToken({ tenant: 'demo' })}` };
        expect((await fetch(`${api}/main/identity/groups`, { headers: guessed })).status).toBe(401);
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    });
  });

  describe('SIGTERM', () => {
    let database: TestDatabase;
    let dataDir: string;
    beforeAll(async () => {
      database = await createTestDatabase();
      dataDir = mkdtempSync(join(tmpdir(), 'igs-lifecycle-'));
    });
    afterAll(async () => {
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    /** The service on a free port, on the suite's database, serving. */
    async function startServing(): Promise<{ port: number; child: ChildProcess; exited: Promise<Exit> }> {
      const port = await freePort();
      const { child, exited } = run({
        PORT: String(port),
        DATA_DIR: dataDir,
        JWT_SECRET: TEST_JWT_SECRET,
        ...Object.fromEntries(Object.entries(database.env).filter(([, value]) => value !== undefined)),
      });
      await waitUntilServing(port, exited);
      return { port, child, exited };
    }

    it('stops accepting, finishes the request in flight, closes the database and exits 0', async () => {
      const { port, child, exited } = await startServing();

      // A request whose body is still arriving when the signal comes.
      const body = JSON.stringify({ groupKey: 'drained', name: 'Finished after SIGTERM' });
      const socket: Socket = connect(port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      let response = '';
      socket.on('data', (chunk) => (response += chunk.toString()));
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write(
        `POST /api/acme/hq/identity/groups HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
          `Authorization: Bearer ${signToken({ tenant: 'acme' })}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));

      child.kill('SIGTERM');
      for (let attempt = 0; attempt < 40 && !(await connectionRefused(port)); attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await connectionRefused(port)).toBe(true);

      socket.write(body.slice(10));
      await closed;
      expect(response).toMatch(/^HTTP\/1\.1 201 /);

      const result = await exited;
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('SIGTERM received');
      if (database.kind === 'embedded') expect(existsSync(join(dataDir, 'service.lock'))).toBe(false);
    });

    it('answers a keep-alive connection busy at SIGTERM with Connection: close and closes it after the answer', async () => {
      const { port, child, exited } = await startServing();

      // A keep-alive connection (HTTP/1.1's default): one answer before the signal, one in flight at it.
      const socket: Socket = connect(port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      let response = '';
      socket.on('data', (chunk) => (response += chunk.toString()));
      const closedByServer = new Promise<boolean>((resolve) => socket.once('end', () => resolve(true)));
      const headers = (length: number) =>
        `POST /api/acme/hq/identity/groups HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
        `Authorization: Bearer ${signToken({ tenant: 'acme' })}\r\nContent-Length: ${length}\r\n\r\n`;
      const first = JSON.stringify({ groupKey: 'kept-1', name: 'Before SIGTERM' });
      socket.write(headers(Buffer.byteLength(first)) + first);
      for (let attempt = 0; attempt < 100 && !/\r\n\r\n"[^"]*"$/.test(response); attempt++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(response).toMatch(/^HTTP\/1\.1 201 /);
      expect(response.toLowerCase()).toContain('connection: keep-alive');

      response = '';
      const second = JSON.stringify({ groupKey: 'kept-2', name: 'In flight at SIGTERM' });
      socket.write(headers(Buffer.byteLength(second)) + second.slice(0, 10));
      await new Promise((resolve) => setTimeout(resolve, 200));
      child.kill('SIGTERM');
      for (let attempt = 0; attempt < 40 && !(await connectionRefused(port)); attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      socket.write(second.slice(10));

      expect(await closedByServer).toBe(true);
      expect(response).toMatch(/^HTTP\/1\.1 201 /);
      expect(response.toLowerCase()).toContain('connection: close');
      socket.destroy();
      expect((await exited).code).toBe(0);
    });
  });
});
