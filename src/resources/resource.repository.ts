import { ScopedRepository } from '../database/scoped-repository.js';
import type { CompiledCollectionQuery } from '../odata/compile-query.js';
import { jsonValue } from '../odata/compile-select.js';
import { limitClause } from '../odata/sql.js';
import type { TableStatistics } from '../database/table-statistics.js';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { Scope } from '../tenancy/scope.js';
import { PropertyModel, propertyOf, ResourceModel } from './resource-model.js';

/** A stored record: the model's properties by API name, plus its row version. */
export type ResourceRow = Record<string, unknown> & { id: string; rowVersion: number };

export interface FindOptions {
  /** Lock the row for the rest of the transaction (read-modify-write). */
  lock?: boolean;
  /**
   * More select items over the record, aliased `o` (e.g. its member count and first members, so a
   * GET is one statement), with their parameters: they are bound from $4 on. They land in the row
   * (typed by the caller as `Extra`).
   */
  columns?: { sql: string; params: readonly unknown[] };
}

export interface CollectionRows {
  rows: Record<string, unknown>[];
  /** The total the query matches, when it asked for `$count`. */
  count?: number;
}

/** A reference (key or id) as the client gave it, and the id it resolved to in the scope. */
export interface Resolved {
  input: string;
  id: string | null;
}

/**
 * SQL for one resource table (groups or users), generated from its model. Values are always bound
 * parameters; identifiers come only from the model.
 */
export class ResourceRepository extends ScopedRepository {
  /** The record's properties and row version, for the table aliased `r`, and aliased `o` (finds). */
  private readonly selectList: string;
  private readonly ownerSelectList: string;
  private readonly keyColumn: string;

  constructor(
    uow: UnitOfWork,
    private readonly model: ResourceModel,
    private readonly statistics: TableStatistics,
  ) {
    super(uow);
    const selectList = (alias: string) =>
      [...model.properties.map((property) => `${alias}.${property.column} AS "${property.name}"`), `${alias}.row_version AS "rowVersion"`].join(', ');
    this.selectList = selectList('r');
    this.ownerSelectList = selectList('o');
    this.keyColumn = propertyOf(model, model.keyProperty).column;
  }

  /**
   * By id when `idOrKey` is a UUID that some record has as its id, else by key (case-insensitive).
   * `lock` takes a row lock for the rest of the transaction (writes read-modify-write under it).
   */
  async findByIdOrKey<Extra extends object = object>(scope: Scope, idOrKey: string, options: FindOptions = {}): Promise<(ResourceRow & Extra) | undefined> {
    // NO KEY UPDATE: excludes other writers of this row but not the KEY SHARE locks that foreign-key
    // checks of new memberships take, so group-side and user-side membership writes cannot deadlock.
    const lock = options.lock ? ' FOR NO KEY UPDATE' : '';
    const items = options.columns ? `${this.ownerSelectList}, ${options.columns.sql}` : this.ownerSelectList;
    const params = [idOrKey, ...(options.columns?.params ?? [])];
    if (isUuid(idOrKey)) {
      const byId = await this.run<ResourceRow & Extra>(
        scope,
        `SELECT ${items} FROM ${this.model.table} o WHERE ${this.scoped('o')} AND o.id = $3${lock}`,
        params,
      );
      if (byId.rows[0]) return byId.rows[0];
    }
    const byKey = await this.run<ResourceRow & Extra>(
      scope,
      `SELECT ${items} FROM ${this.model.table} o WHERE ${this.scoped('o')} AND lower(o.${this.keyColumn}) = lower($3)${lock}`,
      params,
    );
    return byKey.rows[0];
  }

  /**
   * The record's representation as JSON text, written by PostgreSQL — byte for byte what
   * `JSON.stringify` makes of the representation the service builds (its properties in model order,
   * timestamps as `toISOString` writes them, then `members` select items in their order) — when
   * `inlineLimit` or fewer members make it complete; `null` when it has more (the representation then
   * needs a next link); `undefined` when there is no such record. A single-resource GET then passes
   * the text through, instead of parsing its rows and serializing them again.
   */
  async findRepresentationJson(
    scope: Scope,
    idOrKey: string,
    members: { sql: (ownerId: string) => string; params: readonly unknown[]; countColumn: string },
    inlineLimit: number,
  ): Promise<string | null | undefined> {
    const properties = this.model.properties.map((property) => `${jsonValue(property, 'w')} AS "${property.name}"`);
    const { rows } = await this.run<{ json: string | null }>(
      scope,
      `SELECT CASE WHEN x."${members.countColumn}" <= ${inlineLimit} THEN row_to_json(x)::text END AS json
         FROM (SELECT ${properties.join(', ')}, ${members.sql('w.id')}
                 FROM ${this.model.table} w WHERE ${this.scoped('w')} AND w.id = (${this.ownerLookup(idOrKey)})) x`,
      [idOrKey, ...members.params],
    );
    return rows.length === 0 ? undefined : rows[0]!.json;
  }

