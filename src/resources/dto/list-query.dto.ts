import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** The largest page: (page - 1) × 1000 stays below Number.MAX_SAFE_INTEGER. */
const MAX_PAGE = Math.floor(Number.MAX_SAFE_INTEGER / 1000);

/** `?page=&pageSize=` of the plain (non-OData) list routes. */
export class ListQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'page must be a positive integer' })
  @Min(1, { message: 'page must be a positive integer' })
  // Keeps the row offset (page - 1) × pageSize an exact integer within Postgres's bigint (else 500).
  @Max(MAX_PAGE, { message: `page must be at most ${MAX_PAGE}` })
  page: number = 1;

  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'pageSize must be an integer between 1 and 1000' })
  @Min(1, { message: 'pageSize must be an integer between 1 and 1000' })
  @Max(1000, { message: 'pageSize must be an integer between 1 and 1000' })
  pageSize: number = 100;
}
