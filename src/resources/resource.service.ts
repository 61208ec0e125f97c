import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { etagOf, ifMatchSatisfied } from '../common/http/etag.js';
import type { ReferenceKind } from '../common/validation/reference-list.js';
import { UnitOfWork } from '../database/unit-of-work.js';
import type { MembershipSide } from '../memberships/membership-side.js';
import { MemberPage, MembershipsRepository } from '../memberships/memberships.repository.js';
import { CompiledQueryCache } from '../odata/query-cache.js';
import { collectionBody, ODataCollection } from '../odata/collection-body.js';
import { CompiledCollectionQuery, compileCollectionQuery } from '../odata/compile-query.js';
import { hasSystemOption, RawQuery } from '../odata/parse-query.js';
import { Scope, scopeBasePath } from '../tenancy/scope.js';
import { propertyOf, SUMMARY_PROPERTIES } from './resource-model.js';
import { FindOptions, ResourceRepository, ResourceRow } from './resource.repository.js';

/** How many members a single-resource GET shows inline; the rest are one link away. */
export const INLINE_MEMBERS = 1000;

/** A resource as the API shows it: its properties, without internal columns. */
export type Resource = Record<string, unknown> & { id: string };

/** What a membership call changed (SPEC §3), so a caller needs no second read. */
export type MembershipOutcome = { added: number; unchanged: number } | { removed: number; unchanged: number };

export interface Page {
  items: Resource[];
  hasMore: boolean;
}

/**
 * The rules shared by groups and users, which mirror each other: a group has users, a user has
 * groups. Subclasses bind the owner model and the membership direction. Every write is one
 * transaction; reads of a resource and its members happen within the caller's scope only.
 */
export abstract class ResourceService {
  protected constructor(
    protected readonly uow: UnitOfWork,
    protected readonly owners: ResourceRepository,
    protected readonly members: ResourceRepository,
    protected readonly memberships: MembershipsRepository,
    protected readonly side: MembershipSide,
    protected readonly queries: CompiledQueryCache,
  ) {}

  async list(scope: Scope, page: number, pageSize: number): Promise<Page> {
    const rows = await this.owners.list(scope, pageSize + 1, (page - 1) * pageSize);
    return { items: rows.slice(0, pageSize).map(toResource), hasMore: rows.length > pageSize };
  }

  /**
   * The OData collection (`/odata`): the request's query options compiled against the resource
   * model; `maxPageSize` from `Prefer: odata.maxpagesize` (server default 100).
   */
  async query(scope: Scope, rawQuery: RawQuery, maxPageSize?: number): Promise<ODataCollection<Resource>> {
    const query = this.queries.compile(rawQuery, this.side.owner, { maxPageSize });
    const { rows, count } = await this.owners.collection(scope, query);
    return collectionBody(rows, query, count, {
      context: `${scopeBasePath(scope)}/$metadata#${this.side.owner.entitySet}`,
      selfPath: `${this.collectionPath(scope)}/odata`,
    });
  }

  /** `/odata/$count`: how many records the query's $filter/$search match. */
  async count(scope: Scope, rawQuery: RawQuery): Promise<number> {
    return this.owners.collectionCount(scope, this.queries.compile(rawQuery, this.side.owner));
  }

  /** The resource with its first members inline, their total, and a link to the rest: one statement. */
  async get(scope: Scope, idOrKey: string): Promise<Resource> {
    const { memberCount, memberRows, ...row } = await this.findOrFail<MemberPage>(scope, idOrKey, { columns: this.inlineMembers.columns });
    return this.withMemberPage(scope, row, { memberCount, memberRows });
  }

  /**
   * The same representation as `get`, as the JSON text to send: written by PostgreSQL in the one
   * statement (no rows to parse, no object to serialize) unless the resource has more members than
   * are shown inline, which needs a next link built here.
   */
  async getJson(scope: Scope, idOrKey: string): Promise<string> {
    const { query } = this.inlineMembers;
    const json = await this.owners.findRepresentationJson(
      scope,
      idOrKey,
      { sql: (ownerId) => this.memberships.representationColumns(this.side, ownerId, query), params: query.params, countColumn: `${this.side.navigation}Count` },
      INLINE_MEMBERS,
    );
    if (json === undefined) throw AppError.notFound(this.side.owner.entityType, idOrKey);
    return json ?? JSON.stringify(await this.get(scope, idOrKey));
  }

