import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Put, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
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
import { Actor, RequestScope } from '../tenancy/request-scope.decorator.js';
import type { Scope } from '../tenancy/scope.js';
import { ScopeGuard } from '../tenancy/scope.guard.js';
import { CreateGroupDto, GROUP_WRITABLE, PatchGroupDto, ReplaceGroupDto } from './dto/group.dto.js';
import { GroupsService } from './groups.service.js';

/** `/api/{tenantKey}/{orgKey}/identity/groups` (SPEC §3). `{idOrKey}` is a group's id or groupKey. */
@Controller('api/:tenantKey/:orgKey/identity/groups')
@UseGuards(ScopeGuard)
@ActsOn('identity.groups')
export class GroupsController {
  constructor(private readonly groups: GroupsService) {}

  @Get()
  async list(@RequestScope() scope: Scope, @Query() query: ListQueryDto, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    const page = await this.groups.list(scope, query.page, query.pageSize);
    if (page.hasMore) setNextPageLink(request, response, query.page, query.pageSize);
    return page.items;
  }

  @Get('odata')
  query(@RequestScope() scope: Scope, @Query() query: Record<string, unknown>, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return this.groups.query(scope, query, applyMaxPageSize(request, response));
  }

  /** The number of groups the query's $filter/$search match, as text/plain. */
  @Get('odata/$count')
  @Header('Content-Type', 'text/plain; charset=utf-8')
  async count(@RequestScope() scope: Scope, @Query() query: Record<string, unknown>): Promise<string> {
    return String(await this.groups.count(scope, query));
  }

  @Get(':idOrKey')
  async get(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return conditionalGet(request, response, await this.groups.get(scope, idOrKey));
  }

  @Get(':idOrKey/users')
  users(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Query() query: Record<string, unknown>,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return this.groups.listMembers(scope, idOrKey, query, applyMaxPageSize(request, response));
  }

  @Post()
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
  @Post(':idOrKey/users/:action')
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
  @Put(':idOrKey/users')
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
  @Put(':idOrKey/:property')
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

  @Patch(':idOrKey')
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

  @Put(':idOrKey')
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
  @HttpCode(204)
  async delete(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string, @Req() request: Request): Promise<void> {
    await this.groups.delete(scope, idOrKey, ifMatchOf(request));
  }
}
