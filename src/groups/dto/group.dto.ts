import { ApiHideProperty, ApiProperty } from '@nestjs/swagger';
import { Allow } from 'class-validator';
import {
  IsActiveFlag,
  IsDisplayName,
  IsOptionalEmail,
  IsOptionalNotes,
  IsResourceKey,
} from '../../common/validation/field-rules.js';
import { ReadOnlyFields } from '../../resources/dto/read-only-fields.js';

/** The group properties a client may set. */
export const GROUP_WRITABLE = ['groupKey', 'name', 'email', 'notes', 'isActive'] as const;

/** POST /groups */
export class CreateGroupDto {
  @IsResourceKey('groupKey', { required: true })
  groupKey: string;

  @IsDisplayName({ required: true })
  name: string;

  @IsOptionalEmail()
  email?: string | null;

  @IsOptionalNotes()
  notes?: string | null;

  @IsActiveFlag()
  isActive?: boolean;

  /** userKeys of the first members; checked by the membership rules. */
  @ApiProperty({ required: false, type: [String], maxItems: 10_000, description: 'The userKeys to add' })
  @Allow()
  users?: unknown;
}

/** PATCH /groups/{idOrKey}, and the rules of each setter: every property optional, null clears. */
export class PatchGroupDto extends ReadOnlyFields {
  @IsResourceKey('groupKey', { required: false })
  groupKey?: string;

  @IsDisplayName({ required: false })
  name?: string;

  @IsOptionalEmail()
  email?: string | null;

  @IsOptionalNotes()
  notes?: string | null;

  @IsActiveFlag()
  isActive?: boolean;

  @ApiHideProperty() @Allow() usersCount?: unknown;
}

/** PUT /groups/{idOrKey}: the whole group; omitted optional properties are cleared, members replaced. */
export class ReplaceGroupDto extends ReadOnlyFields {
  @IsResourceKey('groupKey', { required: true })
  groupKey: string;

  @IsDisplayName({ required: true })
  name: string;

  @IsOptionalEmail()
  email?: string | null;

  @IsOptionalNotes()
  notes?: string | null;

  @IsActiveFlag()
  isActive?: boolean;

  /** The complete member list, as userKeys (or user objects with a userKey, as GET returns them). */
  @ApiProperty({ type: [String], maxItems: 10_000, description: 'The complete list (userKeys, or objects with a userKey)' })
  @Allow()
  users: unknown;

  @ApiHideProperty() @Allow() usersCount?: unknown;
}
