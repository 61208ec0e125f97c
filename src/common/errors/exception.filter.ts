import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppConfig } from '../../config/app-config.js';
import { DATABASE_RETRY_AFTER_SECONDS, isStatementTimeout } from '../../database/database-failures.js';
import { AppError } from './app-error.js';
import { ErrorCode } from './error-code.js';
import { translatePostgresError } from './postgres-errors.js';

/**
 * The only exception filter. Everything that fails answers with the OData error body:
 * - `AppError` → its code's status;
 * - Postgres errors a client can cause (unique violation in a race, …) → their 4xx;
 * - a statement cancelled at the query budget (DB_STATEMENT_TIMEOUT_MS) → 400 `QueryBudgetExceeded`
 *   for a read (the query asked for too much work), 503 with `Retry-After` for a write (bounded by
 *   the contract's limits, so it was held up — by a lock or an overloaded server — and rolled back);
 * - Nest's own HTTP exceptions (unmatched route, …) → the same status with our body;
 * - anything else is a server fault: logged with the stack, answered 500 without internals.
 * Expected 5xx (503 while the database is away) are not logged here: DatabaseAvailability logs the
 * transition once, and the request log has every response's status.
 */
@Catch()
export class AppExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  constructor(private readonly config: AppConfig) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request>();
    const error = this.toAppError(exception, request);
    if (error.code === ErrorCode.InternalError) {
      this.logger.error(
        `${request.method} ${request.originalUrl} failed (request ${(request as Request & { id?: string }).id ?? '-'}): ${(exception as Error)?.stack ?? String(exception)}`,
      );
    }
    if (response.headersSent) return;
    for (const [name, value] of Object.entries(error.headers ?? {})) response.setHeader(name, value);
    // type(): a route may have set another Content-Type (text/plain for /$count) before it failed.
    response.status(error.status).type('application/json').json(error.toBody());
  }

  private toAppError(exception: unknown, request: Request): AppError {
    if (exception instanceof AppError) return exception;
    if (isStatementTimeout(exception)) return this.budgetExceeded(request);
    const fromPostgres = translatePostgresError(exception);
    if (fromPostgres) return fromPostgres;
    if (exception instanceof HttpException) return fromHttpException(exception, request);
    return new AppError(ErrorCode.InternalError, 'An unexpected error occurred');
  }

  private budgetExceeded(request: Request): AppError {
    const budget = `${this.config.dbStatementTimeoutMs} ms (DB_STATEMENT_TIMEOUT_MS)`;
    if (request.method === 'GET' || request.method === 'HEAD') {
      return new AppError(
        ErrorCode.QueryBudgetExceeded,
        `The query needed more than its time budget of ${budget} and was cancelled; narrow $filter or $search, or lower $top or $expand`,
      );
    }
    return new AppError(
      ErrorCode.ServiceUnavailable,
      `The write did not finish within the time budget of ${budget} and was rolled back; retry the request`,
      undefined,
      undefined,
      { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) },
    );
  }
}

const CODE_FOR_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.BadRequest,
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.RouteNotFound,
  409: ErrorCode.Conflict,
  412: ErrorCode.PreconditionFailed,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  503: ErrorCode.ServiceUnavailable,
};

function fromHttpException(exception: HttpException, request: Request): AppError {
  const status = exception.getStatus();
  if (status === 404) {
    return new AppError(ErrorCode.RouteNotFound, `No route matches ${request.method} ${request.path}`);
  }
  // Nest raises few other statuses; any we have no code for is reported as a plain 400 or 500.
  const code = CODE_FOR_STATUS[status] ?? (status >= 500 ? ErrorCode.InternalError : ErrorCode.BadRequest);
  return new AppError(code, exception.message);
}
