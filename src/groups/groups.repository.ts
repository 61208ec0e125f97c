import { Injectable } from '@nestjs/common';
import { TableStatistics } from '../database/table-statistics.js';
import { UnitOfWork } from '../database/unit-of-work.js';
import { GROUP_MODEL } from '../resources/resource-model.js';
import { ResourceRepository } from '../resources/resource.repository.js';

@Injectable()
export class GroupsRepository extends ResourceRepository {
  constructor(uow: UnitOfWork, statistics: TableStatistics) {
    super(uow, GROUP_MODEL, statistics);
  }
}
