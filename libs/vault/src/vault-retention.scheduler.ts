import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig, PeriodicTask } from '@app/common';
import { VaultService } from './vault.service';

/**
 * Runs the retention purge every VAULT_RETENTION_SWEEP_SECONDS (a PeriodicTask: unref'ed
 * timer, cleared on shutdown, a sweep never overlaps another, a failure is logged).
 */
@Injectable()
export class VaultRetentionScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(VaultRetentionScheduler.name);
  private readonly task: PeriodicTask;

  constructor(config: ConfigService<AppConfig, true>, vault: VaultService) {
    this.task = new PeriodicTask({
      name: 'Vault retention sweep',
      everyMs: config.get('vault', { infer: true }).retentionSweepSeconds * 1000,
      run: () => vault.purgeExpired(),
      logger: this.logger,
    });
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }

  /** One sweep now (joins the one already running). */
  sweep(): Promise<void> {
    return this.task.runNow();
  }
}
