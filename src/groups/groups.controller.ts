import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Put, Query, Req, Res, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import {
  AddOutcomeDoc,
  ApiErrors,
  ApiODataCollection,
  GroupDoc,
  GroupResourceDoc,
  RemoveOutcomeDoc,
  ReplaceOutcomeDoc,
  UserDoc,
} from '../docs/api-schemas.js';
import { parseMemberKeys, parseReferenceList } from '../common/validation/reference-list.js';
import { ListQueryDto } from '../resources/dto/list-query.dto.js';
import { pickDefined } from '../resources/dto/read-only-fields.js';
import { parseSetterBody } from '../resources/dto/setter.js';
import {
  applyMaxPageSize,
  bodyOf,
  conditionalGet,
  createdResponse,
  ifMatchOf,
  parseMembershipAction,
  parseSetterProperty,
  setNextPageLink,
  setterResponse,
  withEtag,
} from '../resources/resource-http.js';
import { ActsOn } from '../auth/auth.decorators.js';
import { ReadsJsonBody } from '../common/http/json-body.interceptor.js';
import { Actor, RequestScope } from '../tenancy/request-scope.decorator.js';
import type { Scope } from '../tenancy/scope.js';
import { ScopeGuard } from '../tenancy/scope.guard.js';
import { CreateGroupDto, GROUP_WRITABLE, PatchGroupDto, ReplaceGroupDto } from './dto/group.dto.js';
import { GroupsService } from './groups.service.js';

/** `/api/{tenantKey}/{orgKey}/identity/groups` (SPEC §3). `{idOrKey}` is a group's id or groupKey. */
@ApiTags('groups')
@ApiBearerAuth('bearer')
@ApiParam({ name: 'tenantKey', description: '1–64 of A–Z a–z 0–9 _ -; must be the token\'s tenant' })
@ApiParam({ name: 'orgKey', description: '1–64 of A–Z a–z 0–9 _ -; must be in the token\'s orgs when it has them' })
@Controller('api/:tenantKey/:orgKey/identity/groups')
@UseGuards(ScopeGuard)
@ActsOn('identity.groups')
export class GroupsController {
  constructor(private readonly groups: GroupsService) {}

  @Get()
  @ApiOperation({ summary: 'List groups (plain JSON array, key order)', description: 'Link: <…>; rel="next" when there are more.' })
  @ApiOkResponse({ type: [GroupDoc] })
  @ApiErrors(400)
  async list(@RequestScope() scope: Scope, @Query() query: ListQueryDto, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    const page = await this.groups.list(scope, query.page, query.pageSize);
    if (page.hasMore) setNextPageLink(request, response, query.page, query.pageSize);
    return page.items;
  }

  @Get('odata')
  @ApiOperation({ summary: 'Query groups with OData ($filter, $orderby, $select, $expand, $search, $top, $skip, $count, $skiptoken)' })
  @ApiHeader({ name: 'Prefer', required: false, description: 'odata.maxpagesize=N (≤ 1000; default page 100)' })
  @ApiODataCollection(GroupDoc, 'A page of groups')
  @ApiErrors(400)
  query(@RequestScope() scope: Scope, @Query() query: Record<string, unknown>, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return this.groups.query(scope, query, applyMaxPageSize(request, response));
  }

  /** The number of groups the query's $filter/$search match, as text/plain. */
  @Get('odata/$count')
  @ApiOperation({ summary: 'Count the groups matching $filter/$search (text/plain)' })
  @ApiOkResponse({ schema: { type: 'string', example: '42' } })
  @ApiErrors(400)
  @Header('Content-Type', 'text/plain; charset=utf-8')
  async count(@RequestScope() scope: Scope, @Query() query: Record<string, unknown>): Promise<string> {
    return String(await this.groups.count(scope, query));
  }

  @Get(':idOrKey')
  @ApiOperation({ summary: 'Get a group by id or groupKey, with its first 1,000 users' })
  @ApiHeader({ name: 'If-None-Match', required: false, description: '304 when the ETag still matches' })
  @ApiOkResponse({ type: GroupResourceDoc, description: 'With a strong ETag' })
  @ApiResponse({ status: 304, description: 'Not modified' })
  @ApiErrors(404)
  async get(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return conditionalGet(request, response, await this.groups.getJson(scope, idOrKey));
  }

  @Get(':idOrKey/users')
  @ApiOperation({ summary: "A group's users, with OData query options" })
  @ApiODataCollection(UserDoc, 'A page of members')
  @ApiErrors(400, 404)
  users(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Query() query: Record<string, unknown>,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return this.groups.listMembers(scope, idOrKey, query, applyMaxPageSize(request, response));
  }

  @ReadsJsonBody()
  @Post()
  @ApiOperation({ summary: 'Create a group (optionally with users)' })
  @ApiHeader({ name: 'Prefer', required: false, description: 'return=representation → the group instead of its id' })
  @ApiCreatedResponse({ description: 'Location + ETag headers; body = the new id as a JSON string (or the group)', schema: { type: 'string', format: 'uuid' } })
  @ApiErrors(400, 409, 413, 415)
  async create(
    @RequestScope() scope: Scope,
    @Body() dto: CreateGroupDto,
    @Actor() actor: string | null,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    const users = dto.users === undefined || dto.users === null ? undefined : parseReferenceList(dto.users, 'key', 'users');
    const group = await this.groups.create(scope, pickDefined(dto, GROUP_WRITABLE), users, actor);
    return createdResponse(request, response, group, this.groups.locationOf(scope, group));
  }

