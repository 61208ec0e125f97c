import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Groups, users and memberships, each row scoped by (tenant_key, org_key). */
export class InitialSchema1764115200000 implements MigrationInterface {
  name = 'InitialSchema1764115200000';

  async up(db: QueryRunner): Promise<void> {
    for (const [table, keyColumn, extra] of [
      ['groups', 'group_key', 'notes varchar(4000),'],
      ['users', 'user_key', ''],
    ] as const) {
      await db.query(`
        CREATE TABLE ${table} (
          tenant_key  varchar(64)  NOT NULL,
          org_key     varchar(64)  NOT NULL,
          id          uuid         NOT NULL DEFAULT gen_random_uuid(),
          ${keyColumn} varchar(64) NOT NULL,
          name        varchar(200) NOT NULL,
          email       varchar(254),
          ${extra}
          is_active   boolean      NOT NULL DEFAULT true,
          created_on  timestamptz  NOT NULL DEFAULT now(),
          modified_on timestamptz  NOT NULL DEFAULT now(),
          created_by  varchar(255),
          modified_by varchar(255),
          row_version integer      NOT NULL DEFAULT 1,
          CONSTRAINT pk_${table} PRIMARY KEY (tenant_key, org_key, id)
        )`);
      // Keys are unique per scope case-insensitively; the index also serves lookups by key and the
      // default list order.
      await db.query(
        `CREATE UNIQUE INDEX uq_${table}_scope_${keyColumn} ON ${table} (tenant_key, org_key, lower(${keyColumn}))`,
      );
    }
    await db.query(`
      CREATE TABLE memberships (
        tenant_key varchar(64) NOT NULL,
        org_key    varchar(64) NOT NULL,
        group_id   uuid        NOT NULL,
        user_id    uuid        NOT NULL,
        created_on timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_memberships PRIMARY KEY (tenant_key, org_key, group_id, user_id),
        CONSTRAINT fk_memberships_group FOREIGN KEY (tenant_key, org_key, group_id)
          REFERENCES groups (tenant_key, org_key, id) ON DELETE CASCADE,
        CONSTRAINT fk_memberships_user FOREIGN KEY (tenant_key, org_key, user_id)
          REFERENCES users (tenant_key, org_key, id) ON DELETE CASCADE
      )`);
    // member → groups (the primary key serves group → members).
    await db.query(`CREATE INDEX ix_memberships_member ON memberships (tenant_key, org_key, user_id, group_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE memberships');
    await db.query('DROP TABLE users');
    await db.query('DROP TABLE groups');
  }
}
