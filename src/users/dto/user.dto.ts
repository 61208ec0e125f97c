import { ApiHideProperty, ApiProperty } from '@nestjs/swagger';
import { Allow } from 'class-validator';
import { IsActiveFlag, IsDisplayName, IsOptionalEmail, IsResourceKey } from '../../common/validation/field-rules.js';
import { ReadOnlyFields } from '../../resources/dto/read-only-fields.js';

/** The user properties a client may set. */
export const USER_WRITABLE = ['userKey', 'name', 'email', 'isActive'] as const;

/** POST /users */
export class CreateUserDto {
  @IsResourceKey('userKey', { required: true })
  userKey: string;

  @IsDisplayName({ required: true })
  name: string;

  @IsOptionalEmail()
  email?: string | null;

  @IsActiveFlag()
  isActive?: boolean;

  /** groupKeys of the groups the user joins; checked by the membership rules. */
  @ApiProperty({ required: false, type: [String], maxItems: 10_000, description: 'The groupKeys to add' })
  @Allow()
  groups?: unknown;
}

/** PATCH /users/{idOrKey}, and the rules of each setter. */
export class PatchUserDto extends ReadOnlyFields {
  @IsResourceKey('userKey', { required: false })
  userKey?: string;

  @IsDisplayName({ required: false })
  name?: string;

  @IsOptionalEmail()
  email?: string | null;

  @IsActiveFlag()
  isActive?: boolean;

  @ApiHideProperty() @Allow() groupsCount?: unknown;
}

/** PUT /users/{idOrKey}: the whole user; omitted optional properties are cleared, groups replaced. */
export class ReplaceUserDto extends ReadOnlyFields {
  @IsResourceKey('userKey', { required: true })
  userKey: string;

  @IsDisplayName({ required: true })
  name: string;

  @IsOptionalEmail()
  email?: string | null;

  @IsActiveFlag()
  isActive?: boolean;

  /** The complete list of the user's groups, as groupKeys (or group objects with a groupKey). */
  @ApiProperty({ type: [String], maxItems: 10_000, description: 'The complete list (groupKeys, or objects with a groupKey)' })
  @Allow()
  groups: unknown;

  @ApiHideProperty() @Allow() groupsCount?: unknown;
}
