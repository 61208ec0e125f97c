import { CallHandler, ExecutionContext, Injectable, NestInterceptor, UseInterceptors } from '@nestjs/common';
import type { Observable } from 'rxjs';
import express, { type Request, type Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors/app-error.js';
import { ErrorCode } from '../errors/error-code.js';
import { AppConfig } from '../../config/app-config.js';

/**
 * Marks a handler that takes a JSON body (every POST, PUT and PATCH route): JsonBodyInterceptor reads
 * it after the guards. Handlers without it never read a body. Not a global interceptor on purpose:
 * any global interceptor makes Nest run every request through an rxjs pipeline, which cost about a
 * tenth of the throughput of simple reads (measured with the bench).
 */
export function ReadsJsonBody(): MethodDecorator {
  return UseInterceptors(JsonBodyInterceptor);
}

/**
 * Parses JSON request bodies for the routes that are about to run, after the guards: a request
 * without a valid token, or for a scope it may not touch, is refused (401/403) before its body is
 * read. Failures reach the one exception filter as OData errors. Differences from Nest's default
 * parser, and why:
 * - `strict: false`: setters take a bare JSON value (`"x"`, `true`, `null`) as their body;
 * - a body with any other content type → 415 instead of being silently ignored;
 * - the size limit comes from `MAX_BODY` and answers 413.
 */
@Injectable()
export class JsonBodyInterceptor implements NestInterceptor {
  private readonly parse: ReturnType<typeof express.json>;

  constructor(config: AppConfig) {
    this.parse = express.json({ strict: false, limit: config.maxBodyBytes, type: isJsonContentType });
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const http = context.switchToHttp();
    await this.readBody(http.getRequest<Request>(), http.getResponse<Response>());
    return next.handle();
  }

  private readBody(request: Request, response: Response): Promise<void> {
    if (!hasBody(request)) return Promise.resolve();
    if (!isJsonContentType(request)) {
      return Promise.reject(
        new AppError(
          ErrorCode.UnsupportedMediaType,
          `Content-Type '${request.headers['content-type'] ?? '(none)'}' is not supported; send application/json`,
        ),
      );
    }
    return new Promise((resolve, reject) =>
      this.parse(request, response, (error?: unknown) => {
        const failure = error ? bodyParserError(error) : unsafeBodyError(request.body);
        return failure ? reject(failure) : resolve();
      }),
    );
  }
}

/** Deeper than any resource body needs; far below what recursive validation code survives. */
const MAX_BODY_DEPTH = 64;

/**
 * Bodies that class-transformer (run by validation) cannot take, answered 400 instead of a 500: nesting
 * deep enough to overflow its recursion, and a nested object with a `constructor` property, which it
 * tries to call as the object's class. Iterative, so safe on any depth.
 */
function unsafeBodyError(body: unknown): AppError | undefined {
  const stack: Array<[unknown, number]> = [[body, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth >= MAX_BODY_DEPTH) {
      return new AppError(ErrorCode.BadRequest, `The request body is nested more than ${MAX_BODY_DEPTH} levels deep`);
    }
    if (Object.hasOwn(current, 'constructor')) {
      return AppError.validation("Unknown property 'constructor'", 'constructor');
    }
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return undefined;
}

/** A request carries a body when it says so (RFC 9112 §6.3), whatever its method. */
function hasBody(request: Request): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function isJsonContentType(request: IncomingMessage): boolean {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

function bodyParserError(error: unknown): AppError {
  const { type, limit, message } = error as { type?: string; limit?: number; message?: string };
  switch (type) {
    case 'entity.too.large':
      return new AppError(ErrorCode.PayloadTooLarge, `The request body exceeds the limit of ${limit} bytes`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError(ErrorCode.UnsupportedMediaType, message ?? 'Unsupported body encoding');
    case 'entity.parse.failed':
      return new AppError(ErrorCode.BadRequest, `The request body is not valid JSON: ${message}`);
    default:
      return new AppError(ErrorCode.BadRequest, `The request body could not be read: ${message ?? 'unknown error'}`);
  }
}