  /** add | addById | remove | removeById: the body lists userKeys (or ids). */
  @ReadsJsonBody()
  @Post(':idOrKey/users/:action')
  @ApiOperation({ summary: 'Add or remove users by userKey (add, remove) or id (addById, removeById); idempotent' })
  @ApiParam({ name: 'action', enum: ['add', 'addById', 'remove', 'removeById'] })
  @ApiBody({ schema: { type: 'array', items: { type: 'string' }, maxItems: 10_000 } })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiOkResponse({ description: 'What changed', schema: { oneOf: [{ $ref: getSchemaPath(AddOutcomeDoc) }, { $ref: getSchemaPath(RemoveOutcomeDoc) }] } })
  @ApiExtraModels(AddOutcomeDoc, RemoveOutcomeDoc)
  @ApiErrors(400, 404, 409, 412, 413, 415)
  @HttpCode(200)
  async changeUsers(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Param('action') action: string,
    @Body() body: unknown,
    @Actor() actor: string | null,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    const { change, kind } = parseMembershipAction(request, action);
    const references = parseReferenceList(body, kind, 'body');
    const { outcome, resource } = await this.groups.changeMembers(scope, idOrKey, change, references, kind, actor, ifMatchOf(request));
    withEtag(response, resource);
    return outcome;
  }

  /** Replaces the members with the userKeys given. */
  @ReadsJsonBody()
  @Put(':idOrKey/users')
  @ApiOperation({ summary: 'Replace the users with the userKeys given' })
  @ApiBody({ schema: { type: 'array', items: { type: 'string' }, maxItems: 10_000 } })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiOkResponse({ type: ReplaceOutcomeDoc })
  @ApiErrors(400, 404, 409, 412, 413, 415)
  async replaceUsers(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Body() body: unknown,
    @Actor() actor: string | null,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    const keys = parseMemberKeys(body, 'userKey', 'body');
    const { outcome, resource } = await this.groups.replaceMembers(scope, idOrKey, keys, actor, ifMatchOf(request));
    withEtag(response, resource);
    return outcome;
  }

  /** Setters: the body is the new JSON value of email | groupKey | isActive | name | notes. */
  @ReadsJsonBody()
  @Put(':idOrKey/:property')
  @ApiOperation({ summary: 'Set one property; the body is its JSON value (null clears email/notes)' })
  @ApiParam({ name: 'property', enum: GROUP_WRITABLE })
  @ApiBody({ schema: { oneOf: [{ type: 'string' }, { type: 'boolean' }], nullable: true }, examples: { name: { value: 'Operations' }, isActive: { value: false } } })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiHeader({ name: 'Prefer', required: false, description: 'return=representation → 200 with the group' })
  @ApiNoContentResponse({ description: 'Set (ETag header)' })
  @ApiErrors(400, 404, 409, 412, 413, 415)
  async set(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Param('property') property: string,
    @Actor() actor: string | null,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    const name = parseSetterProperty(request, property, GROUP_WRITABLE);
    const body = bodyOf(request);
    const change = await parseSetterBody(PatchGroupDto, name, body.value, body.present);
    return setterResponse(request, response, await this.groups.update(scope, idOrKey, change, actor, ifMatchOf(request)));
  }

  @ReadsJsonBody()
  @Patch(':idOrKey')
  @ApiOperation({ summary: 'Change some properties (not users)' })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiOkResponse({ type: GroupResourceDoc })
  @ApiErrors(400, 404, 409, 412, 413, 415)
  async patch(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Body() dto: PatchGroupDto,
    @Actor() actor: string | null,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return withEtag(response, await this.groups.update(scope, idOrKey, pickDefined(dto, GROUP_WRITABLE), actor, ifMatchOf(request)));
  }

  @ReadsJsonBody()
  @Put(':idOrKey')
  @ApiOperation({ summary: 'Replace the whole group, users included (omitted email/notes are cleared)' })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiOkResponse({ type: GroupResourceDoc })
  @ApiErrors(400, 404, 409, 412, 413, 415)
  async replace(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Body() dto: ReplaceGroupDto,
    @Actor() actor: string | null,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    const values = { email: null, notes: null, isActive: true, ...pickDefined(dto, GROUP_WRITABLE) };
    const users = parseMemberKeys(dto.users, 'userKey', 'users');
    return withEtag(response, await this.groups.replace(scope, idOrKey, values, users, actor, ifMatchOf(request)));
  }

  @Delete(':idOrKey')
  @ApiOperation({ summary: 'Delete a group (its memberships go with it)' })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(404, 412)
  @HttpCode(204)
  async delete(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string, @Req() request: Request): Promise<void> {
    await this.groups.delete(scope, idOrKey, ifMatchOf(request));
  }
}
