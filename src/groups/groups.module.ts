import { Module } from '@nestjs/common';
import { ResourcesModule } from '../resources/resources.module.js';
import { GroupsController } from './groups.controller.js';
import { GroupsService } from './groups.service.js';

@Module({
  imports: [ResourcesModule],
  controllers: [GroupsController],
  providers: [GroupsService],
})
export class GroupsModule {}
