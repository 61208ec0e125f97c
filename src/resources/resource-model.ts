/**
 * What the service knows about a resource type: its API property names, the column behind each, and
 * their types. SQL identifiers are taken only from here, never from client text; the OData layer
 * (and later its $metadata) describes the same model.
 */
export type PropertyType = 'Edm.Guid' | 'Edm.String' | 'Edm.Boolean' | 'Edm.DateTimeOffset';

export interface PropertyModel {
  readonly name: string;
  readonly column: string;
  readonly type: PropertyType;
  readonly nullable: boolean;
  readonly maxLength?: number;
  /** Clients may set it (create, patch, replace, setter). */
  readonly writable: boolean;
}

export interface ResourceModel {
  /** Singular name used in messages: "Group 'ops' was not found". */
  readonly entityType: 'Group' | 'User';
  readonly entitySet: 'Groups' | 'Users';
  /** The path segment under the scope: `groups` / `users`. */
  readonly pathSegment: 'groups' | 'users';
  readonly table: 'groups' | 'users';
  /** The property that holds the resource's key (unique per scope, case-insensitively). */
  readonly keyProperty: 'groupKey' | 'userKey';
  readonly properties: readonly PropertyModel[];
}

const common = {
  id: { name: 'id', column: 'id', type: 'Edm.Guid', nullable: false, writable: false },
  name: { name: 'name', column: 'name', type: 'Edm.String', nullable: false, maxLength: 200, writable: true },
  email: { name: 'email', column: 'email', type: 'Edm.String', nullable: true, maxLength: 254, writable: true },
  isActive: { name: 'isActive', column: 'is_active', type: 'Edm.Boolean', nullable: false, writable: true },
  audit: [
    { name: 'createdOn', column: 'created_on', type: 'Edm.DateTimeOffset', nullable: false, writable: false },
    { name: 'modifiedOn', column: 'modified_on', type: 'Edm.DateTimeOffset', nullable: false, writable: false },
    { name: 'createdBy', column: 'created_by', type: 'Edm.String', nullable: true, writable: false },
    { name: 'modifiedBy', column: 'modified_by', type: 'Edm.String', nullable: true, writable: false },
  ],
} satisfies Record<string, PropertyModel | PropertyModel[]>;

export const GROUP_MODEL: ResourceModel = {
  entityType: 'Group',
  entitySet: 'Groups',
  pathSegment: 'groups',
  table: 'groups',
  keyProperty: 'groupKey',
  properties: [
    common.id,
    { name: 'groupKey', column: 'group_key', type: 'Edm.String', nullable: false, maxLength: 64, writable: true },
    common.name,
    common.email,
    { name: 'notes', column: 'notes', type: 'Edm.String', nullable: true, maxLength: 4000, writable: true },
    common.isActive,
    ...common.audit,
  ],
};

export const USER_MODEL: ResourceModel = {
  entityType: 'User',
  entitySet: 'Users',
  pathSegment: 'users',
  table: 'users',
  keyProperty: 'userKey',
  properties: [
    common.id,
    { name: 'userKey', column: 'user_key', type: 'Edm.String', nullable: false, maxLength: 64, writable: true },
    common.name,
    common.email,
    common.isActive,
    ...common.audit,
  ],
};

/** The properties shown for a related record in a member list (a group's users, a user's groups). */
export const SUMMARY_PROPERTIES = ['id', 'groupKey', 'userKey', 'name', 'email', 'isActive'] as const;

export function propertyOf(model: ResourceModel, name: string): PropertyModel {
  const property = model.properties.find((candidate) => candidate.name === name);
  if (!property) throw new Error(`${model.entityType} has no property ${name}`);
  return property;
}
