/**
 * The baseline's statements (bench/baseline-server.ts), on its own schema `ref`
 * (bench/reference-schema.ts). Written from the product contract (SPEC.md) for the exact responses
 * the bench asks for, not from the service's SQL. Each request is one named prepared statement.
 *
 * The JSON is made by PostgreSQL: `to_json(row)` of a sub-select whose column names are the API's
 * property names gives compact JSON in the service's property order; the server only concatenates
 * the texts (no row parsing, no Date objects, no JSON.stringify of rows). Timestamps are rendered as
 * JavaScript's `toISOString()` renders them (millisecond precision, `Z`), as the service does.
 */

/** A timestamptz as `2025-01-01T00:00:00.000Z`. */
function iso(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** A group's properties, API names, in the service's order (from the GroupResource shape). */
function groupRow(g: string): string {
  return `SELECT ${g}.id, ${g}.group_key AS "groupKey", ${g}.name, ${g}.email, ${g}.notes, ${g}.is_active AS "isActive",
    ${iso(`${g}.created_on`)} AS "createdOn", ${iso(`${g}.modified_on`)} AS "modifiedOn", ${g}.created_by AS "createdBy", ${g}.modified_by AS "modifiedBy"`;
}

function userRow(u: string): string {
  return `SELECT ${u}.id, ${u}.user_key AS "userKey", ${u}.name, ${u}.email, ${u}.is_active AS "isActive",
    ${iso(`${u}.created_on`)} AS "createdOn", ${iso(`${u}.modified_on`)} AS "modifiedOn", ${u}.created_by AS "createdBy", ${u}.modified_by AS "modifiedBy"`;
}

/** The members shown inline in a group: a summary of each. */
function memberSummary(u: string): string {
  return `${u}.id, ${u}.user_key AS "userKey", ${u}.name, ${u}.email, ${u}.is_active AS "isActive"`;
}

export interface Statement {
  readonly name: string;
  readonly text: string;
}

function statement(name: string, text: string): Statement {
  return { name: `ref_${name}`, text };
}

/** How many members a group's GET shows inline (SPEC §3). */
export const INLINE_MEMBERS = 1000;

/**
 * W1 GET /groups/{groupKey}: the group, its first 1,000 members (userKey order, then id) as
 * summaries, and their number. $1 tenant, $2 org, $3 key. No row: not found.
 */
export const GROUP_BY_KEY = statement(
  'group_by_key',
  `SELECT to_json(r)::text AS body, c.n AS count, mem.list
     FROM ref.groups g
    CROSS JOIN LATERAL (${groupRow('g')}) r
    CROSS JOIN LATERAL (SELECT count(*)::int AS n FROM ref.memberships m
                         WHERE m.tenant_key = $1 AND m.org_key = $2 AND m.group_id = g.id) c
    CROSS JOIN LATERAL (
      SELECT string_agg(to_json(s)::text, ',' ORDER BY s."userKey" COLLATE "C", s.id) AS list
        FROM (SELECT ${memberSummary('u')}
                FROM ref.memberships m
                JOIN ref.users u ON u.tenant_key = m.tenant_key AND u.org_key = m.org_key AND u.id = m.user_id
               WHERE m.tenant_key = $1 AND m.org_key = $2 AND m.group_id = g.id
               ORDER BY u.user_key COLLATE "C", u.id
               LIMIT ${INLINE_MEMBERS}) s) mem
    WHERE g.tenant_key = $1 AND g.org_key = $2 AND lower(g.group_key) = lower($3)`,
);

/**
 * W2 `$filter=contains(name,'x')&$orderby=name&$top=N&$count=true`. $3 the LIKE pattern
 * (case-sensitive, as OData's `contains`), $4 the page size. The matches' (id, name) are collected
 * once (one bitmap scan of the scope-and-trigram GIN index); the count and the first N come from that set, and
 * only those N rows are read in full.
 */
export const SEARCH_NAME_COUNT = statement(
  'search_name_count',
  `WITH hit AS MATERIALIZED (
     SELECT g.id, g.name FROM ref.groups g WHERE g.tenant_key = $1 AND g.org_key = $2 AND g.name LIKE $3)
   SELECT (SELECT count(*)::int FROM hit) AS count,
          (SELECT string_agg(to_json(r)::text, ',' ORDER BY p.name COLLATE "C", p.id)
             FROM (SELECT id, name FROM hit ORDER BY name COLLATE "C", id LIMIT $4) p
            CROSS JOIN LATERAL (${groupRow('g')} FROM ref.groups g WHERE g.tenant_key = $1 AND g.org_key = $2 AND g.id = p.id LIMIT 1) r) AS list`,
);

/** W2 without `$count`: the first N matches in name order (a top-N sort of the matches). */
export const SEARCH_NAME = statement(
  'search_name',
  `SELECT string_agg(to_json(r)::text, ',' ORDER BY p.name COLLATE "C", p.id) AS list
     FROM (SELECT g.id, g.name FROM ref.groups g WHERE g.tenant_key = $1 AND g.org_key = $2 AND g.name LIKE $3
            ORDER BY g.name COLLATE "C", g.id LIMIT $4) p
     JOIN ref.groups g ON g.tenant_key = $1 AND g.org_key = $2 AND g.id = p.id
    CROSS JOIN LATERAL (${groupRow('g')}) r`,
);

/** How many members `$expand=users` shows per group (the service's default page). */
export const EXPAND_PAGE = 100;

/**
 * W3 `$filter=groupKey eq 'k'&$expand=users`: OData `eq` is case-sensitive, the key unique
 * case-insensitively, so the unique lower(key) index finds the one candidate and `=` checks it.
 * Each group with its first members (all properties), userKey order.
 */
export const GROUP_KEY_EQ_EXPAND = statement(
  'group_key_eq_expand',
  `SELECT to_json(r)::text AS body, mem.list
     FROM ref.groups g
    CROSS JOIN LATERAL (${groupRow('g')}) r
    CROSS JOIN LATERAL (
      SELECT string_agg(to_json(s)::text, ',' ORDER BY s."userKey" COLLATE "C", s.id) AS list
        FROM (${userRow('u')}
                FROM ref.memberships m
                JOIN ref.users u ON u.tenant_key = m.tenant_key AND u.org_key = m.org_key AND u.id = m.user_id
               WHERE m.tenant_key = $1 AND m.org_key = $2 AND m.group_id = g.id
               ORDER BY u.user_key COLLATE "C", u.id
               LIMIT ${EXPAND_PAGE}) s) mem
    WHERE g.tenant_key = $1 AND g.org_key = $2 AND lower(g.group_key) = lower($3) AND g.group_key = $3`,
);

/** W4 first page, `$orderby=groupKey`: $3 rows (the page, plus one to know whether more follow). */
export const GROUPS_BY_KEY_FIRST = statement(
  'groups_by_key_first',
  `SELECT to_json(r)::text AS body, g.group_key AS key, g.id
     FROM ref.groups g CROSS JOIN LATERAL (${groupRow('g')}) r
    WHERE g.tenant_key = $1 AND g.org_key = $2
    ORDER BY g.group_key COLLATE "C", g.id
    LIMIT $3`,
);

/** W4a: the rows after ($3 key, $4 id) in key order: a keyset page, one index range scan. */
export const GROUPS_BY_KEY_AFTER = statement(
  'groups_by_key_after',
  `SELECT to_json(r)::text AS body, g.group_key AS key, g.id
     FROM ref.groups g CROSS JOIN LATERAL (${groupRow('g')}) r
    WHERE g.tenant_key = $1 AND g.org_key = $2 AND (g.group_key COLLATE "C", g.id) > ($3::text COLLATE "C", $4::uuid)
    ORDER BY g.group_key COLLATE "C", g.id
    LIMIT $5`,
);

/**
 * W4b `$skip=$3&$top=$4`: OFFSET cannot be avoided, but it can walk the narrow key-order index
 * alone (index-only: key and id are in it) and read the full rows of the page only (deferred join).
 * The page's rows are read through a LATERAL sub-select, i.e. always as a nested loop of primary-key
 * lookups (`LIMIT 1` keeps the planner from flattening it into a join): with a join, the generic
 * plan (which cannot see $4) takes LIMIT for 10% of the scope and hashes the whole scope's rows
 * (38 ms instead of 8 ms at M).
 */
export const GROUPS_BY_KEY_OFFSET = statement(
  'groups_by_key_offset',
  `SELECT r.body, k.group_key AS key, k.id
     FROM (SELECT id, group_key FROM ref.groups
            WHERE tenant_key = $1 AND org_key = $2
            ORDER BY group_key COLLATE "C", id
            OFFSET $3 LIMIT $4) k
    CROSS JOIN LATERAL (SELECT to_json(x)::text AS body FROM ref.groups g CROSS JOIN LATERAL (${groupRow('g')}) x
                         WHERE g.tenant_key = $1 AND g.org_key = $2 AND g.id = k.id LIMIT 1) r
    ORDER BY k.group_key COLLATE "C", k.id`,
);

/**
 * W5 POST /groups: the unique lower(key) index decides a duplicate (no row back → 409). Returns
 * the new row's representation (its ETag).
 */
export const INSERT_GROUP = statement(
  'insert_group',
  `INSERT INTO ref.groups AS g (tenant_key, org_key, group_key, name, email, notes, is_active, created_by, modified_by)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
   ON CONFLICT DO NOTHING
   RETURNING g.id, (SELECT to_json(r)::text FROM (${groupRow('g')}) r) AS body`,
);

/**
 * W6/W8 POST /groups/{groupKey}/users/add: one statement, hence one transaction. The group is locked
 * (concurrent changes to one group serialize); the keys are resolved case-insensitively
 * (index-only on the unique lower(key) index, which includes the id); nothing is inserted when any
 * key is unknown; new pairs go in (existing ones are left, idempotent); the group's modifiedOn and
 * row version move only when something was added. $3 group key, $4 text[] userKeys, $5 actor.
 * Result: group_id null → 404; unknown not null → 400; else added, and unchanged = distinct − added.
 */
export const ADD_MEMBERS_BY_KEY = statement(
  'add_members_by_key',
  `WITH g AS (
     SELECT id FROM ref.groups WHERE tenant_key = $1 AND org_key = $2 AND lower(group_key) = lower($3) FOR UPDATE),
   k AS (
     SELECT k.key, u.id FROM unnest($4::text[]) AS k(key)
       LEFT JOIN ref.users u ON u.tenant_key = $1 AND u.org_key = $2 AND lower(u.user_key) = lower(k.key)),
   ins AS (
     INSERT INTO ref.memberships (tenant_key, org_key, group_id, user_id)
     SELECT DISTINCT $1::text, $2::text, g.id, k.id FROM g, k
      WHERE k.id IS NOT NULL AND NOT EXISTS (SELECT FROM k WHERE k.id IS NULL)
      ORDER BY k.id
     ON CONFLICT DO NOTHING
     RETURNING 1),
   bump AS (
     UPDATE ref.groups SET modified_on = now(), modified_by = $5, row_version = row_version + 1
      WHERE tenant_key = $1 AND org_key = $2 AND id = (SELECT id FROM g) AND EXISTS (SELECT FROM ins)
     RETURNING 1)
   SELECT (SELECT id FROM g) AS group_id,
          (SELECT count(*)::int FROM ins) AS added,
          (SELECT count(DISTINCT id)::int FROM k) AS resolved,
          (SELECT array_agg(key) FROM k WHERE id IS NULL) AS unknown`,
);

/**
 * W7 GET /users/{userKey}/groups: the user's groups (all properties), groupKey order, $4 rows (a
 * page of 100 and one more). One row with a null body: the user is in no group; no row: no user.
 */
export const USER_GROUPS = statement(
  'user_groups',
  `SELECT u.id AS user_id, x.body, x.key, x.id
     FROM ref.users u
     LEFT JOIN LATERAL (
       SELECT to_json(r)::text AS body, g.group_key AS key, g.id
         FROM ref.memberships m
         JOIN ref.groups g ON g.tenant_key = m.tenant_key AND g.org_key = m.org_key AND g.id = m.group_id
        CROSS JOIN LATERAL (${groupRow('g')}) r
        WHERE m.tenant_key = $1 AND m.org_key = $2 AND m.user_id = u.id
        ORDER BY g.group_key COLLATE "C", g.id
        LIMIT $4) x ON true
    WHERE u.tenant_key = $1 AND u.org_key = $2 AND lower(u.user_key) = lower($3)
    ORDER BY x.key COLLATE "C", x.id`,
);

export const STATEMENTS: readonly Statement[] = [
  GROUP_BY_KEY,
  SEARCH_NAME_COUNT,
  SEARCH_NAME,
  GROUP_KEY_EQ_EXPAND,
  GROUPS_BY_KEY_FIRST,
  GROUPS_BY_KEY_AFTER,
  GROUPS_BY_KEY_OFFSET,
  INSERT_GROUP,
  ADD_MEMBERS_BY_KEY,
  USER_GROUPS,
];
