import { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Level, Logger as Pino } from 'pino';

/**
 * The process's log: pino JSON lines on stdout (pretty-printed when stdout is a TTY outside
 * production), or to `destination` (tests read them).
 */
export function createRootLogger(level: string, destination?: DestinationStream): Pino {
  const pretty = !destination && process.stdout.isTTY && process.env['NODE_ENV'] !== 'production';
  const options = { level, ...(pretty ? { transport: { target: 'pino-pretty', options: { singleLine: true } } } : {}) };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Nest's logger interface over the root pino logger, so Nest's own lines and the service's
 * `new Logger(context)` lines are JSON like the request lines: `{level, time, context, msg}`.
 *
 * nestjs-pino does this too, but also binds a per-request child logger through an
 * AsyncLocalStorage, and uses pino-http, which builds two child loggers per request. Measured on
 * the bench, those two cost more than half the throughput of a simple read (the storage's promise
 * hook runs for every promise of the process). The request line (RequestTelemetryMiddleware)
 * carries what they gave, the request id included; error lines name the request id themselves.
 */
export class AppLogger implements LoggerService {
  constructor(readonly pino: Pino) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** Nest appends the context (a string) as the last parameter; `error` may pass a stack before it. */
  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {};
    const rest = [...params];
    if (rest.length > 0 && typeof rest[rest.length - 1] === 'string') fields['context'] = rest.pop();
    if (level === 'error' && typeof rest[0] === 'string') fields['stack'] = rest[0];
    if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else if (message !== null && typeof message === 'object') {
      this.pino[level]({ ...fields, ...(message as object) });
    } else {
      this.pino[level](fields, String(message));
    }
  }
}
