import { Injectable, NestMiddleware } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors/app-error.js';
import { ErrorCode } from '../errors/error-code.js';
import { AppConfig } from '../../config/app-config.js';

/**
 * Parses JSON request bodies inside Nest (so failures reach the one exception filter as OData errors,
 * not Express's HTML page). Differences from Nest's default parser, and why:
 * - `strict: false`: setters take a bare JSON value (`"x"`, `true`, `null`) as their body;
 * - a body with any other content type → 415 instead of being silently ignored;
 * - the size limit comes from `MAX_BODY` and answers 413.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly parse: ReturnType<typeof express.json>;

  constructor(config: AppConfig) {
    this.parse = express.json({ strict: false, limit: config.maxBodyBytes, type: isJsonContentType });
  }

  use(request: Request, response: Response, next: NextFunction): void {
    if (!hasBody(request)) return next();
    if (!isJsonContentType(request)) {
      return next(
        new AppError(
          ErrorCode.UnsupportedMediaType,
          `Content-Type '${request.headers['content-type'] ?? '(none)'}' is not supported; send application/json`,
        ),
      );
    }
    this.parse(request, response, (error?: unknown) => next(error ? bodyParserError(error) : undefined));
  }
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
