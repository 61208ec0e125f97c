import { Injectable } from '@nestjs/common';
import { UnitOfWork } from '../database/unit-of-work.js';
import { GROUP_USERS } from '../memberships/membership-side.js';
import { MembershipsRepository } from '../memberships/memberships.repository.js';
import { CompiledQueryCache } from '../odata/query-cache.js';
import { ResourceService } from '../resources/resource.service.js';
import { UsersRepository } from '../users/users.repository.js';
import { GroupsRepository } from './groups.repository.js';

/** Groups and their users. The rules are shared with users (see ResourceService). */
@Injectable()
export class GroupsService extends ResourceService {
  constructor(
    uow: UnitOfWork,
    groups: GroupsRepository,
    users: UsersRepository,
    memberships: MembershipsRepository,
    queries: CompiledQueryCache,
  ) {
    super(uow, groups, users, memberships, GROUP_USERS, queries);
  }
}
