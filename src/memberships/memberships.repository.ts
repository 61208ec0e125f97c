import { Injectable } from '@nestjs/common';
import { ScopedRepository } from '../database/scoped-repository.js';
import { TableStatistics } from '../database/table-statistics.js';
import { UnitOfWork } from '../database/unit-of-work.js';
import type { CompiledCollectionQuery } from '../odata/compile-query.js';
import type { CollectionRows } from '../resources/resource.repository.js';
import type { Scope } from '../tenancy/scope.js';
import type { MembershipSide } from './membership-side.js';

/** An owner's member count and first page of members (rows of the member query, keyset columns included). */
export interface MemberPage {
  memberCount: number;
  memberRows: Record<string, unknown>[];
}

/**
 * Membership rows. Bulk changes are one statement each, with the ids as one array parameter, whatever
 * their number; ids are sorted first so concurrent writers take row locks in the same order.
 */
@Injectable()
export class MembershipsRepository extends ScopedRepository {
  constructor(
    uow: UnitOfWork,
    private readonly statistics: TableStatistics,
  ) {
    super(uow);
  }

  /** Adds the members that are not in yet; returns how many were added. */
  async add(scope: Scope, side: MembershipSide, ownerId: string, memberIds: readonly string[]): Promise<number> {
    if (memberIds.length === 0) return 0;
    const { rowCount } = await this.run(
      scope,
      `INSERT INTO memberships (tenant_key, org_key, ${side.ownerColumn}, ${side.memberColumn})
       SELECT $1, $2, $3, member_id FROM unnest($4::uuid[]) AS member_id ORDER BY member_id
       ON CONFLICT DO NOTHING`,
      [ownerId, sortedIds(memberIds)],
    );
    this.statistics.noteWrites('memberships', rowCount);
    return rowCount;
  }

  /** Removes those of `memberIds` that are members; returns how many were removed. */
  async remove(scope: Scope, side: MembershipSide, ownerId: string, memberIds: readonly string[]): Promise<number> {
    if (memberIds.length === 0) return 0;
    const { rowCount } = await this.run(
      scope,
      `DELETE FROM memberships m WHERE ${this.scoped('m')} AND m.${side.ownerColumn} = $3
          AND m.${side.memberColumn} = ANY($4::uuid[])`,
      [ownerId, sortedIds(memberIds)],
    );
    this.statistics.noteWrites('memberships', rowCount);
    return rowCount;
  }

  /** Makes `memberIds` the exact member set. */
  async replace(
    scope: Scope,
    side: MembershipSide,
    ownerId: string,
    memberIds: readonly string[],
  ): Promise<{ added: number; removed: number }> {
    const { rowCount: removed } = await this.run(
      scope,
      `DELETE FROM memberships m WHERE ${this.scoped('m')} AND m.${side.ownerColumn} = $3
          AND NOT (m.${side.memberColumn} = ANY($4::uuid[]))`,
      [ownerId, sortedIds(memberIds)],
    );
    this.statistics.noteWrites('memberships', removed);
    const added = await this.add(scope, side, ownerId, memberIds);
    return { added, removed };
  }

  /**
   * A page of an OData query over the owner's members: the query is compiled against the member
   * model with its parameters from $4 ($3 is the owner id).
   */
  collection(scope: Scope, side: MembershipSide, ownerId: string, query: CompiledCollectionQuery): Promise<CollectionRows> {
    return this.runCollection(scope, query, this.memberPredicate(side, '$3'), [ownerId]);
  }

