import { Writable } from 'node:stream';

/** Collects the JSON log lines an app writes (pass it as `logDestination`). */
export interface LogLine {
  level: number;
  msg: string;
  context?: string;
  [field: string]: unknown;
}

export class LogCapture extends Writable {
  readonly lines: LogLine[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.lines.push(JSON.parse(line));
    done();
  }

  /** The lines of one `new Logger(context)`. */
  linesOf(context: string): LogLine[] {
    return this.lines.filter((line) => line.context === context);
  }
}
