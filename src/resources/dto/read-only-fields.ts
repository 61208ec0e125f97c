import { ApiHideProperty } from '@nestjs/swagger';
import { Allow } from 'class-validator';

/**
 * Server-made properties a client may send back unchanged (GET, edit, PUT). They are accepted and
 * ignored; anything not declared in a DTO is rejected with 400.
 */
export abstract class ReadOnlyFields {
  @ApiHideProperty() @Allow() id?: unknown;
  @ApiHideProperty() @Allow() createdOn?: unknown;
  @ApiHideProperty() @Allow() modifiedOn?: unknown;
  @ApiHideProperty() @Allow() createdBy?: unknown;
  @ApiHideProperty() @Allow() modifiedBy?: unknown;
}

/** Copies the listed properties that are present (not undefined) from a validated DTO. */
export function pickDefined(dto: object, properties: readonly string[]): Record<string, unknown> {
  const source = dto as Record<string, unknown>;
  return Object.fromEntries(properties.filter((name) => source[name] !== undefined).map((name) => [name, source[name]]));
}