  /**
   * The owner that `ownerLookup` selects (a statement selecting `o.id`, the reference bound as $3)
   * and a page of its members (`query` as for `collection`, without `$count`), in one statement:
   * undefined when there is no such owner. The member rows are numbered in page order inside the
   * lateral subquery and returned in that order.
   */
  async ownerAndPage(
    scope: Scope,
    side: MembershipSide,
    ownerLookup: string,
    reference: string,
    query: CompiledCollectionQuery,
  ): Promise<{ ownerId: string; rows: Record<string, unknown>[] } | undefined> {
    if (query.count) throw new Error('ownerAndPage does not take $count');
    const numbered = query.numberedSelectStatement(this.memberPredicate(side, 'o.id'));
    const { rows } = await this.run<Record<string, unknown> & { __owner: string }>(
      scope,
      `SELECT o.id AS "__owner", p.* FROM (${ownerLookup}) o LEFT JOIN LATERAL (${numbered}) p ON TRUE ORDER BY p."${query.rowNumberColumn}"`,
      [reference, ...query.params],
    );
    if (rows.length === 0) return undefined;
    const ownerId = rows[0]!.__owner;
    // An owner without (matching) members comes back as one row of nulls beside its id.
    const members = rows[0]![query.rowNumberColumn] === null ? [] : rows.map(({ __owner: _owner, ...row }) => row);
    return { ownerId, rows: members };
  }

  /** The owner's member count and first page of members (`query` as for `collection`), in one statement. */
  async firstPage(scope: Scope, side: MembershipSide, ownerId: string, query: CompiledCollectionQuery): Promise<MemberPage> {
    const { rows } = await this.run<MemberPage>(scope, `SELECT ${this.firstPageColumns(side, '$3', query)}`, [ownerId, ...query.params]);
    return rows[0]!;
  }

  /**
   * Select items for the member count (`"memberCount"`) and first page (`"memberRows"`, a JSON array) of the
   * owner whose id is the SQL expression `ownerId` — `$3`, or a column of an outer query (so a
   * single-resource GET reads row, count and members in one statement). The query's parameters are
   * bound from $4.
   */
  firstPageColumns(side: MembershipSide, ownerId: string, query: CompiledCollectionQuery): string {
    return `${this.countExpression(side, ownerId)} AS "memberCount", (${query.pageJsonStatement(this.memberPredicate(side, ownerId))}) AS "memberRows"`;
  }

  /**
   * Select items for the member count (`"<navigation>Count"`) and the first page of members as
   * compact JSON (`"<navigation>"`: each member with the query's properties, in page order, nothing
   * else) of the owner whose id is the SQL expression `ownerId`: the parts of a representation that
   * PostgreSQL writes as text (see ResourceRepository.findRepresentationJson). Parameters from $4.
   */
  representationColumns(side: MembershipSide, ownerId: string, query: CompiledCollectionQuery): string {
    const numbered = query.numberedSelectStatement(this.memberPredicate(side, ownerId));
    const properties = query.properties.map((name) => `p."${name}"`).join(', ');
    // array_to_json(array_agg(…)) is compact, as JSON.stringify is (json_agg puts ", \n " between elements).
    const members =
      `(SELECT coalesce(array_to_json(array_agg(row_to_json((SELECT member FROM (SELECT ${properties}) member)) ORDER BY p."${query.rowNumberColumn}")), '[]'::json) ` +
      `FROM (${numbered}) p)`;
    return `${this.countExpression(side, ownerId)} AS "${side.navigation}Count", ${members} AS "${side.navigation}"`;
  }

  private countExpression(side: MembershipSide, ownerId: string): string {
    return `(SELECT count(*) FROM memberships m WHERE ${this.scoped('m')} AND m.${side.ownerColumn} = ${ownerId})::int`;
  }

  /** "Member `r` of the owner `ownerId`", for queries over the member table aliased `r`. */
  private memberPredicate(side: MembershipSide, ownerId: string): string {
    return `${this.scoped('r')} AND EXISTS (SELECT 1 FROM memberships om WHERE om.tenant_key = r.tenant_key AND om.org_key = r.org_key
        AND om.${side.ownerColumn} = ${ownerId} AND om.${side.memberColumn} = r.id)`;
  }
}

function sortedIds(ids: readonly string[]): string[] {
  return ids.map((id) => id.toLowerCase()).sort();
}
