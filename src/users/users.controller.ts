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
  UserDoc,
  UserResourceDoc,
  RemoveOutcomeDoc,
  ReplaceOutcomeDoc,
  GroupDoc,
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
import { CreateUserDto, USER_WRITABLE, PatchUserDto, ReplaceUserDto } from './dto/user.dto.js';
import { UsersService } from './users.service.js';

/** `/api/{tenantKey}/{orgKey}/identity/users` (SPEC §3). `{idOrKey}` is a user's id or userKey. */
@ApiTags('users')
@ApiBearerAuth('bearer')
@ApiParam({ name: 'tenantKey', description: '1–64 of A–Z a–z 0–9 _ -; must be the token\'s tenant' })
@ApiParam({ name: 'orgKey', description: '1–64 of A–Z a–z 0–9 _ -; must be in the token\'s orgs when it has them' })
@Controller('api/:tenantKey/:orgKey/identity/users')
@UseGuards(ScopeGuard)
@ActsOn('identity.users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @ApiOperation({ summary: 'List users (plain JSON array, key order)', description: 'Link: <…>; rel="next" when there are more.' })
  @ApiOkResponse({ type: [UserDoc] })
  @ApiErrors(400)
  async list(@RequestScope() scope: Scope, @Query() query: ListQueryDto, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    const page = await this.users.list(scope, query.page, query.pageSize);
    if (page.hasMore) setNextPageLink(request, response, query.page, query.pageSize);
    return page.items;
  }

  @Get('odata')
  @ApiOperation({ summary: 'Query users with OData ($filter, $orderby, $select, $expand, $search, $top, $skip, $count, $skiptoken)' })
  @ApiHeader({ name: 'Prefer', required: false, description: 'odata.maxpagesize=N (≤ 1000; default page 100)' })
  @ApiODataCollection(UserDoc, 'A page of users')
  @ApiErrors(400)
  query(@RequestScope() scope: Scope, @Query() query: Record<string, unknown>, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return this.users.query(scope, query, applyMaxPageSize(request, response));
  }

  /** The number of users the query's $filter/$search match, as text/plain. */
  @Get('odata/$count')
  @ApiOperation({ summary: 'Count the users matching $filter/$search (text/plain)' })
  @ApiOkResponse({ schema: { type: 'string', example: '42' } })
  @ApiErrors(400)
  @Header('Content-Type', 'text/plain; charset=utf-8')
  async count(@RequestScope() scope: Scope, @Query() query: Record<string, unknown>): Promise<string> {
    return String(await this.users.count(scope, query));
  }

  @Get(':idOrKey')
  @ApiOperation({ summary: 'Get a user by id or userKey, with its first 1,000 groups' })
  @ApiHeader({ name: 'If-None-Match', required: false, description: '304 when the ETag still matches' })
  @ApiOkResponse({ type: UserResourceDoc, description: 'With a strong ETag' })
  @ApiResponse({ status: 304, description: 'Not modified' })
  @ApiErrors(404)
  async get(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return conditionalGet(request, response, await this.users.getJson(scope, idOrKey));
  }

  @Get(':idOrKey/groups')
  @ApiOperation({ summary: "A user's groups, with OData query options" })
  @ApiODataCollection(GroupDoc, 'A page of members')
  @ApiErrors(400, 404)
  groups(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Query() query: Record<string, unknown>,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return this.users.listMembers(scope, idOrKey, query, applyMaxPageSize(request, response));
  }

  @ReadsJsonBody()
  @Post()
  @ApiOperation({ summary: 'Create a user (optionally with groups)' })
  @ApiHeader({ name: 'Prefer', required: false, description: 'return=representation → the user instead of its id' })
  @ApiCreatedResponse({ description: 'Location + ETag headers; body = the new id as a JSON string (or the user)', schema: { type: 'string', format: 'uuid' } })
  @ApiErrors(400, 409, 413, 415)
  async create(
    @RequestScope() scope: Scope,
    @Body() dto: CreateUserDto,
    @Actor() actor: string | null,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    const groups = dto.groups === undefined || dto.groups === null ? undefined : parseReferenceList(dto.groups, 'key', 'groups');
    const user = await this.users.create(scope, pickDefined(dto, USER_WRITABLE), groups, actor);
    return createdResponse(request, response, user, this.users.locationOf(scope, user));
  }

  /** add | addById | remove | removeById: the body lists groupKeys (or ids). */
  @ReadsJsonBody()
  @Post(':idOrKey/groups/:action')
  @ApiOperation({ summary: 'Add or remove groups by groupKey (add, remove) or id (addById, removeById); idempotent' })
  @ApiParam({ name: 'action', enum: ['add', 'addById', 'remove', 'removeById'] })
  @ApiBody({ schema: { type: 'array', items: { type: 'string' }, maxItems: 10_000 } })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiOkResponse({ description: 'What changed', schema: { oneOf: [{ $ref: getSchemaPath(AddOutcomeDoc) }, { $ref: getSchemaPath(RemoveOutcomeDoc) }] } })
  @ApiExtraModels(AddOutcomeDoc, RemoveOutcomeDoc)
  @ApiErrors(400, 404, 409, 412, 413, 415)
  @HttpCode(200)
  async changeGroups(
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
    const { outcome, resource } = await this.users.changeMembers(scope, idOrKey, change, references, kind, actor, ifMatchOf(request));
    withEtag(response, resource);
    return outcome;
  }

  /** Replaces the user's groups with the groupKeys given. */
  @ReadsJsonBody()
  @Put(':idOrKey/groups')
  @ApiOperation({ summary: 'Replace the groups with the groupKeys given' })
  @ApiBody({ schema: { type: 'array', items: { type: 'string' }, maxItems: 10_000 } })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiOkResponse({ type: ReplaceOutcomeDoc })
  @ApiErrors(400, 404, 409, 412, 413, 415)
  async replaceGroups(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Body() body: unknown,
    @Actor() actor: string | null,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    const keys = parseMemberKeys(body, 'groupKey', 'body');
    const { outcome, resource } = await this.users.replaceMembers(scope, idOrKey, keys, actor, ifMatchOf(request));
    withEtag(response, resource);
    return outcome;
  }

  /** Setters: the body is the new JSON value of email | userKey | isActive | name. */
  @ReadsJsonBody()
  @Put(':idOrKey/:property')
  @ApiOperation({ summary: 'Set one property; the body is its JSON value (null clears email)' })
  @ApiParam({ name: 'property', enum: USER_WRITABLE })
  @ApiBody({ schema: { oneOf: [{ type: 'string' }, { type: 'boolean' }], nullable: true }, examples: { name: { value: 'Alice' }, isActive: { value: false } } })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiHeader({ name: 'Prefer', required: false, description: 'return=representation → 200 with the user' })
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
    const name = parseSetterProperty(request, property, USER_WRITABLE);
    const body = bodyOf(request);
    const change = await parseSetterBody(PatchUserDto, name, body.value, body.present);
    return setterResponse(request, response, await this.users.update(scope, idOrKey, change, actor, ifMatchOf(request)));
  }

  @ReadsJsonBody()
  @Patch(':idOrKey')
  @ApiOperation({ summary: 'Change some properties (not groups)' })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiOkResponse({ type: UserResourceDoc })
  @ApiErrors(400, 404, 409, 412, 413, 415)
  async patch(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Body() dto: PatchUserDto,
    @Actor() actor: string | null,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return withEtag(response, await this.users.update(scope, idOrKey, pickDefined(dto, USER_WRITABLE), actor, ifMatchOf(request)));
  }

  @ReadsJsonBody()
  @Put(':idOrKey')
  @ApiOperation({ summary: 'Replace the whole user, groups included (omitted email is cleared)' })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiOkResponse({ type: UserResourceDoc })
  @ApiErrors(400, 404, 409, 412, 413, 415)
  async replace(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Body() dto: ReplaceUserDto,
    @Actor() actor: string | null,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    const values = { email: null, isActive: true, ...pickDefined(dto, USER_WRITABLE) };
    const groups = parseMemberKeys(dto.groups, 'groupKey', 'groups');
    return withEtag(response, await this.users.replace(scope, idOrKey, values, groups, actor, ifMatchOf(request)));
  }

  @Delete(':idOrKey')
  @ApiOperation({ summary: 'Delete a user (its memberships go with it)' })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(404, 412)
  @HttpCode(204)
  async delete(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string, @Req() request: Request): Promise<void> {
    await this.users.delete(scope, idOrKey, ifMatchOf(request));
  }
}
