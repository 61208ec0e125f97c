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
import { CreateUserDto, USER_WRITABLE, PatchUserDto, ReplaceUserDto } from './dto/user.dto.js';
import { UsersService } from './users.service.js';

/** `/api/{tenantKey}/{orgKey}/identity/users` (SPEC §3). `{idOrKey}` is a user's id or userKey. */
@Controller('api/:tenantKey/:orgKey/identity/users')
@UseGuards(ScopeGuard)
@ActsOn('identity.users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  async list(@RequestScope() scope: Scope, @Query() query: ListQueryDto, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    const page = await this.users.list(scope, query.page, query.pageSize);
    if (page.hasMore) setNextPageLink(request, response, query.page, query.pageSize);
    return page.items;
  }

  @Get('odata')
  query(@RequestScope() scope: Scope, @Query() query: Record<string, unknown>, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return this.users.query(scope, query, applyMaxPageSize(request, response));
  }

  /** The number of users the query's $filter/$search match, as text/plain. */
  @Get('odata/$count')
  @Header('Content-Type', 'text/plain; charset=utf-8')
  async count(@RequestScope() scope: Scope, @Query() query: Record<string, unknown>): Promise<string> {
    return String(await this.users.count(scope, query));
  }

  @Get(':idOrKey')
  async get(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return conditionalGet(request, response, await this.users.get(scope, idOrKey));
  }

  @Get(':idOrKey/groups')
  groups(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Query() query: Record<string, unknown>,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return this.users.listMembers(scope, idOrKey, query, applyMaxPageSize(request, response));
  }

  @Post()
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
  @Post(':idOrKey/groups/:action')
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
  @Put(':idOrKey/groups')
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
  @Put(':idOrKey/:property')
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

  @Patch(':idOrKey')
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

  @Put(':idOrKey')
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
  @HttpCode(204)
  async delete(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string, @Req() request: Request): Promise<void> {
    await this.users.delete(scope, idOrKey, ifMatchOf(request));
  }
}
