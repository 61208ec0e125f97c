import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';

/**
 * Every failure the OData layer reports about a client's query. All of them are `AppError`s (so the
 * one exception filter answers them as 400s with the OData error body); `kind` and `position` are
 * extra facts for tests and logs. Only this file picks the `ErrorCode` of an OData failure, so new,
 * finer codes (e.g. `InvalidQuerySyntax`) can be introduced here in one place.
 *
 * Positions are 0-based character offsets into the (URL-decoded) value of the query option named by
 * `target`, e.g. `$filter`.
 */
export type ODataErrorKind =
  | 'syntax'
  | 'unknownProperty'
  | 'typeMismatch'
  | 'unsupported'
  | 'limit'
  | 'tooLarge'
  | 'duplicateOption'
  | 'invalidValue'
  | 'invalidSkipToken';

const CODE_OF: Record<ODataErrorKind, ErrorCode> = {
  syntax: ErrorCode.BadRequest,
  unknownProperty: ErrorCode.BadRequest,
  typeMismatch: ErrorCode.BadRequest,
  unsupported: ErrorCode.UnsupportedQueryOption,
  limit: ErrorCode.BadRequest,
  tooLarge: ErrorCode.ResponseTooLarge,
  duplicateOption: ErrorCode.BadRequest,
  invalidValue: ErrorCode.BadRequest,
  invalidSkipToken: ErrorCode.BadRequest,
};

export class ODataError extends AppError {
  constructor(
    readonly kind: ODataErrorKind,
    message: string,
    target?: string,
    readonly position?: number,
  ) {
    super(CODE_OF[kind], message, target, [{ code: kind, message, ...(target === undefined ? {} : { target }) }]);
    this.name = 'ODataError';
  }
}

/** Where in the request a node came from: the option (`$filter`, `$expand/users/$filter`) and offset. */
export interface SourceRef {
  readonly option: string;
  readonly position: number;
}

function at(ref: SourceRef | undefined): string {
  return ref ? ` at position ${ref.position} of ${ref.option}` : '';
}

export const ODataErrors = {
  /** `position`: 0-based offset in the value of `option`; `problem` says what is wrong there. */
  syntax(option: string, position: number, problem: string): ODataError {
    return new ODataError('syntax', `Syntax error in ${option} at position ${position}: ${problem}`, option, position);
  },
  unknownProperty(entityType: string, name: string, ref?: SourceRef): ODataError {
    return new ODataError('unknownProperty', `Unknown property '${name}' of ${entityType}${at(ref)}`, ref?.option, ref?.position);
  },
  typeMismatch(message: string, ref?: SourceRef): ODataError {
    return new ODataError('typeMismatch', `Type mismatch${at(ref)}: ${message}`, ref?.option, ref?.position);
  },
  unsupported(what: string, ref?: SourceRef): ODataError {
    return new ODataError('unsupported', `${what} is not supported${at(ref)}`, ref?.option, ref?.position);
  },
  unsupportedOption(name: string): ODataError {
    return new ODataError('unsupported', `The query option ${name} is not supported`, name);
  },
  tooLarge(message: string, option?: string): ODataError {
    return new ODataError('tooLarge', message, option);
  },
  limit(message: string, option?: string): ODataError {
    return new ODataError('limit', message, option);
  },
  duplicate(name: string): ODataError {
    return new ODataError('duplicateOption', `The query option ${name} may be given only once`, name);
  },
  invalidValue(option: string, message: string, position?: number): ODataError {
    return new ODataError('invalidValue', message, option, position);
  },
  invalidSkipToken(reason: string): ODataError {
    return new ODataError('invalidSkipToken', `Invalid $skiptoken: ${reason}`, '$skiptoken');
  },
};
