import { ArgumentMetadata, Injectable, ValidationPipe } from '@nestjs/common';
import { AppError } from '../errors/app-error.js';
import { validationErrorsToAppError } from '../errors/validation-errors.js';

/**
 * Nest's ValidationPipe with the service's settings: unknown properties are rejected, values are
 * converted to the DTO's types, and failures become one OData 400 naming every invalid field.
 * It also insists that a body bound to a DTO is a JSON object: class-transformer would otherwise turn
 * `"text"` or `[…]` into an empty DTO and the client would read "groupKey is required".
 */
@Injectable()
export class AppValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: true,
      exceptionFactory: validationErrorsToAppError,
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && metadata.metatype && this.toValidate(metadata)) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw AppError.validation('The request body must be a JSON object');
      }
    }
    return super.transform(value, metadata);
  }
}
