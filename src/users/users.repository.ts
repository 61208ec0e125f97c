import { Injectable } from '@nestjs/common';
import { UnitOfWork } from '../database/unit-of-work.js';
import { USER_MODEL } from '../resources/resource-model.js';
import { ResourceRepository } from '../resources/resource.repository.js';

@Injectable()
export class UsersRepository extends ResourceRepository {
  constructor(uow: UnitOfWork) {
    super(uow, USER_MODEL);
  }
}
