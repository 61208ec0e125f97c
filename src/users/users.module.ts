import { Module } from '@nestjs/common';
import { ResourcesModule } from '../resources/resources.module.js';
import { UsersController } from './users.controller.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [ResourcesModule],
  controllers: [UsersController],
  providers: [UsersService],
})
export class UsersModule {}
