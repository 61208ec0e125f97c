import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirLock } from './data-dir-lock.js';

describe('DataDirLock', () => {
  let root: string;
  let dataDir: string;
  let lockFile: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'igs-lock-'));
    dataDir = join(root, 'nested', 'data');
    lockFile = join(dataDir, 'service.lock');
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  /** A process that is certainly alive and certainly not this one, while the tests run. */
  let sleeper: ChildProcess;
  beforeAll(async () => {
    sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
    await once(sleeper, 'spawn');
  });
  afterAll(async () => {
    if (sleeper.exitCode === null && sleeper.signalCode === null) {
      const exited = once(sleeper, 'exit');
      sleeper.kill('SIGKILL');
      await exited;
    }
  });

  function writeLock(content: string): void {
    DataDirLock.acquire(dataDir).release(); // creates the directory
    writeFileSync(lockFile, content);
  }

  it('creates the directory and a lock file holding this process id; release removes it', () => {
    const lock = DataDirLock.acquire(dataDir);
    expect(readFileSync(lockFile, 'utf8')).toBe(String(process.pid));
    lock.release();
    expect(existsSync(lockFile)).toBe(false);
    expect(existsSync(dataDir)).toBe(true);
  });

  it('can be acquired again after release', () => {
    DataDirLock.acquire(dataDir).release();
    const again = DataDirLock.acquire(dataDir);
    expect(readFileSync(lockFile, 'utf8')).toBe(String(process.pid));
    again.release();
  });

  it('release is harmless when the file is already gone', () => {
    const lock = DataDirLock.acquire(dataDir);
    rmSync(lockFile);
    expect(() => lock.release()).not.toThrow();
  });

  it('refuses a directory held by a live other process (the parent process), naming the directory and pid', () => {
    expect(process.ppid).not.toBe(process.pid);
    writeLock(String(process.ppid));
    expect(() => DataDirLock.acquire(dataDir)).toThrow(
      `The data directory ${dataDir} is in use by process ${process.ppid}; run one service per data directory (DATA_DIR)`,
    );
    // The holder's lock is left alone.
    expect(readFileSync(lockFile, 'utf8')).toBe(String(process.ppid));
  });

  it('refuses a directory held by a live child process, with surrounding whitespace in the file', () => {
    writeLock(`  ${sleeper.pid}\n`);
    expect(() => DataDirLock.acquire(dataDir)).toThrow(/is in use by process \d+/);
    expect(readFileSync(lockFile, 'utf8')).toBe(`  ${sleeper.pid}\n`);
  });

  it('refuses pid 1 (alive, even when signalling it is not permitted)', () => {
    if (process.pid === 1) return; // in a container this process may itself be pid 1
    writeLock('1');
    expect(() => DataDirLock.acquire(dataDir)).toThrow(/in use by process 1;/);
  });

  it('takes over a lock left by a process that died', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    writeLock(String(child.pid));
    const lock = DataDirLock.acquire(dataDir);
    expect(readFileSync(lockFile, 'utf8')).toBe(String(process.pid));
    lock.release();
    expect(existsSync(lockFile)).toBe(false);
  });

  it('takes over a lock holding its own pid (a restart that reused the pid, e.g. pid 1 in a container)', () => {
    writeLock(String(process.pid));
    const lock = DataDirLock.acquire(dataDir);
    expect(readFileSync(lockFile, 'utf8')).toBe(String(process.pid));
    lock.release();
  });

  it.each(['', 'garbage', '-5', '0', '1.5', '12abc'])('takes over a lock file with unusable content %j', (content) => {
    writeLock(content);
    const lock = DataDirLock.acquire(dataDir);
    expect(readFileSync(lockFile, 'utf8')).toBe(String(process.pid));
    lock.release();
  });

  it('fails when the data directory cannot be created', () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    expect(() => DataDirLock.acquire(join(file, 'data'))).toThrow();
  });
});
