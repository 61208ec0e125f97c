import { GROUP_MODEL, PropertyModel, ResourceModel, USER_MODEL } from '../resources/resource-model.js';
import { ODataErrors, SourceRef } from './odata-error.js';

/**
 * The OData view of a resource: its ResourceModel (property → column, Edm type, nullability) plus
 * navigation properties and the text properties `$search` looks in. SQL identifiers are taken only
 * from here.
 *
 * Navigation goes through the `memberships` link table (tenant_key, org_key, group_id, user_id):
 * Group.users → User (group_id → user_id) and User.groups → Group (user_id → group_id).
 */
export interface NavigationModel {
  readonly name: string;
  /** The related entity (a function: the two models refer to each other). */
  readonly target: () => EntityModel;
  readonly link: {
    readonly table: 'memberships';
    /** The link column holding this entity's id. */
    readonly sourceColumn: 'group_id' | 'user_id';
    /** The link column holding the related entity's id. */
    readonly targetColumn: 'group_id' | 'user_id';
  };
}

export interface EntityModel {
  readonly resource: ResourceModel;
  readonly entityType: string;
  readonly entitySet: string;
  readonly table: string;
  readonly properties: readonly PropertyModel[];
  readonly keyProperty: string;
  readonly navigations: readonly NavigationModel[];
  /** Properties `$search` matches (case-insensitive substring). */
  readonly searchProperties: readonly string[];
}

export const GROUP_ENTITY: EntityModel = {
  resource: GROUP_MODEL,
  entityType: GROUP_MODEL.entityType,
  entitySet: GROUP_MODEL.entitySet,
  table: GROUP_MODEL.table,
  properties: GROUP_MODEL.properties,
  keyProperty: GROUP_MODEL.keyProperty,
  navigations: [
    { name: 'users', target: () => USER_ENTITY, link: { table: 'memberships', sourceColumn: 'group_id', targetColumn: 'user_id' } },
  ],
  searchProperties: ['groupKey', 'name', 'email', 'notes'],
};

export const USER_ENTITY: EntityModel = {
  resource: USER_MODEL,
  entityType: USER_MODEL.entityType,
  entitySet: USER_MODEL.entitySet,
  table: USER_MODEL.table,
  properties: USER_MODEL.properties,
  keyProperty: USER_MODEL.keyProperty,
  navigations: [
    { name: 'groups', target: () => GROUP_ENTITY, link: { table: 'memberships', sourceColumn: 'user_id', targetColumn: 'group_id' } },
  ],
  searchProperties: ['userKey', 'name', 'email'],
};

/** The entity model of a resource model (the same object for the two known resources). */
export function entityModelOf(model: EntityModel | ResourceModel): EntityModel {
  if ('resource' in model) return model;
  if (model === GROUP_MODEL || model.entitySet === GROUP_ENTITY.entitySet) return GROUP_ENTITY;
  if (model === USER_MODEL || model.entitySet === USER_ENTITY.entitySet) return USER_ENTITY;
  throw new Error(`No OData entity model for ${model.entityType}`);
}

export type Member = { readonly kind: 'property'; readonly property: PropertyModel } | { readonly kind: 'navigation'; readonly navigation: NavigationModel };

/**
 * A name → property or navigation: the exact name first, then (OData 4.01 / Primavera clients) a
 * case-insensitive match when it is unique; else 400 "Unknown property".
 */
export function resolveMember(model: EntityModel, name: string, ref?: SourceRef): Member {
  const members: Member[] = [
    ...model.properties.map((property) => ({ kind: 'property' as const, property })),
    ...model.navigations.map((navigation) => ({ kind: 'navigation' as const, navigation })),
  ];
  const nameOf = (member: Member) => (member.kind === 'property' ? member.property.name : member.navigation.name);
  const exact = members.find((member) => nameOf(member) === name);
  if (exact) return exact;
  const lower = name.toLowerCase();
  const loose = members.filter((member) => nameOf(member).toLowerCase() === lower);
  if (loose.length === 1) return loose[0]!;
  throw ODataErrors.unknownProperty(model.entityType, name, ref);
}

export function resolveProperty(model: EntityModel, name: string, ref?: SourceRef): PropertyModel {
  const member = resolveMember(model, name, ref);
  if (member.kind !== 'property') {
    throw ODataErrors.typeMismatch(`'${member.navigation.name}' is a navigation property, not a property of ${model.entityType}`, ref);
  }
  return member.property;
}

export function resolveNavigation(model: EntityModel, name: string, ref?: SourceRef): NavigationModel {
  const member = resolveMember(model, name, ref);
  if (member.kind !== 'navigation') {
    throw ODataErrors.typeMismatch(`'${member.property.name}' is not a navigation property of ${model.entityType}`, ref);
  }
  return member.navigation;
}

export function idProperty(model: EntityModel): PropertyModel {
  const id = model.properties.find((property) => property.name === 'id');
  if (!id) throw new Error(`${model.entityType} has no id property`);
  return id;
}
