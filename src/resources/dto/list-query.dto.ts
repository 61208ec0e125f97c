import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** `?page=&pageSize=` of the plain (non-OData) list routes. */
export class ListQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'page must be a positive integer' })
  @Min(1, { message: 'page must be a positive integer' })
  page: number = 1;

  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'pageSize must be an integer between 1 and 1000' })
  @Min(1, { message: 'pageSize must be an integer between 1 and 1000' })
  @Max(1000, { message: 'pageSize must be an integer between 1 and 1000' })
  pageSize: number = 100;
}
