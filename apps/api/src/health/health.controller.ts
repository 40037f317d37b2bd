import { Controller, Get, Header, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { constants } from 'node:fs';
import { access, mkdir, statfs } from 'node:fs/promises';
import {
  appConfig,
  AppSettings,
  Public,
  RedisService,
  ApiOkResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@app/common';
import { Store } from '@app/persistence';
import {
  HealthChecks,
  healthReportSchema,
  HealthIndicatorResult,
  indicator,
} from './health-checks';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthChecks,
    private readonly store: Store,
    private readonly redis: RedisService,
    @Inject(appConfig.KEY) private readonly app: AppSettings,
  ) {}

  @Public()
  @Get()
  @Header('Cache-Control', 'no-cache, no-store, must-revalidate')
  @ApiOkResponse({
    description:
      'The store (and Redis, when configured) answer; the uploads directory is writable and DATA_DIR has free space\n\nThe Health Check is successful',
    schema: healthReportSchema('ok'),
  })
  @ApiServiceUnavailableResponse({
    description:
      'A dependency is down: terminus body (`error.<dependency>.message` says why) beside statusCode, code `unhealthy`, message and correlationId. The disk is down when the uploads directory is not writable, or degraded when free space under DATA_DIR is below HEALTH_MIN_FREE_BYTES\n\nThe Health Check is not successful',
    schema: healthReportSchema('error'),
  })
  async check(
    @Req() request: Request & { id?: string },
    @Res({ passthrough: true }) response: Response,
  ) {
    const checks: Array<() => Promise<HealthIndicatorResult>> = [
      () => this.probe('store', () => this.store.ping(), this.store.healthDetails()),
      () => this.disk(),
    ];
    if (this.redis.enabled) {
      checks.push(() => this.probe('redis', () => this.redis.ping()));
    }
    const report = await this.health.run(checks);
    if (report.status === 'ok') return report;
    // the report (which check failed, and why) beside the standard error fields
    response.status(503);
    (response.locals as { errorCode?: string }).errorCode = 'unhealthy';
    return {
      statusCode: 503,
      code: 'unhealthy',
      message: `Unhealthy: ${Object.keys(report.error).join(', ')}`,
      correlationId: String(request.id ?? ''),
      ...report,
    };
  }

  /**
   * The vault writes under UPLOADS_DIR: a root-owned or read-only volume is a down dependency,
   * not a 500 later; free space under DATA_DIR below the threshold means writes are about to
   * answer 507 storage_full.
   */
  private async disk() {
    const disk = indicator('disk');
    const { dataDir, uploadsDir, healthMinFreeBytes } = this.app;
    try {
      await withTimeout(uploadsWritable(uploadsDir), 2000);
    } catch (error) {
      return disk.down({ message: (error as Error).message });
    }
    try {
      const fs = await withTimeout(statfs(dataDir), 2000);
      const freeBytes = Number(fs.bavail) * Number(fs.bsize);
      const details = { freeBytes, thresholdBytes: healthMinFreeBytes };
      if (freeBytes >= healthMinFreeBytes) return disk.up(details);
      return disk.down({
        ...details,
        state: 'degraded',
        message: 'free space under DATA_DIR is below HEALTH_MIN_FREE_BYTES; writes may fail',
      });
    } catch (error) {
      return disk.down({
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
    const check = indicator(key);
    try {
      await withTimeout(ping(), 2000);
      return check.up(details);
    } catch (error) {
      return check.down({ ...details, message: (error as Error).message });
    }
  }
}

async function uploadsWritable(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new Error(
      `the uploads directory is not writable (${(error as NodeJS.ErrnoException).code})`,
    );
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
