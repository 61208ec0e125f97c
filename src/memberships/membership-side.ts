import { GROUP_MODEL, ResourceModel, USER_MODEL } from '../resources/resource-model.js';

/**
 * Memberships seen from one end: a group's users, or a user's groups. The same repository and service
 * code serve both directions by reading the columns from here.
 */
export interface MembershipSide {
  readonly owner: ResourceModel;
  readonly member: ResourceModel;
  readonly ownerColumn: 'group_id' | 'user_id';
  readonly memberColumn: 'group_id' | 'user_id';
  /** The navigation property on the owner: `users` on a group, `groups` on a user. */
  readonly navigation: 'users' | 'groups';
}

export const GROUP_USERS: MembershipSide = {
  owner: GROUP_MODEL,
  member: USER_MODEL,
  ownerColumn: 'group_id',
  memberColumn: 'user_id',
  navigation: 'users',
};

export const USER_GROUPS: MembershipSide = {
  owner: USER_MODEL,
  member: GROUP_MODEL,
  ownerColumn: 'user_id',
  memberColumn: 'group_id',
  navigation: 'groups',
};
