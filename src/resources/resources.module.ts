import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { GroupsRepository } from '../groups/groups.repository.js';
import { MembershipsRepository } from '../memberships/memberships.repository.js';
import { CompiledQueryCache } from '../odata/query-cache.js';
import { UsersRepository } from '../users/users.repository.js';

/** Compiled OData queries kept for reuse (a few kB each), shared by groups and users. */
const COMPILED_QUERIES_KEPT = 500;

/**
 * The repositories both feature modules need: groups resolve users as members and users resolve
 * groups, so the three repositories live together and each feature module imports them, with the
 * cache of compiled OData queries.
 */
@Module({
  providers: [
    GroupsRepository,
    UsersRepository,
    MembershipsRepository,
    {
      provide: CompiledQueryCache,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => new CompiledQueryCache(COMPILED_QUERIES_KEPT, config.maxResponseRows),
    },
  ],
  exports: [GroupsRepository, UsersRepository, MembershipsRepository, CompiledQueryCache],
})
export class ResourcesModule {}
