import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { validationErrorsToAppError } from '../../common/errors/validation-errors.js';

/**
 * Validates the body of `PUT /{resource}/{idOrKey}/{property}`: a bare JSON value checked by the same
 * rules as that property in a PATCH. Returns the change to apply.
 */
export async function parseSetterBody(
  patchDto: new () => object,
  property: string,
  body: unknown,
  hasBody: boolean,
): Promise<Record<string, unknown>> {
  if (!hasBody) {
    throw new AppError(ErrorCode.ValidationFailed, `The body must be the new value of ${property} as JSON (e.g. "text", true or null)`, property);
  }
  const errors = await validate(plainToInstance(patchDto, { [property]: body }), {
    whitelist: true,
    forbidNonWhitelisted: true,
    stopAtFirstError: true,
  });
  if (errors.length > 0) throw validationErrorsToAppError(errors);
  return { [property]: body };
}