  /**
   * A statement selecting the id (`o.id`) of the record `findByIdOrKey` finds for the reference bound
   * as `$3`: by id when it is a UUID some record has as its id, else by key — to embed in a statement
   * that reads more about that record (e.g. a page of its members) in the same round trip.
   */
  ownerLookup(idOrKey: string): string {
    const byKey = `lower(o.${this.keyColumn}) = lower($3::text)`;
    return isUuid(idOrKey)
      ? `SELECT o.id FROM ${this.model.table} o WHERE ${this.scoped('o')} AND (o.id = $3::text::uuid OR ${byKey}) ORDER BY o.id = $3::text::uuid DESC LIMIT 1`
      : `SELECT o.id FROM ${this.model.table} o WHERE ${this.scoped('o')} AND ${byKey}`;
  }

  /** One page in key order (case-insensitive, ties by id). Asks for one row more to tell if more exist. */
  async list(scope: Scope, limit: number, offset: number): Promise<ResourceRow[]> {
    const { rows } = await this.run<ResourceRow>(
      scope,
      `SELECT ${this.selectList} FROM ${this.model.table} r WHERE ${this.scoped('r')}
        ORDER BY lower(r.${this.keyColumn}), r.id ${limitClause(limit, offset)}`,
    );
    return rows;
  }

  /** One page of an OData collection query (compiled for alias `r`, parameters from $3). */
  collection(scope: Scope, query: CompiledCollectionQuery): Promise<CollectionRows> {
    return this.runCollection(scope, query, this.collectionScope(query), []);
  }

  /** The number of rows an OData query matches (`$count=true`, `/$count`). */
  async collectionCount(scope: Scope, query: CompiledCollectionQuery): Promise<number> {
    const { rows } = await this.run<{ count: string }>(scope, query.countStatement(this.collectionScope(query)), query.countParams);
    return Number(rows[0]!.count);
  }

  /** The scope predicate for alias `r`: the search index's form when the query matches text. */
  private collectionScope(query: CompiledCollectionQuery): string {
    return query.matchesText ? this.searchScoped('r') : this.scoped('r');
  }

  /**
   * Each of `keys`, in the order given, with the id of the record that has it (case-insensitively, by Postgres's own
   * `lower()`, the one the unique index uses), or null when none in the scope has it.
   */
  async resolveKeys(scope: Scope, keys: readonly string[]): Promise<Resolved[]> {
    if (keys.length === 0) return [];
    const { rows } = await this.run<Resolved>(
      scope,
      `SELECT k.input, r.id FROM unnest($3::text[]) WITH ORDINALITY AS k(input, position)
         LEFT JOIN ${this.model.table} r ON ${this.scoped('r')} AND lower(r.${this.keyColumn}) = lower(k.input)
        ORDER BY k.position`,
      [keys],
    );
    return rows;
  }

  /** Each of `ids` (in the order given) with itself when a record of the scope has it, or null. */
  async resolveIds(scope: Scope, ids: readonly string[]): Promise<Resolved[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.run<Resolved>(
      scope,
      `SELECT k.input, r.id FROM unnest($3::uuid[]) WITH ORDINALITY AS k(input, position)
         LEFT JOIN ${this.model.table} r ON ${this.scoped('r')} AND r.id = k.input
        ORDER BY k.position`,
      [ids],
    );
    return rows;
  }

  async insert(scope: Scope, values: Record<string, unknown>, actor: string | null): Promise<ResourceRow> {
    const { names, placeholders, params } = this.insertColumns(values, actor);
    const { rows } = await this.run<ResourceRow>(
      scope,
      `INSERT INTO ${this.model.table} AS r (${names.join(', ')}) VALUES (${placeholders.join(', ')})
       RETURNING ${this.selectList}`,
      params,
    );
    this.statistics.noteWrites(this.model.table, 1);
    return rows[0]!;
  }

