import { Module } from '@nestjs/common';
import { GroupsRepository } from '../groups/groups.repository.js';
import { MembershipsRepository } from '../memberships/memberships.repository.js';
import { UsersRepository } from '../users/users.repository.js';

/**
 * The repositories both feature modules need: groups resolve users as members and users resolve
 * groups, so the three repositories live together and each feature module imports them.
 */
@Module({
  providers: [GroupsRepository, UsersRepository, MembershipsRepository],
  exports: [GroupsRepository, UsersRepository, MembershipsRepository],
})
export class ResourcesModule {}
