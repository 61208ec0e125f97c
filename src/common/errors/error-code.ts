/**
 * Every error the service can answer with, its HTTP status and the OData `error.code` it carries.
 * This table is the only place that maps a failure to a status: code elsewhere throws an `AppError`
 * with one of these codes and never picks a status itself.
 */
export enum ErrorCode {
  BadRequest = 'BadRequest',
  ValidationFailed = 'ValidationFailed',
  InvalidScope = 'InvalidScope',
  UnknownReferences = 'UnknownReferences',
  UnsupportedQueryOption = 'UnsupportedQueryOption',
  /** The query ran past the statement time limit (DB_STATEMENT_TIMEOUT_MS): it is too expensive. */
  QueryBudgetExceeded = 'QueryBudgetExceeded',
  /** The response would hold more rows, expanded ones included, than MAX_RESPONSE_ROWS. */
  ResponseTooLarge = 'ResponseTooLarge',
  Unauthorized = 'Unauthorized',
  Forbidden = 'Forbidden',
  NotFound = 'NotFound',
  RouteNotFound = 'RouteNotFound',
  Conflict = 'Conflict',
  PreconditionFailed = 'PreconditionFailed',
  PayloadTooLarge = 'PayloadTooLarge',
  UnsupportedMediaType = 'UnsupportedMediaType',
  /** The tenant's request rate (RATE_LIMIT_*) is used up; `Retry-After` says when to come back. */
  RateLimitExceeded = 'RateLimitExceeded',
  /** The tenant already holds its share of database connections (TENANT_MAX_CONCURRENCY). */
  TenantConcurrencyExceeded = 'TenantConcurrencyExceeded',
  /** The database cannot be reached or lost the connection; `Retry-After` says when to retry. */
  DatabaseUnavailable = 'DatabaseUnavailable',
  ServiceUnavailable = 'ServiceUnavailable',
  InternalError = 'InternalError',
}

export const HTTP_STATUS_OF: Readonly<Record<ErrorCode, number>> = {
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.InvalidScope]: 400,
  [ErrorCode.UnknownReferences]: 400,
  [ErrorCode.UnsupportedQueryOption]: 400,
  [ErrorCode.QueryBudgetExceeded]: 400,
  [ErrorCode.ResponseTooLarge]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.RouteNotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.PreconditionFailed]: 412,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.RateLimitExceeded]: 429,
  [ErrorCode.TenantConcurrencyExceeded]: 429,
  [ErrorCode.DatabaseUnavailable]: 503,
  [ErrorCode.ServiceUnavailable]: 503,
  [ErrorCode.InternalError]: 500,
};