  /**
   * Inserts the record and its memberships to the members given by key, in one statement: no
   * BEGIN/COMMIT and no separate key resolution (a create with members was six round trips, the
   * bulk of loading a tenant through the API). The keys are resolved inside it (each by the
   * members' unique key index), and the record is inserted only when every key is known — one
   * statement is atomic, so nothing is written otherwise, and the unknown keys come back in order.
   * The memberships insert reads the new record from the first insert's RETURNING; their foreign
   * keys are checked at the end of the statement, when the record exists.
   */
  async insertWithMembers(
    scope: Scope,
    values: Record<string, unknown>,
    actor: string | null,
    link: { readonly memberTable: string; readonly memberKeyColumn: string; readonly ownerColumn: string; readonly memberColumn: string },
    memberKeys: readonly string[],
  ): Promise<{ row: ResourceRow; added: number } | { unknown: string[] }> {
    // INSERT … SELECT (for its WHERE) does not infer parameter types from the columns as VALUES does.
    const { names, placeholders, params } = this.insertColumns(values, actor, { typed: true });
    const keysParam = `$${params.length + 3}`;
    const { rows } = await this.run<ResourceRow & { __added: number | null; __unknown: string[] | null }>(
      scope,
      `WITH k AS (
         SELECT k.input, k.position, m.id FROM unnest(${keysParam}::text[]) WITH ORDINALITY AS k(input, position)
           LEFT JOIN ${link.memberTable} m ON ${this.scoped('m')} AND lower(m.${link.memberKeyColumn}) = lower(k.input)
       ), created AS (
         INSERT INTO ${this.model.table} AS r (${names.join(', ')})
         SELECT ${placeholders.join(', ')}
          WHERE NOT EXISTS (SELECT 1 FROM k WHERE k.id IS NULL)
         RETURNING ${this.selectList}
       ), added AS (
         INSERT INTO memberships (tenant_key, org_key, ${link.ownerColumn}, ${link.memberColumn})
         SELECT $1, $2, c.id, d.id FROM created c CROSS JOIN (SELECT DISTINCT k.id FROM k) d ORDER BY d.id
         ON CONFLICT DO NOTHING
         RETURNING 1
       )
       SELECT c.*, (SELECT count(*)::int FROM added) AS "__added",
              (SELECT array_agg(k.input ORDER BY k.position) FROM k WHERE k.id IS NULL) AS "__unknown"
         FROM (SELECT 1) AS one LEFT JOIN created c ON TRUE`,
      [...params, memberKeys],
    );
    const { __added: added, __unknown: unknown, ...row } = rows[0]!;
    if (unknown && unknown.length > 0) return { unknown };
    this.statistics.noteWrites(this.model.table, 1);
    this.statistics.noteWrites('memberships', added ?? 0);
    return { row: row as ResourceRow, added: added ?? 0 };
  }

  /** Sets the given properties (an empty set still counts as a write: version and modifiedOn move). */
  async update(scope: Scope, id: string, values: Record<string, unknown>, actor: string | null): Promise<ResourceRow | undefined> {
    const columns = this.writableEntries(values);
    const assignments = columns.map(([property], index) => `${property.column} = $${index + 5}`);
    const { rows } = await this.run<ResourceRow>(
      scope,
      `UPDATE ${this.model.table} AS r
          SET ${[...assignments, `modified_on = ${NOW}`, 'modified_by = $4', 'row_version = r.row_version + 1'].join(', ')}
        WHERE ${this.scoped('r')} AND r.id = $3
        RETURNING ${this.selectList}`,
      [id, actor, ...columns.map(([, value]) => value)],
    );
    return rows[0];
  }

  async delete(scope: Scope, id: string): Promise<boolean> {
    const { rowCount } = await this.run(scope, `DELETE FROM ${this.model.table} r WHERE ${this.scoped('r')} AND r.id = $3`, [id]);
    this.statistics.noteWrites(this.model.table, rowCount);
    return rowCount > 0;
  }

  /**
   * The columns, value expressions and parameters (from $3) of an INSERT of `values` by `actor`; with
   * `typed`, each parameter carries its column's type (for INSERT … SELECT, which cannot infer it).
   */
  private insertColumns(values: Record<string, unknown>, actor: string | null, { typed = false } = {}) {
    const columns = this.writableEntries(values);
    const cast = (type: string) => (typed ? `::${type}` : '');
    const actorParam = `$${columns.length + 3}${cast('text')}`;
    return {
      names: ['tenant_key', 'org_key', ...columns.map(([property]) => property.column), 'created_by', 'modified_by', 'created_on', 'modified_on'],
      placeholders: ['$1', '$2', ...columns.map(([property], index) => `$${index + 3}${cast(SQL_TYPE_OF[property.type] ?? 'text')}`), actorParam, actorParam, NOW, NOW],
      params: [...columns.map(([, value]) => value), actor],
    };
  }

  private writableEntries(values: Record<string, unknown>): Array<[PropertyModel, unknown]> {
    return Object.entries(values)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => {
        const property = propertyOf(this.model, name);
        if (!property.writable) throw new Error(`${this.model.entityType}.${name} is not writable`);
        return [property, value];
      });
  }
}

/**
 * Timestamps are kept at the precision the API shows and `$metadata` declares (milliseconds), so a
 * value read back compares equal to itself in `$filter` (PostgreSQL's now() has microseconds).
 */
const NOW = "date_trunc('milliseconds', now())";

/** The column type of each writable property type, for parameters PostgreSQL cannot infer. */
const SQL_TYPE_OF: Partial<Record<PropertyModel['type'], string>> = {
  'Edm.String': 'text',
  'Edm.Boolean': 'boolean',
  'Edm.Guid': 'uuid',
  'Edm.DateTimeOffset': 'timestamptz',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
