import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Response } from 'express';
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
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
    description: 'The store (and Redis, when configured) answer; the uploads directory is writable',
  })
  @ApiServiceUnavailableResponse({
    description: 'A dependency is down: terminus body, `error.<dependency>.message` says why',
  })
  async check(@Res({ passthrough: true }) res: Response) {
    const checks = [
      () => this.probe('store', () => this.store.ping(), { driver: this.store.driver }),
      () => this.probe('disk', () => this.uploadsWritable()),
    ];
    if (this.redis.enabled) {
      checks.push(() => this.probe('redis', async () => void (await this.redis.client().ping())));
    }
    try {
      return await this.health.check(checks);
    } catch (error) {
      // the 503 keeps terminus's body, so it says which dependency is down and why
      if (!(error instanceof ServiceUnavailableException)) throw error;
      res.status(503);
      return error.getResponse();
    }
  }

  /** The vault writes here: a root-owned or read-only volume is a down dependency, not a 500 later. */
  private async uploadsWritable(): Promise<void> {
    const dir = this.config.get('app', { infer: true }).uploadsDir;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await access(dir, constants.W_OK | constants.X_OK);
    } catch (error) {
      throw new Error(
        `the uploads directory is not writable (${(error as NodeJS.ErrnoException).code})`,
      );
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
