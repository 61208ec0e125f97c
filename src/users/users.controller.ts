import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Put, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { prefersRepresentation } from '../common/http/prefer.js';
import { parseMemberKeys, parseReferenceList } from '../common/validation/reference-list.js';
import { ListQueryDto } from '../resources/dto/list-query.dto.js';
import { pickDefined } from '../resources/dto/read-only-fields.js';
import { parseSetterBody } from '../resources/dto/setter.js';
import {
  applyMaxPageSize,
  bodyOf,
  createdResponse,
  parseMembershipAction,
  parseSetterProperty,
  setNextPageLink,
  setterResponse,
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
  get(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string) {
    return this.users.get(scope, idOrKey);
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
    const user = await this.users.create(scope, pickDefined(dto, USER_WRITABLE), groups, actor, {
      representation: prefersRepresentation(request),
    });
    return createdResponse(request, response, user, this.users.locationOf(scope, user));
  }

  /** add | addById | remove | removeById: the body lists groupKeys (or ids). */
  @Post(':idOrKey/groups/:action')
  @HttpCode(200)
  changeGroups(
    @RequestScope() scope: Scope,
    @Param('idOrKey') idOrKey: string,
    @Param('action') action: string,
    @Body() body: unknown,
    @Actor() actor: string | null,
    @Req() request: Request,
  ) {
    const { change, kind } = parseMembershipAction(request, action);
    return this.users.changeMembers(scope, idOrKey, change, parseReferenceList(body, kind, 'body'), kind, actor);
  }

  /** Replaces the user's groups with the groupKeys given. */
  @Put(':idOrKey/groups')
  replaceGroups(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string, @Body() body: unknown, @Actor() actor: string | null) {
    return this.users.replaceMembers(scope, idOrKey, parseMemberKeys(body, 'groupKey', 'body'), actor);
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
    return setterResponse(request, response, await this.users.update(scope, idOrKey, change, actor));
  }

  @Patch(':idOrKey')
  patch(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string, @Body() dto: PatchUserDto, @Actor() actor: string | null) {
    return this.users.update(scope, idOrKey, pickDefined(dto, USER_WRITABLE), actor);
  }

  @Put(':idOrKey')
  replace(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string, @Body() dto: ReplaceUserDto, @Actor() actor: string | null) {
    const values = { email: null, isActive: true, ...pickDefined(dto, USER_WRITABLE) };
    return this.users.replace(scope, idOrKey, values, parseMemberKeys(dto.groups, 'groupKey', 'groups'), actor);
  }

  @Delete(':idOrKey')
  @HttpCode(204)
  async delete(@RequestScope() scope: Scope, @Param('idOrKey') idOrKey: string): Promise<void> {
    await this.users.delete(scope, idOrKey);
  }
}
