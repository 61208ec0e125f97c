import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { requestIdFor, routeTemplateOf, scopeOfUrl } from './request-context.js';

/** Paths probed by orchestrators and scrapers: not worth a log line each. */
const QUIET_PATHS = new Set(['/health', '/ready', '/metrics']);

/**
 * pino (through nestjs-pino) as the application logger: JSON lines, one per request with method,
 * route template, status, duration, tenant/org and request id; pretty-printed when stdout is a TTY.
 */
export function loggingOptions(level: string, destination?: DestinationStream): Params {
  const pretty = !destination && process.stdout.isTTY && process.env['NODE_ENV'] !== 'production';
  const pinoHttp = {
    level,
    genReqId: (request: IncomingMessage, response: ServerResponse) => requestIdFor(request, response),
    autoLogging: { ignore: (request: IncomingMessage) => QUIET_PATHS.has((request.url ?? '').split('?')[0]!) },
    customProps: (request: IncomingMessage) => scopeOfUrl(request.url),
    // The route template is known only once routing is done, i.e. when the response is logged.
    customSuccessObject: (request: IncomingMessage, _response: ServerResponse, line: object) => ({ ...line, route: routeTemplateOf(request) }),
    customErrorObject: (request: IncomingMessage, _response: ServerResponse, _error: Error, line: object) => ({
      ...line,
      route: routeTemplateOf(request),
    }),
    customLogLevel: (_request: IncomingMessage, response: ServerResponse, error?: Error) =>
      error || response.statusCode >= 500 ? 'error' : response.statusCode >= 400 ? 'warn' : 'info',
    // Keep lines short and free of secrets: no headers (Authorization), no bodies.
    serializers: {
      req: (request: { id: string; method: string; url: string }) => ({ id: request.id, method: request.method, url: request.url }),
      res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { singleLine: true } } } : {}),
  };
  return { pinoHttp: destination ? [pinoHttp, destination] : pinoHttp };
}