  /** Creates the resource with its first members; returns its representation. */
  async create(scope: Scope, values: Record<string, unknown>, memberKeys: string[] | undefined, actor: string | null): Promise<Resource> {
    if (!memberKeys || memberKeys.length === 0) {
      // One INSERT is atomic by itself: no BEGIN and COMMIT round trips, and the representation
      // (no members yet) is known without reading anything back.
      return this.representation(await this.owners.insert(scope, values, actor), [], 0);
    }
    // One statement resolves the keys and inserts the record with its memberships (see
    // insertWithMembers); then one more reads the representation back.
    const created = await this.owners.insertWithMembers(scope, values, actor, this.memberLink, memberKeys);
    if ('unknown' in created) throw this.unknownReferences(created.unknown, 'key');
    return this.withMembers(scope, created.row);
  }

  /** Sets the given properties (PATCH, and the single-property setters). */
  async update(
    scope: Scope,
    idOrKey: string,
    values: Record<string, unknown>,
    actor: string | null,
    ifMatch?: string,
  ): Promise<Resource> {
    const row = await this.uow.transaction(scope, async (scope) => {
      const current = await this.findForWrite(scope, idOrKey, ifMatch);
      return (await this.owners.update(scope, current.id, values, actor))!;
    });
    return this.withMembers(scope, row);
  }

  /** Replaces every writable property and the member set (PUT). */
  async replace(
    scope: Scope,
    idOrKey: string,
    values: Record<string, unknown>,
    memberKeys: string[],
    actor: string | null,
    ifMatch?: string,
  ): Promise<Resource> {
    const row = await this.uow.transaction(scope, async (scope) => {
      const current = await this.findForWrite(scope, idOrKey, ifMatch);
      const memberIds = await this.resolveMembers(scope, memberKeys, 'key');
      await this.memberships.replace(scope, this.side, current.id, memberIds);
      return (await this.owners.update(scope, current.id, values, actor))!;
    });
    return this.withMembers(scope, row);
  }

  async delete(scope: Scope, idOrKey: string, ifMatch?: string): Promise<void> {
    await this.uow.transaction(scope, async (scope) => {
      const current = await this.findForWrite(scope, idOrKey, ifMatch);
      await this.owners.delete(scope, current.id);
    });
  }

  /** Adds or removes members given by key or id. Unknown references fail the whole call. */
  async changeMembers(
    scope: Scope,
    idOrKey: string,
    change: 'add' | 'remove',
    references: string[],
    kind: ReferenceKind,
    actor: string | null,
    ifMatch?: string,
  ): Promise<{ outcome: MembershipOutcome; resource: Resource }> {
    const { outcome, owner } = await this.uow.transaction(scope, async (scope) => {
      const owner = await this.findForWrite(scope, idOrKey, ifMatch);
      const memberIds = await this.resolveMembers(scope, references, kind);
      const changed =
        change === 'add'
          ? await this.memberships.add(scope, this.side, owner.id, memberIds)
          : await this.memberships.remove(scope, this.side, owner.id, memberIds);
      const updated = changed > 0 ? (await this.owners.update(scope, owner.id, {}, actor))! : owner;
      const unchanged = memberIds.length - changed;
      const outcome: MembershipOutcome = change === 'add' ? { added: changed, unchanged } : { removed: changed, unchanged };
      return { outcome, owner: updated };
    });
    return { outcome, resource: await this.withMembers(scope, owner) };
  }

  /** Makes the members exactly those given by key (e.g. PUT /users/{userKey}/groups). */
  async replaceMembers(
    scope: Scope,
    idOrKey: string,
    memberKeys: string[],
    actor: string | null,
    ifMatch?: string,
  ): Promise<{ outcome: { added: number; removed: number; unchanged: number }; resource: Resource }> {
    const { outcome, owner } = await this.uow.transaction(scope, async (scope) => {
      const owner = await this.findForWrite(scope, idOrKey, ifMatch);
      const memberIds = await this.resolveMembers(scope, memberKeys, 'key');
      const { added, removed } = await this.memberships.replace(scope, this.side, owner.id, memberIds);
      const updated = added + removed > 0 ? (await this.owners.update(scope, owner.id, {}, actor))! : owner;
      return { outcome: { added, removed, unchanged: memberIds.length - added }, owner: updated };
    });
    return { outcome, resource: await this.withMembers(scope, owner) };
  }

