import { Controller, Get, HttpException, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { ConfigService } from '@nestjs/config';
import { statfs } from 'node:fs/promises';
import { AppConfig, Public, RedisService } from '@app/common';
import { Store } from '@app/persistence';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly store: Store,
    private readonly redis: RedisService,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  @Public()
  @Get()
  @HealthCheck()
  @ApiOkResponse({
    description: 'The store (and Redis, when configured) answer, and DATA_DIR has free space',
  })
  @ApiServiceUnavailableResponse({
    description:
      'A dependency does not answer, or the disk under DATA_DIR is degraded (free space below HEALTH_MIN_FREE_BYTES, or not reachable)',
  })
  async check(
    @Req() request: Request & { id?: string },
    @Res({ passthrough: true }) response: Response,
  ) {
    const checks = [
      () => this.probe('store', () => this.store.ping(), { driver: this.store.driver }),
      () => this.disk(),
    ];
    if (this.redis.enabled) {
      checks.push(() => this.probe('redis', async () => void (await this.redis.client().ping())));
    }
    try {
      return await this.health.check(checks);
    } catch (error) {
      if (!(error instanceof HttpException)) throw error;
      // keep terminus' report (which check failed, and why) beside the standard error fields
      const report = error.getResponse() as Record<string, unknown>;
      response.status(error.getStatus());
      (response.locals as { errorCode?: string }).errorCode = 'unhealthy';
      return {
        statusCode: error.getStatus(),
        code: 'unhealthy',
        message: `Unhealthy: ${Object.keys((report.error as object) ?? {}).join(', ')}`,
        correlationId: String(request.id ?? ''),
        ...report,
      };
    }
  }

  /** Free space under DATA_DIR: below the threshold writes are about to fail (507 storage_full). */
  private async disk() {
    const indicator = this.indicators.check('disk');
    const { dataDir, healthMinFreeBytes } = this.config.get('app', { infer: true });
    try {
      const fs = await withTimeout(statfs(dataDir), 2000);
      const freeBytes = Number(fs.bavail) * Number(fs.bsize);
      const details = { freeBytes, thresholdBytes: healthMinFreeBytes };
      if (freeBytes >= healthMinFreeBytes) return indicator.up(details);
      return indicator.down({
        ...details,
        state: 'degraded',
        message: 'free space under DATA_DIR is below HEALTH_MIN_FREE_BYTES; writes may fail',
      });
    } catch (error) {
      return indicator.down({
        state: 'unavailable',
        message: `DATA_DIR cannot be examined (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      });
    }
  }

  private async probe(
    key: string,
    ping: () => Promise<void>,
    details: Record<string, string> = {},
  ) {
    const indicator = this.indicators.check(key);
    try {
      await withTimeout(ping(), 2000);
      return indicator.up(details);
    } catch (error) {
      return indicator.down({ ...details, message: (error as Error).message });
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
