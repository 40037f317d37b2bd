import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { VaultService } from './vault.service';
import { vaultConfig, VaultSettings } from './vault.config';

/**
 * Runs the retention purge every VAULT_RETENTION_SWEEP_SECONDS. The timer is unref'ed (it
 * never keeps the process alive) and cleared on shutdown; a sweep never overlaps another.
 */
@Injectable()
export class VaultRetentionScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(VaultRetentionScheduler.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly intervalMs: number;

  constructor(
    @Inject(vaultConfig.KEY) vaultSettings: VaultSettings,
    private readonly vault: VaultService,
  ) {
    this.intervalMs = vaultSettings.retentionSweepSeconds * 1000;
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One sweep now (skipped when one is already running). */
  sweep(): Promise<void> {
    this.running ??= this.vault
      .purgeExpired()
      .then(() => undefined)
      .catch((error: unknown) => {
        this.logger.error({ err: error }, 'Vault retention sweep failed');
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }
}
