import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { LedgerService, OfflineSyncService } from '@app/offline-sync';
import { TLOG_UNSEALED_SWEEP_MS, tlogConfig, TlogSettings } from '@app/tlog';
import { PayrollCloseService } from '@app/timesheets';
import { VaultAuditService } from '@app/vault';

/**
 * A crash (kill -9, a lost host) between a batch's commit and its seal leaves the batch's links
 * without a checkpoint, and nothing used to seal them but the site's next append: verify said
 * `checkpoint_missing`, backups refused the store, `keys:retag` kept the old key, and the
 * tlog's background retry knew only the seals that failed in its own process. At start-up (in
 * the background, the server answering meanwhile) and every TLOG_UNSEALED_SWEEP_MS after (a
 * minute unset), every site's ledger and the vault audit log are read for a head past the last
 * checkpoint (a page of 500 sites' heads and checkpoints in one read each); each such log is counted
 * (`mdai_tlog_unsealed_logs`, /health `tlog.unsealedLogs`) and sealed, through its owner (every
 * entry is checked as a seal reads it: one the server did not write refuses the seal as an append
 * would). Replicas sweep alike: two seals of one log write the same nodes and each a valid
 * checkpoint (the store keeps one per size), as two appenders' do. The same sweep screens the
 * pending sync batches of MongoDB whose lease ran out (`OfflineSyncService.screenPendingBatches`:
 * a sync cut short between two inserts, its phone not sending them again); each marker is taken
 * by one replica (its lease), so replicas do not screen one twice. And each site's payroll
 * closes whose head names more closes than the log's latest signed checkpoint of them
 * (`PayrollCloseService.sealUnsealedCloses`: closed under an earlier release, linked at boot, a
 * failed seal, a stop between a close and its seal) are sealed when their chain checks.
 */
@Injectable()
export class UnsealedTailSweep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(UnsealedTailSweep.name);
  private timer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The wait between two sweeps (TLOG_UNSEALED_SWEEP_MS). */
  private readonly everyMs: number;

  constructor(
    private readonly modules: ModuleRef,
    @Inject(tlogConfig.KEY) settings: Pick<TlogSettings, 'unsealedSweepMs'>,
  ) {
    this.everyMs = settings.unsealedSweepMs ?? TLOG_UNSEALED_SWEEP_MS;
  }

  onApplicationBootstrap(): void {
    this.next(0);
  }

  /** A one-off job (`runAppJob`) is not a server: no sweep (one in flight is waited for). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** One sweep now (what the timer runs); returns how many logs were found unsealed. */
  async sweep(): Promise<number> {
    const ledger = this.modules.get(LedgerService, { strict: false });
    const audit = this.modules.get(VaultAuditService, { strict: false });
    let found = 0;
    try {
      found += await ledger.sealUnsealedTails();
    } catch (error) {
      this.logger.error({ err: error }, 'The site ledgers could not be read for unsealed links');
    }
    try {
      await this.modules.get(OfflineSyncService, { strict: false }).screenPendingBatches();
    } catch (error) {
      this.logger.error({ err: error }, 'The pending sync batches could not be read');
    }
    try {
      if (await audit.sealUnsealedTail()) found++;
    } catch (error) {
      this.logger.error(
        { err: error },
        'The vault audit log could not be read for unsealed records',
      );
    }
    try {
      found += await this.modules.get(PayrollCloseService, { strict: false }).sealUnsealedCloses();
    } catch (error) {
      this.logger.error({ err: error }, 'The payroll closes could not be read for unsealed closes');
    }
    return found;
  }

  private next(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sweep().then(
        () => this.next(this.everyMs),
        () => this.next(this.everyMs),
      );
    }, delayMs);
    this.timer.unref();
  }
}
