import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { Clock, Gauge, MetricsRegistry } from '@app/common';
import { LogVerification } from '@app/tlog';
import { VaultAuditService } from './vault-audit.service';
import { vaultConfig, VaultSettings } from './vault.config';

/** A sealed audit record the watch found failing its check (what `verify` would name). */
export interface TamperedAudit {
  seq: number;
  reason: NonNullable<LogVerification['reason']>;
  /** When this process first found it (epoch ms). */
  since: number;
}

/**
 * The vault audit watch: a sealed audit record changed in the database was found only when
 * someone asked (`GET /api/v5/vault/audit/verify`). Every `auditCheckMs` it walks up to
 * `auditCheckRecords` more records of `verify`'s walk (the chain, the Merkle tree, each stored
 * checkpoint's signature and root: `VaultAuditService.startPass`), going on where the last run
 * ended; a pass ends at the last checkpoint, and the next starts over from the first record. A
 * pass that fails names the record on /health (`vault.tamperedAudit`, gauge
 * `mdai_vault_audit_tampered`), logged once; a later pass that finds the log whole clears it.
 * Reported, not degraded: every replica reads the same store, so taking them out of rotation
 * repairs nothing (docs/architecture.md, "The vault audit watch").
 */
@Injectable()
export class VaultAuditWatch implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(VaultAuditWatch.name);
  private pass?: Awaited<ReturnType<VaultAuditService['startPass']>>;
  private found?: TamperedAudit;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private closing = false;
  private readonly everyMs: number;
  private readonly records: number;

  constructor(
    private readonly audit: VaultAuditService,
    private readonly clock: Clock,
    @Inject(vaultConfig.KEY) settings: VaultSettings,
    @Optional() metrics?: MetricsRegistry,
  ) {
    this.everyMs = settings.auditCheckMs;
    this.records = settings.auditCheckRecords;
    if (metrics) {
      const watch = () => this.found;
      new Gauge({
        name: 'mdai_vault_audit_tampered',
        help: "1 when this server's vault audit watch found a sealed audit record that fails its check (changed in the database after its seal; /health vault.tamperedAudit names it), else 0",
        registers: [metrics],
        collect() {
          this.set(watch() ? 1 : 0);
        },
      });
    }
  }

  onApplicationBootstrap(): void {
    this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** The sealed audit record found failing its check, until a pass finds the log whole. */
  tampered(): TamperedAudit | undefined {
    return this.found;
  }

  /** One run: up to `auditCheckRecords` records of the pass; true when the pass ended. */
  async run(): Promise<boolean> {
    this.pass ??= await this.audit.startPass();
    const result = await this.pass.step(this.records);
    if (!result) return false;
    this.pass = undefined;
    this.note(result);
    return true;
  }

  private schedule(): void {
    if (this.closing) return;
    this.timer = setTimeout(() => {
      this.running = this.run()
        .catch((error: unknown) => {
          // the store may be down: the next run starts a new pass
          this.pass = undefined;
          this.logger.warn({ err: error as Error }, 'Vault audit watch run failed');
        })
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.everyMs);
    this.timer.unref();
  }

  private note(result: LogVerification): void {
    if (result.ok) {
      if (this.found) {
        this.logger.log(
          { seq: this.found.seq },
          'Vault audit log checks again (the record the audit watch named was put back)',
        );
      }
      this.found = undefined;
      return;
    }
    const seq = result.brokenAtSeq ?? result.length + 1;
    const reason = result.reason ?? 'checkpoint_mismatch';
    if (this.found?.seq === seq && this.found.reason === reason) return;
    this.logger.error(
      { seq, reason },
      'Sealed vault audit record fails its check (changed in the database after its seal): named on /health (vault.tamperedAudit) until it is put back; GET /api/v5/vault/audit/verify',
    );
    this.found = { seq, reason, since: this.clock.now().getTime() };
  }
}
