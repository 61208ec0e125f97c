import { ErrorCode, HTTP_STATUS_OF } from './error-code.js';

/** One entry of `error.details`: typically one invalid field or one unknown reference. */
export interface ErrorDetail {
  code: string;
  message: string;
  target?: string;
}

/** The OData JSON error body every failing request answers with. */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    target?: string;
    details?: ErrorDetail[];
  };
}

/**
 * A failure the client can act on. Thrown anywhere below the controllers; the exception filter turns
 * it into the OData error body with the status that `HTTP_STATUS_OF` gives its code.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly target?: string,
    readonly details?: ErrorDetail[],
    /** Response headers the error needs (e.g. `WWW-Authenticate` on 401/403). */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  get status(): number {
    return HTTP_STATUS_OF[this.code];
  }

  toBody(): ErrorBody {
    const error: ErrorBody['error'] = { code: this.code, message: this.message };
    if (this.target !== undefined) error.target = this.target;
    if (this.details?.length) error.details = this.details;
    return { error };
  }

  static notFound(entity: string, idOrKey: string): AppError {
    return new AppError(ErrorCode.NotFound, `${entity} '${idOrKey}' was not found`, idOrKey);
  }

  static validation(message: string, target?: string, details?: ErrorDetail[]): AppError {
    return new AppError(ErrorCode.ValidationFailed, message, target, details);
  }
}
