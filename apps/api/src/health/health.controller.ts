import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import type { Response } from 'express';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Public, RedisService } from '@app/common';
import { Store } from '@app/persistence';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly store: Store,
    private readonly redis: RedisService,
  ) {}

  @Public()
  @Get()
  @HealthCheck()
  @ApiOkResponse({ description: 'The store (and Redis, when configured) answer' })
  @ApiServiceUnavailableResponse({ description: 'A dependency does not answer' })
  async check(@Res({ passthrough: true }) res: Response) {
    const checks = [
      () => this.probe('store', () => this.store.ping(), { driver: this.store.driver }),
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
