import type { PropertyModel } from '../resources/resource-model.js';
import { EntityModel, GROUP_ENTITY, USER_ENTITY } from './entity-model.js';

/*
 * The service's OData metadata document (CSDL), generated from the same entity models the query
 * compiler uses, so what `$metadata` describes is exactly what `$filter`/`$select`/`$expand` accept.
 */

export const SCHEMA_NAMESPACE = 'Identity';
const CONTAINER = 'Container';
const ENTITIES: readonly EntityModel[] = [GROUP_ENTITY, USER_ENTITY];

/** CSDL XML (OData 4.0 CSDL XML §3). */
export function metadataXml(): string {
  const types = ENTITIES.map((entity) =>
    [
      `      <EntityType Name="${entity.entityType}">`,
      `        <Key><PropertyRef Name="id"/></Key>`,
      ...entity.properties.map((property) => `        <Property ${xmlAttributes(property)}/>`),
      ...entity.navigations.map(
        (navigation) =>
          `        <NavigationProperty Name="${navigation.name}" Type="Collection(${SCHEMA_NAMESPACE}.${navigation.target().entityType})" Partner="${partnerOf(entity, navigation.name)}"/>`,
      ),
      `      </EntityType>`,
    ].join('\n'),
  );
  const sets = ENTITIES.map((entity) =>
    [
      `        <EntitySet Name="${entity.entitySet}" EntityType="${SCHEMA_NAMESPACE}.${entity.entityType}">`,
      ...entity.navigations.map(
        (navigation) => `          <NavigationPropertyBinding Path="${navigation.name}" Target="${navigation.target().entitySet}"/>`,
      ),
      `        </EntitySet>`,
    ].join('\n'),
  );
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
    '  <edmx:DataServices>',
    `    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="${SCHEMA_NAMESPACE}">`,
    ...types,
    `      <EntityContainer Name="${CONTAINER}">`,
    ...sets,
    '      </EntityContainer>',
    '    </Schema>',
    '  </edmx:DataServices>',
    '</edmx:Edmx>',
    '',
  ].join('\n');
}

/** CSDL JSON (OData CSDL JSON 4.01). */
export function metadataJson(): Record<string, unknown> {
  const schema: Record<string, unknown> = {};
  for (const entity of ENTITIES) {
    const type: Record<string, unknown> = { $Kind: 'EntityType', $Key: ['id'] };
    for (const property of entity.properties) {
      type[property.name] = {
        $Type: property.type,
        ...(property.nullable ? { $Nullable: true } : {}),
        ...(property.maxLength ? { $MaxLength: property.maxLength } : {}),
        ...(property.type === 'Edm.DateTimeOffset' ? { $Precision: 3 } : {}),
      };
    }
    for (const navigation of entity.navigations) {
      type[navigation.name] = {
        $Kind: 'NavigationProperty',
        $Type: `${SCHEMA_NAMESPACE}.${navigation.target().entityType}`,
        $Collection: true,
        $Partner: partnerOf(entity, navigation.name),
      };
    }
    schema[entity.entityType] = type;
  }
  schema[CONTAINER] = {
    $Kind: 'EntityContainer',
    ...Object.fromEntries(
      ENTITIES.map((entity) => [
        entity.entitySet,
        {
          $Collection: true,
          $Type: `${SCHEMA_NAMESPACE}.${entity.entityType}`,
          $NavigationPropertyBinding: Object.fromEntries(entity.navigations.map((n) => [n.name, n.target().entitySet])),
        },
      ]),
    ),
  };
  return { $Version: '4.0', $EntityContainer: `${SCHEMA_NAMESPACE}.${CONTAINER}`, [SCHEMA_NAMESPACE]: schema };
}

function xmlAttributes(property: PropertyModel): string {
  const attributes = [`Name="${property.name}"`, `Type="${property.type}"`, `Nullable="${property.nullable}"`];
  if (property.maxLength) attributes.push(`MaxLength="${property.maxLength}"`);
  if (property.type === 'Edm.DateTimeOffset') attributes.push('Precision="3"');
  return attributes.join(' ');
}

/** The navigation on the target that leads back (users ↔ groups). */
function partnerOf(entity: EntityModel, navigationName: string): string {
  const target = entity.navigations.find((navigation) => navigation.name === navigationName)!.target();
  return target.navigations.find((navigation) => navigation.target().entityType === entity.entityType)!.name;
}
