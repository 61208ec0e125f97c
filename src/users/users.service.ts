import { Injectable } from '@nestjs/common';
import { UnitOfWork } from '../database/unit-of-work.js';
import { GroupsRepository } from '../groups/groups.repository.js';
import { USER_GROUPS } from '../memberships/membership-side.js';
import { MembershipsRepository } from '../memberships/memberships.repository.js';
import { CompiledQueryCache } from '../odata/query-cache.js';
import { ResourceService } from '../resources/resource.service.js';
import { UsersRepository } from './users.repository.js';

/** Users and their groups. The rules are shared with groups (see ResourceService). */
@Injectable()
export class UsersService extends ResourceService {
  constructor(
    uow: UnitOfWork,
    users: UsersRepository,
    groups: GroupsRepository,
    memberships: MembershipsRepository,
    queries: CompiledQueryCache,
  ) {
    super(uow, users, groups, memberships, USER_GROUPS, queries);
  }
}
