import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiResponse, getSchemaPath } from '@nestjs/swagger';

/*
 * Classes that exist only to describe responses in the OpenAPI document (the service builds plain
 * objects). Request bodies are described on the DTOs themselves, next to their validation rules.
 */

export class ODataErrorDetailDoc {
  @ApiProperty({ example: 'isString' }) code: string;
  @ApiProperty({ example: 'name must be a string' }) message: string;
  @ApiPropertyOptional({ example: 'name' }) target?: string;
}

export class ODataErrorDoc {
  @ApiProperty({ example: 'ValidationFailed', description: 'A stable code: ValidationFailed, NotFound, Conflict, Unauthorized, …' })
  code: string;
  @ApiProperty({ example: 'name must be 1–200 characters' }) message: string;
  @ApiPropertyOptional({ description: 'The field, option or reference concerned', example: 'name' }) target?: string;
  @ApiPropertyOptional({ type: [ODataErrorDetailDoc] }) details?: ODataErrorDetailDoc[];
}

export class ODataErrorBodyDoc {
  @ApiProperty({ type: ODataErrorDoc }) error: ODataErrorDoc;
}

abstract class AuditedDoc {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'date-time' }) createdOn: string;
  @ApiProperty({ format: 'date-time' }) modifiedOn: string;
  @ApiProperty({ nullable: true, description: 'Token subject (`sub`) of the creator' }) createdBy: string | null;
  @ApiProperty({ nullable: true, description: 'Token subject (`sub`) of the last writer' }) modifiedBy: string | null;
}

export class UserSummaryDoc {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() userKey: string;
  @ApiProperty() name: string;
  @ApiProperty({ nullable: true }) email: string | null;
  @ApiProperty() isActive: boolean;
}

export class GroupSummaryDoc {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() groupKey: string;
  @ApiProperty() name: string;
  @ApiProperty({ nullable: true }) email: string | null;
  @ApiProperty() isActive: boolean;
}

export class GroupDoc extends AuditedDoc {
  @ApiProperty({ example: 'ops' }) groupKey: string;
  @ApiProperty({ example: 'Operations' }) name: string;
  @ApiProperty({ nullable: true, format: 'email' }) email: string | null;
  @ApiProperty({ nullable: true }) notes: string | null;
  @ApiProperty() isActive: boolean;
}

export class GroupResourceDoc extends GroupDoc {
  @ApiProperty({ description: 'Number of members' }) usersCount: number;
  @ApiProperty({ type: [UserSummaryDoc], description: 'The first 1,000 members, in userKey order' }) users: UserSummaryDoc[];
  @ApiPropertyOptional({ name: 'users@odata.nextLink', description: 'The rest of the members (keyset-paged)' })
  'users@odata.nextLink'?: string;
}

export class UserDoc extends AuditedDoc {
  @ApiProperty({ example: 'alice' }) userKey: string;
  @ApiProperty({ example: 'Alice' }) name: string;
  @ApiProperty({ nullable: true, format: 'email' }) email: string | null;
  @ApiProperty() isActive: boolean;
}

export class UserResourceDoc extends UserDoc {
  @ApiProperty({ description: 'Number of groups' }) groupsCount: number;
  @ApiProperty({ type: [GroupSummaryDoc], description: 'The first 1,000 groups, in groupKey order' }) groups: GroupSummaryDoc[];
  @ApiPropertyOptional({ name: 'groups@odata.nextLink', description: 'The rest of the groups (keyset-paged)' })
  'groups@odata.nextLink'?: string;
}

export class AddOutcomeDoc {
  @ApiProperty({ description: 'Members added by this call' }) added: number;
  @ApiProperty({ description: 'Members that were already in' }) unchanged: number;
}

export class RemoveOutcomeDoc {
  @ApiProperty({ description: 'Members removed by this call' }) removed: number;
  @ApiProperty({ description: 'Entries that were not members' }) unchanged: number;
}

export class ReplaceOutcomeDoc {
  @ApiProperty() added: number;
  @ApiProperty() removed: number;
  @ApiProperty({ description: 'Members that stayed' }) unchanged: number;
}

/** An OData collection of `item` (`{"@odata.context", "@odata.count"?, "value", "@odata.nextLink"?}`). */
export function ApiODataCollection(item: new () => object, description: string) {
  return applyDecorators(
    ApiExtraModels(item),
    ApiResponse({
      status: 200,
      description,
      schema: {
        type: 'object',
        required: ['@odata.context', 'value'],
        properties: {
          '@odata.context': { type: 'string' },
          '@odata.count': { type: 'integer', description: 'With $count=true' },
          value: { type: 'array', items: { $ref: getSchemaPath(item) } },
          '@odata.nextLink': { type: 'string', description: 'The next page (opaque $skiptoken)' },
        },
      },
    }),
  );
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input: the body, a field, a query option, the scope keys, or unknown members',
  401: 'No bearer token, or a malformed, forged, expired or not-yet-valid one (WWW-Authenticate: Bearer)',
  403: 'The token does not cover this tenant, org or scope',
  404: 'No such record in this scope',
  409: 'The key is already taken in this scope',
  412: 'If-Match does not match the current ETag',
  413: 'The body is larger than MAX_BODY',
  415: 'The body is not application/json',
  429: "The tenant's rate limit (RateLimitExceeded) or its share of database connections (TenantConcurrencyExceeded) is used up; Retry-After says when to retry",
  503: 'The database is unavailable (DatabaseUnavailable), or a write ran past the query budget and was rolled back; Retry-After says when to retry',
};

/**
 * The OData error responses a scoped route can give: 400 (scope keys), 401 and 403 always, 429 and 503
 * (fairness and database outages) always, plus `statuses`.
 */
export function ApiErrors(...statuses: number[]) {
  return applyDecorators(
    ...[...new Set([400, 401, 403, 429, 503, ...statuses])].sort().map((status) =>
      ApiResponse({ status, description: ERROR_DESCRIPTIONS[status], type: ODataErrorBodyDoc }),
    ),
  );
}
