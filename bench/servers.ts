import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A server process the bench started (the service or the baseline), and how to stop it. */
export interface RunningServer {
  readonly name: string;
  readonly baseUrl: string;
  readonly pid: number;
  readonly logFile: string;
  /** How the process ended (code or signal, and when: `Date.now()`); undefined while it runs. */
  exitStatus(): ServerExit | undefined;
  stop(): Promise<void>;
}

export interface ServerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** `Date.now()` when the process exited. */
  readonly at: number;
}

const running = new Set<RunningServer>();

/** Stops every server still running (on error or Ctrl-C). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `node <args>` with `env` (PORT is set to a free port), logs to `logFile`, and waits until
 * GET `readyPath` answers 200.
 */
export async function startServer(options: {
  name: string;
  args: string[];
  env: Record<string, string>;
  readyPath: string;
  logFile: string;
  timeoutMs?: number;
}): Promise<RunningServer> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const log = openSync(options.logFile, 'w');
  const child: ChildProcess = spawn(process.execPath, options.args, {
    env: { ...process.env, ...options.env, PORT: String(port) },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  let exited: number | string | null | undefined;
  let status: ServerExit | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = code ?? signal;
      status = { code, signal, at: Date.now() };
      resolve();
    }),
  );

  const server: RunningServer = {
    name: options.name,
    baseUrl,
    pid: child.pid!,
    logFile: options.logFile,
    exitStatus: () => status,
    async stop() {
      running.delete(server);
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    },
  };
  running.add(server);

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) {
      running.delete(server);
      throw new Error(`${options.name} exited (${exited}) before it was ready; its log:\n${tail(options.logFile)}`);
    }
    try {
      const response = await fetch(`${baseUrl}${options.readyPath}`);
      if (response.status === 200) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${options.name} was not ready within ${options.timeoutMs ?? 60_000} ms; its log:\n${tail(options.logFile)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}
