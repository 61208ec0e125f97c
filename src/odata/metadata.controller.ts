import { Controller, Get, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ActsOn } from '../auth/auth.decorators.js';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiErrors } from '../docs/api-schemas.js';
import { ScopeGuard } from '../tenancy/scope.guard.js';
import { metadataJson, metadataXml } from './metadata.js';

/** `GET /api/{tenantKey}/{orgKey}/identity/$metadata`: CSDL XML, or JSON with `$format=json`. */
@ApiTags('odata')
@ApiBearerAuth('bearer')
@Controller('api/:tenantKey/:orgKey/identity')
@UseGuards(ScopeGuard)
@ActsOn('identity')
export class MetadataController {
  @Get('$metadata')
  @ApiOperation({ summary: 'The OData metadata document (CSDL); any identity scope may read it' })
  @ApiErrors()
  @ApiOkResponse({ description: 'The CSDL document (XML by default; JSON with $format=json or Accept: application/json)' })
  metadata(@Query('$format') format: unknown, @Req() request: Request, @Res({ passthrough: true }) response: Response): string | object {
    const wanted = typeof format === 'string' ? format.toLowerCase() : undefined;
    if (format !== undefined && wanted !== 'json' && wanted !== 'xml' && wanted !== 'application/json' && wanted !== 'application/xml') {
      throw new AppError(ErrorCode.BadRequest, `$format must be json or xml`, '$format');
    }
    // Without $format, the Accept header decides; XML (the OData 4.0 default) wins ties and */*.
    const json = wanted ? wanted.endsWith('json') : request.accepts(['application/xml', 'application/json']) === 'application/json';
    response.setHeader('OData-Version', '4.0');
    if (json) return metadataJson();
    response.type('application/xml');
    return metadataXml();
  }
}