  /** The owner's members as an OData collection (`/groups/{idOrKey}/users`, `/users/{idOrKey}/groups`). */
  async listMembers(scope: Scope, idOrKey: string, rawQuery: RawQuery, maxPageSize?: number): Promise<ODataCollection<Resource>> {
    if (hasSystemOption(rawQuery, '$skiptoken')) {
      // A token is checked against the owner's id as the query compiles: the owner comes first.
      const owner = await this.findOrFail(scope, idOrKey);
      const query = this.queries.compile(rawQuery, this.side.member, { maxPageSize, firstParam: 4, tokenContext: owner.id });
      const { rows, count } = await this.memberships.collection(scope, this.side, owner.id, query);
      return this.memberCollection(scope, owner.id, rows, query, count, 'bound');
    }
    // Compiled for any owner (and so kept once for all); a next link's token is bound to this one below.
    const query = this.queries.compile(rawQuery, this.side.member, { maxPageSize, firstParam: 4 });
    if (query.count) {
      const owner = await this.findOrFail(scope, idOrKey);
      const { rows, count } = await this.memberships.collection(scope, this.side, owner.id, query);
      return this.memberCollection(scope, owner.id, rows, query, count, 'unbound');
    }
    // Owner and page in one statement.
    const found = await this.memberships.ownerAndPage(scope, this.side, this.owners.ownerLookup(idOrKey), idOrKey, query);
    if (!found) throw AppError.notFound(this.side.owner.entityType, idOrKey);
    return this.memberCollection(scope, found.ownerId, found.rows, query, undefined, 'unbound');
  }

  /**
   * A page of the owner's members as OData JSON. A query compiled for any owner (`unbound`) is bound
   * to this one for its next link's token — a recompile, so only when there is a next page.
   */
  private memberCollection(
    scope: Scope,
    ownerId: string,
    rows: Record<string, unknown>[],
    query: CompiledCollectionQuery,
    count: number | undefined,
    tokens: 'bound' | 'unbound',
  ): ODataCollection<Resource> {
    const bound = tokens === 'unbound' && rows.length > query.pageSize ? query.withTokenContext(ownerId) : query;
    return collectionBody(rows, bound, count, {
      context: `${scopeBasePath(scope)}/$metadata#${this.side.member.entitySet}`,
      selfPath: `${this.collectionPath(scope)}/${ownerId}/${this.side.navigation}`,
    });
  }

  /** Where a created resource lives (the `Location` header). */
  locationOf(scope: Scope, resource: Resource): string {
    return `${this.collectionPath(scope)}/${resource.id}`;
  }

  private collectionPath(scope: Scope): string {
    return `${scopeBasePath(scope)}/${this.side.owner.pathSegment}`;
  }

  private async findOrFail<Extra extends object = object>(scope: Scope, idOrKey: string, options: FindOptions = {}): Promise<ResourceRow & Extra> {
    const row = await this.owners.findByIdOrKey<Extra>(scope, idOrKey, options);
    if (!row) throw AppError.notFound(this.side.owner.entityType, idOrKey);
    return row;
  }

  /**
   * The record a write is about, locked for the rest of the transaction, after checking `If-Match`
   * against its current representation — under the lock, so no other write can slip in between.
   */
  private async findForWrite(scope: Scope, idOrKey: string, ifMatch: string | undefined): Promise<ResourceRow> {
    const row = await this.findOrFail(scope, idOrKey, { lock: true });
    if (ifMatch !== undefined && ifMatch.trim() !== '*') {
      const current = etagOf(await this.withMembers(scope, row));
      if (!ifMatchSatisfied(ifMatch, current)) {
        throw new AppError(
          ErrorCode.PreconditionFailed,
          `${this.side.owner.entityType} '${idOrKey}' has changed: If-Match ${ifMatch} does not match its current ETag ${current}`,
          'If-Match',
        );
      }
    }
    return row;
  }

