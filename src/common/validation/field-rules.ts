import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import {
  IsBoolean,
  IsDefined,
  isEmail,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
  ValidateBy,
  ValidateIf,
  ValidationOptions,
} from 'class-validator';

/*
 * The field rules of SPEC §2, as composable class-validator decorators shared by every DTO, so a
 * rule is written once whether the field arrives in a create, a patch, a replace or a setter.
 */

/** groupKey / userKey: 1–64 characters, no '/', no whitespace, no control characters. */
export const RESOURCE_KEY_PATTERN = /^[^\s/\p{Cc}]{1,64}$/u;

/** A JSON string with no NUL: Postgres text cannot hold U+0000. */
const NO_NUL = /^[^\u0000]*$/;

/** `required`: must be given and not null; otherwise: may be omitted, but not null. */
function Presence(property: string, required: boolean): PropertyDecorator {
  return required
    ? IsDefined({ message: `${property} is required` })
    : applyDecorators(
        ValidateIf((_object, value) => value !== undefined),
        IsDefined({ message: `${property} cannot be null` }),
      );
}

export function IsResourceKey(property: string, options: { required: boolean }): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      required: options.required,
      type: String,
      minLength: 1,
      maxLength: 64,
      pattern: '^[^\\s/]{1,64}$',
      description: `Unique in the scope, ignoring case (case is kept)`,
    }),
    Presence(property, options.required),
    IsString({ message: `${property} must be a string` }),
    Matches(RESOURCE_KEY_PATTERN, {
      message: `${property} must be 1–64 characters with no '/', whitespace or control characters`,
    }),
  );
}

export function IsDisplayName(options: { required: boolean }): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ required: options.required, type: String, minLength: 1, maxLength: 200 }),
    Presence('name', options.required),
    IsString({ message: 'name must be a string' }),
    Length(1, 200, { message: 'name must be 1–200 characters' }),
    Matches(/\S/, { message: 'name must not be blank' }),
    Matches(NO_NUL, { message: 'name must not contain NUL characters' }),
  );
}

/** Optional email: absent or null means none. */
export function IsOptionalEmail(): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ required: false, type: String, nullable: true, format: 'email', maxLength: 254, description: 'null clears it' }),
    IsOptional(),
    IsString({ message: 'email must be a string or null' }),
    MaxLength(254, { message: 'email must be at most 254 characters' }),
    IsEmailAddress({ message: 'email must be a valid email address' }),
  );
}

/** A UTF-16 surrogate without its pair. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** class-validator's isEmail, but false instead of a throw (URIError → 500) for a lone surrogate. */
function IsEmailAddress(options: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    { name: 'isEmail', validator: { validate: (value) => typeof value === 'string' && !LONE_SURROGATE.test(value) && isEmail(value) } },
    options,
  );
}

/** Optional notes: absent or null means none. */
export function IsOptionalNotes(): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ required: false, type: String, nullable: true, maxLength: 4000, description: 'null clears it' }),
    IsOptional(),
    IsString({ message: 'notes must be a string or null' }),
    MaxLength(4000, { message: 'notes must be at most 4000 characters' }),
    Matches(NO_NUL, { message: 'notes must not contain NUL characters' }),
  );
}

/** isActive: a JSON boolean (no "true" strings, no 0/1); null is rejected. */
export function IsActiveFlag(options?: ValidationOptions): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ required: false, type: Boolean, default: true }),
    Presence('isActive', false),
    IsBoolean({ message: 'isActive must be true or false', ...options }),
  );
}
