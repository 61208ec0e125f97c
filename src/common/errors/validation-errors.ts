import type { ValidationError } from 'class-validator';
import { AppError, ErrorDetail } from './app-error.js';

/**
 * Turns class-validator's error tree into one 400 whose `target` is the first invalid field and whose
 * `details` list every violated rule, with nested paths such as `users[3]`.
 */
export function validationErrorsToAppError(errors: ValidationError[]): AppError {
  const details = flatten(errors, '');
  if (details.length === 0) {
    return AppError.validation('The request body must be a JSON object');
  }
  const first = details[0]!;
  const message = details.length === 1 ? first.message : `${first.message} (and ${details.length - 1} more)`;
  return AppError.validation(message, first.target, details);
}

function flatten(errors: ValidationError[], prefix: string): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const error of errors) {
    // An error on a non-object body has no property: class-validator reports `unknownValue`.
    if (error.constraints?.unknownValue || error.property === undefined) {
      out.push({ code: 'InvalidBody', message: 'The request body must be a JSON object' });
      continue;
    }
    const path = /^\d+$/.test(error.property)
      ? `${prefix}[${error.property}]`
      : prefix ? `${prefix}.${error.property}` : error.property;
    for (const [rule, message] of Object.entries(error.constraints ?? {})) {
      out.push({ code: rule, message: rule === 'whitelistValidation' ? `Unknown property '${path}'` : message, target: path });
    }
    if (error.children?.length) out.push(...flatten(error.children, path));
  }
  return out;
}
