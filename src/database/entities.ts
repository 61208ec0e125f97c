import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/*
 * The schema as TypeORM entities. The tables are created and changed only by migrations (see
 * ./migrations); these classes describe them for TypeORM (and a test checks that migrations and
 * entities agree). Every table's keys lead with tenant_key, then org_key, so the schema can be
 * distributed by tenant. Reads and writes go through the repositories' SQL, not through these classes.
 */

@Entity({ name: 'groups' })
@Index('uq_groups_scope_group_key', { synchronize: false }) // unique (tenant_key, org_key, lower(group_key))
export class GroupEntity {
  @PrimaryColumn({ name: 'tenant_key', type: 'varchar', length: 64 })
  tenantKey: string;

  @PrimaryColumn({ name: 'org_key', type: 'varchar', length: 64 })
  orgKey: string;

  @PrimaryColumn({ type: 'uuid', default: () => 'gen_random_uuid()' })
  id: string;

  @Column({ name: 'group_key', type: 'varchar', length: 64 })
  groupKey: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'varchar', length: 254, nullable: true })
  email: string | null;

  @Column({ type: 'varchar', length: 4000, nullable: true })
  notes: string | null;

  @Column({ name: 'is_active', type: 'boolean', default: true })
  isActive: boolean;

  @Column({ name: 'created_on', type: 'timestamptz', default: () => 'now()' })
  createdOn: Date;

  @Column({ name: 'modified_on', type: 'timestamptz', default: () => 'now()' })
  modifiedOn: Date;

  @Column({ name: 'created_by', type: 'varchar', length: 255, nullable: true })
  createdBy: string | null;

  @Column({ name: 'modified_by', type: 'varchar', length: 255, nullable: true })
  modifiedBy: string | null;

  /** Incremented by every write; the ETag is derived from it. */
  @Column({ name: 'row_version', type: 'integer', default: 1 })
  rowVersion: number;
}

@Entity({ name: 'users' })
@Index('uq_users_scope_user_key', { synchronize: false }) // unique (tenant_key, org_key, lower(user_key))
export class UserEntity {
  @PrimaryColumn({ name: 'tenant_key', type: 'varchar', length: 64 })
  tenantKey: string;

  @PrimaryColumn({ name: 'org_key', type: 'varchar', length: 64 })
  orgKey: string;

  @PrimaryColumn({ type: 'uuid', default: () => 'gen_random_uuid()' })
  id: string;

  @Column({ name: 'user_key', type: 'varchar', length: 64 })
  userKey: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'varchar', length: 254, nullable: true })
  email: string | null;

  @Column({ name: 'is_active', type: 'boolean', default: true })
  isActive: boolean;

  @Column({ name: 'created_on', type: 'timestamptz', default: () => 'now()' })
  createdOn: Date;

  @Column({ name: 'modified_on', type: 'timestamptz', default: () => 'now()' })
  modifiedOn: Date;

  @Column({ name: 'created_by', type: 'varchar', length: 255, nullable: true })
  createdBy: string | null;

  @Column({ name: 'modified_by', type: 'varchar', length: 255, nullable: true })
  modifiedBy: string | null;

  @Column({ name: 'row_version', type: 'integer', default: 1 })
  rowVersion: number;
}

/** A user's membership of a group, both in the row's scope (the composite foreign keys enforce it). */
@Entity({ name: 'memberships' })
@Index('ix_memberships_member', ['tenantKey', 'orgKey', 'userId', 'groupId'])
export class MembershipEntity {
  @PrimaryColumn({ name: 'tenant_key', type: 'varchar', length: 64 })
  tenantKey: string;

  @PrimaryColumn({ name: 'org_key', type: 'varchar', length: 64 })
  orgKey: string;

  @PrimaryColumn({ name: 'group_id', type: 'uuid' })
  groupId: string;

  @PrimaryColumn({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ name: 'created_on', type: 'timestamptz', default: () => 'now()' })
  createdOn: Date;
}

export const ENTITIES = [GroupEntity, UserEntity, MembershipEntity];
