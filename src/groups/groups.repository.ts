import { Injectable } from '@nestjs/common';
import { UnitOfWork } from '../database/unit-of-work.js';
import { GROUP_MODEL } from '../resources/resource-model.js';
import { ResourceRepository } from '../resources/resource.repository.js';

@Injectable()
export class GroupsRepository extends ResourceRepository {
  constructor(uow: UnitOfWork) {
    super(uow, GROUP_MODEL);
  }
}
