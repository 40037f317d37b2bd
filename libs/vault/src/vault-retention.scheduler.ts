import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { PeriodicTask } from '@app/common';
import { VaultService } from './vault.service';
import { vaultConfig, VaultSettings } from './vault.config';

/**
 * Runs the retention purge every VAULT_RETENTION_SWEEP_SECONDS (a PeriodicTask: unref'ed
 * timer, cleared on shutdown, a sweep never overlaps another, a failure is logged).
 */
@Injectable()
export class VaultRetentionScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(VaultRetentionScheduler.name);
  private readonly task: PeriodicTask;

  constructor(@Inject(vaultConfig.KEY) vaultSettings: VaultSettings, vault: VaultService) {
    this.task = new PeriodicTask({
      name: 'Vault retention sweep',
      everyMs: vaultSettings.retentionSweepSeconds * 1000,
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