  /**
   * Ids for the given keys or ids, all of which must exist in the scope (else 400 listing the
   * unknown), without duplicates (two spellings of one key resolve to one id).
   */
  private async resolveMembers(scope: Scope, references: string[], kind: ReferenceKind): Promise<string[]> {
    const resolved = kind === 'key' ? await this.members.resolveKeys(scope, references) : await this.members.resolveIds(scope, references);
    const unknown = resolved.filter((entry) => entry.id === null).map((entry) => entry.input);
    if (unknown.length === 0) return [...new Set(resolved.map((entry) => entry.id!))];
    throw this.unknownReferences(unknown, kind);
  }

  /** 400 `UnknownReferences`, listing each member reference (key or id) that no record of the scope has. */
  private unknownReferences(unknown: readonly string[], kind: ReferenceKind): AppError {
    const what = `${this.side.member.entityType.toLowerCase()} ${kind === 'key' ? this.side.member.keyProperty : 'id'}`;
    return new AppError(
      ErrorCode.UnknownReferences,
      `Unknown ${what}${unknown.length > 1 ? 's' : ''}: ${unknown.slice(0, 20).join(', ')}${unknown.length > 20 ? ', …' : ''}`,
      this.side.navigation,
      unknown.map((reference) => ({ code: 'UnknownReference', message: `No ${what} '${reference}' in this scope`, target: reference })),
    );
  }

  /** Where the members live and how memberships link them, for statements that write both. */
  private get memberLink() {
    const member = this.side.member;
    return {
      memberTable: member.table,
      memberKeyColumn: propertyOf(member, member.keyProperty).column,
      ownerColumn: this.side.ownerColumn,
      memberColumn: this.side.memberColumn,
    };
  }

  /**
   * The resource with its first members inline (the default member order: key, then id), their
   * total, and — when there are more — a keyset link to the next page of the member collection.
   */
  private async withMembers(scope: Scope, row: ResourceRow): Promise<Resource> {
    return this.withMemberPage(scope, row, await this.memberships.firstPage(scope, this.side, row.id, this.inlineMembers.query));
  }

  private withMemberPage(scope: Scope, row: ResourceRow, { memberCount, memberRows }: MemberPage): Resource {
    // The shared query's skip tokens are bound to no parent: a next link needs this owner's.
    const query = memberRows.length > INLINE_MEMBERS ? this.inlineMembers.query.withTokenContext(row.id) : this.inlineMembers.query;
    const members = collectionBody(memberRows, query, undefined, {
      context: '',
      selfPath: `${this.collectionPath(scope)}/${row.id}/${this.side.navigation}`,
    });
    return this.representation(row, members.value, memberCount, members['@odata.nextLink']);
  }

  /** The resource, its first members, their total and (when there are more) the link to the rest. */
  private representation(row: ResourceRow, members: Record<string, unknown>[], count: number, nextLink?: string): Resource {
    const navigation = this.side.navigation;
    const resource: Resource = { ...toResource(row), [`${navigation}Count`]: count, [navigation]: members };
    if (nextLink) resource[`${navigation}@odata.nextLink`] = nextLink;
    return resource;
  }

  /**
   * The first page of members shown inline: a summary of each, not the whole record. Compiled once
   * (parameters from $4, after the owner's $3), with the select items that read it next to the
   * owner's row (owner aliased `o`): both are the same for every owner.
   */
  private get inlineMembers(): InlineMembers {
    if (!this.inlineMembersCompiled) {
      const names = SUMMARY_PROPERTIES.filter((name) => this.side.member.properties.some((property) => property.name === name));
      const query = compileCollectionQuery({ $select: names.join(',') }, this.side.member, { maxPageSize: INLINE_MEMBERS, firstParam: 4 });
      const columns = { sql: this.memberships.firstPageColumns(this.side, 'o.id', query), params: query.params };
      this.inlineMembersCompiled = { query, columns };
    }
    return this.inlineMembersCompiled;
  }

  private inlineMembersCompiled?: InlineMembers;
}

/** The inline members' compiled query, and the select items reading them beside the owner's row. */
interface InlineMembers {
  query: CompiledCollectionQuery;
  columns: NonNullable<FindOptions['columns']>;
}

function toResource(row: ResourceRow): Resource {
  const { rowVersion: _version, ...resource } = row;
  return resource;
}
