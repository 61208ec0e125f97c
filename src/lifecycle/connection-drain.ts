import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/**
 * Lets keep-alive connections go as soon as their last answer is out once shutdown has begun.
 *
 * `server.close()` (Nest's app.close) stops accepting connections and closes the idle ones, but a
 * keep-alive connection that is busy at that moment stays open after its answer, idle, until the
 * keep-alive timeout ends it: the process's exit waited ~6 s for each. So from
 * `beforeApplicationShutdown` on (before Nest closes the HTTP server), every response not yet sent —
 * those in flight and any request still arriving on an open connection — carries `Connection: close`,
 * and Node closes the connection after it; a response already under way closes its socket when done.
 */
@Injectable()
export class ConnectionDrain implements BeforeApplicationShutdown {
  private draining = false;
  private readonly inFlight = new Set<Response>();

  /** First middleware of the app: tracks the responses in flight. */
  readonly middleware = (_request: Request, response: Response, next: NextFunction): void => {
    if (this.draining) {
      response.setHeader('Connection', 'close');
    } else {
      this.inFlight.add(response);
      response.once('close', () => this.inFlight.delete(response));
    }
    next();
  };

  beforeApplicationShutdown(): void {
    this.draining = true;
    for (const response of this.inFlight) {
      if (!response.headersSent) response.setHeader('Connection', 'close');
      else response.once('finish', () => response.socket?.end());
    }
    this.inFlight.clear();
  }
}
