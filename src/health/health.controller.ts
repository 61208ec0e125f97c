import { Controller, Get, Header, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Public } from '../auth/auth.decorators.js';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { Database } from '../database/database.js';

/** How long the readiness probe waits for the database before it calls it unreachable. */
const DATABASE_PING_TIMEOUT_MS = 2000;

/** Liveness and readiness probes (no token needed). */
@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly database: Database,
  ) {}

  /** Liveness: the process serves HTTP. Never touches the database (a slow database is not a reason to restart). */
  @Get('health')
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ description: 'The process is alive' })
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Readiness: the database answers. 503 (OData error body, with the reason) when it does not. */
  @Get('ready')
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ description: 'The database is reachable' })
  @ApiServiceUnavailableResponse({ description: 'The database is unreachable' })
  @HealthCheck()
  async ready() {
    try {
      return await this.health.check([
        () =>
          this.indicators
            .check('database')
            .attempt(() => this.database.ping())
            .withTimeout(DATABASE_PING_TIMEOUT_MS),
      ]);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      const body = error.getResponse() as { error?: Record<string, { message?: string }> };
      const details = Object.entries(body.error ?? {}).map(([target, result]) => ({
        code: 'Down',
        message: `${target}: ${result.message ?? 'down'}`,
        target,
      }));
      throw new AppError(ErrorCode.ServiceUnavailable, 'Not ready: the database is unreachable', undefined, details);
    }
  }
}
