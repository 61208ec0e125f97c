import { AppError } from './app-error.js';
import { ErrorCode } from './error-code.js';

/**
 * Translates a Postgres error raised by a statement into the client error it stands for, or returns
 * undefined when it is a server fault. Validation catches these cases first; this is the backstop for
 * races (two creates of one key) and for anything validation missed, so the client gets a 4xx, not 500.
 */
export function translatePostgresError(error: unknown): AppError | undefined {
  const pg = postgresErrorOf(error);
  if (!pg) return undefined;
  switch (pg.code) {
    case '23505': {
      // unique_violation: the constraint names which key is taken.
      const what = Object.hasOwn(UNIQUE_CONSTRAINT_FIELDS, pg.constraint ?? '') ? UNIQUE_CONSTRAINT_FIELDS[pg.constraint!] : undefined;
      return what
        ? new AppError(ErrorCode.Conflict, `${what.field} '${keyFromDetail(pg.detail)}' is already taken in this scope`, what.field)
        : new AppError(ErrorCode.Conflict, 'The request conflicts with an existing record');
    }
    case '23503': // foreign_key_violation: the referenced group or user went away concurrently
      return new AppError(ErrorCode.Conflict, 'A referenced group or user was deleted concurrently; retry the request');
    case '40001': // serialization_failure
    case '40P01': // deadlock_detected
      return new AppError(ErrorCode.Conflict, 'The request conflicted with a concurrent change; retry it');
    case '22001': // string_data_right_truncation
    case '22021': // character_not_in_repertoire (e.g. NUL)
    case '22P02': // invalid_text_representation
    case '22P05': // untranslatable_character
    case '22007': // invalid_datetime_format
    case '22008': // datetime_field_overflow
      return new AppError(ErrorCode.ValidationFailed, `Invalid value: ${pg.message}`);
    default:
      return undefined;
  }
}

const UNIQUE_CONSTRAINT_FIELDS: Record<string, { field: string }> = {
  uq_groups_scope_group_key: { field: 'groupKey' },
  uq_users_scope_user_key: { field: 'userKey' },
};

interface PostgresError {
  code: string;
  constraint?: string;
  detail?: string;
  message: string;
}

function postgresErrorOf(error: unknown): PostgresError | undefined {
  // TypeORM wraps driver errors in QueryFailedError and keeps the driver's fields on `driverError`.
  const candidate = (error as { driverError?: unknown })?.driverError ?? error;
  if (candidate && typeof candidate === 'object' && typeof (candidate as PostgresError).code === 'string') {
    const code = (candidate as PostgresError).code;
    if (/^[0-9A-Z]{5}$/.test(code)) return candidate as PostgresError;
  }
  return undefined;
}

/** `Key (tenant_key, org_key, lower(group_key))=(t, o, ops) already exists.` → `ops` */
function keyFromDetail(detail: string | undefined): string {
  const values = /\)=\((.*)\) already exists/.exec(detail ?? '')?.[1];
  if (!values) return '';
  const parts = values.split(', ');
  return parts[parts.length - 1] ?? '';
}
