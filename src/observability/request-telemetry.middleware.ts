import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AppLogger } from './logging.js';
import { MetricsService } from './metrics.service.js';
import { requestIdFor, routeTemplateOf, scopeOfUrl } from './request-context.js';

/** Paths probed by orchestrators and scrapers: counted in the metrics, but not worth a log line each. */
const QUIET_PATHS = new Set(['/health', '/ready', '/metrics']);

/**
 * What every request leaves behind, measured with one timer and one listener:
 * - its id (`X-Request-Id` when the client sent a sane one, else a new UUID), echoed in the response;
 * - one log line when it ends: method, URL, route template, status, duration, tenant/org and id —
 *   `info` below 400, `warn` below 500 and for 503, `error` for other 5xx (no headers, no bodies: no secrets);
 * - the request counter and latency histogram by method, route template and status.
 */
@Injectable()
export class RequestTelemetryMiddleware implements NestMiddleware {
  constructor(
    private readonly logger: AppLogger,
    private readonly metrics: MetricsService,
  ) {}

  use(request: Request, response: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    const id = requestIdFor(request, response);
    (request as Request & { id: string }).id = id;
    response.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeTemplateOf(request);
      this.metrics.observeRequest(request.method, route, response.statusCode, seconds);
      this.logRequest(request, response, id, route, seconds);
    });
    next();
  }

  private logRequest(request: Request, response: Response, id: string, route: string, seconds: number): void {
    const status = response.statusCode;
    // A 503 is the service saying "not now" (database away, shutting down): the transition is logged
    // once at error level where it is detected; each refused request is only a warning.
    const level = status >= 500 && status !== 503 ? 'error' : status >= 400 ? 'warn' : 'info';
    const log = this.logger.pino;
    if (!log.isLevelEnabled(level)) return;
    const url = request.originalUrl;
    if (QUIET_PATHS.has(url.split('?')[0]!)) return;
    const finished = response.writableFinished;
    log[finished ? level : 'warn'](
      {
        req: { id, method: request.method, url },
        res: { statusCode: status },
        responseTime: Math.round(seconds * 1e4) / 10,
        route,
        ...scopeOfUrl(url),
      },
      finished ? 'request completed' : 'request aborted',
    );
  }
}
