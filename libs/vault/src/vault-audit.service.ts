import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock, newId } from '@app/common';
import {
  ChainVerifier,
  GroupSeal,
  LogVerification,
  LogVerifierService,
  Receipt,
  SignedCheckpoint,
  TransparencyLogService,
} from '@app/tlog';
import {
  auditRecordHash,
  chainEntry,
  VaultAccessResult,
  VaultAction,
  VaultAuditRecord,
} from './domain/vault-audit-record';
import { VaultActor } from './domain/vault-file';
import {
  VaultAuditCriteria,
  VaultAuditRepository,
} from './infrastructure/persistence/vault-audit.repository';
import { tlogConfig, TlogSettings } from '@app/tlog';
import { VaultError } from './vault.errors';

export interface AuditAttempt {
  fileId: string;
  actor: VaultActor;
  purpose: string;
  action: VaultAction;
  result: VaultAccessResult;
  reason?: string;
  at?: Date;
}

export type AuditVerification = LogVerification;

/** An audit record with the proof that it is in the signed log. */
export interface AuditReceipt extends Receipt {
  origin: string;
  recordHash: string;
  checkpoint: string;
}

const VERIFY_PAGE = 1000;

/**
 * The vault's access log: a hash chain on the shared transparency log (`@app/tlog`), each
 * record covered by a signed checkpoint before `record` returns. Seals are group commits
 * (`GroupSeal`): records appended while a seal is in flight are sealed together by the next,
 * one checkpoint for the group, so a burst of accesses (or of refused requests) costs a
 * checkpoint per seal time, not per record. `record` either appends and is sealed, or throws
 * 503 `audit_unavailable`: callers write the record first and act only when it succeeded.
 */
@Injectable()
export class VaultAuditService {
  private readonly logger = new Logger(VaultAuditService.name);
  readonly origin: string;
  private readonly seals: GroupSeal;

  constructor(
    private readonly records: VaultAuditRepository,
    private readonly tlog: TransparencyLogService,
    private readonly verifier: LogVerifierService,
    private readonly clock: Clock,
    @Inject(tlogConfig.KEY) tlogSettings: TlogSettings,
  ) {
    this.origin = `${tlogSettings.origin}/vault-audit`;
    this.seals = new GroupSeal(tlog, this.origin, (from, to) =>
      this.records.readRecordHashes(from, to),
    );
  }

  async record(attempt: AuditAttempt): Promise<VaultAuditRecord> {
    return (await this.recordWithReceipt(attempt)).record;
  }

  /**
   * Appends the record, waits for the (group) seal whose signed checkpoint covers it, and
   * proves the record in that checkpoint.
   */
  async recordWithReceipt(
    attempt: AuditAttempt,
  ): Promise<{ record: VaultAuditRecord; receipt: AuditReceipt }> {
    try {
      const record = await this.records.appendToChain((head) =>
        chainEntry(
          {
            id: newId(),
            fileId: attempt.fileId,
            actor: attempt.actor.actor,
            role: attempt.actor.role,
            ip: attempt.actor.ip ?? '',
            purpose: attempt.purpose,
            action: attempt.action,
            result: attempt.result,
            reason: attempt.reason,
            at: attempt.at ?? this.clock.now(),
          },
          head,
        ),
      );
      const sealed = await this.seals.seal(record.seq, record.recordHash);
      return {
        record,
        receipt: {
          ...sealed.receipt,
          origin: this.origin,
          recordHash: record.recordHash,
          checkpoint: sealed.checkpoint.note,
        },
      };
    } catch (error) {
      this.logger.error(
        { err: error, action: attempt.action, fileId: attempt.fileId },
        'Vault audit write failed; access refused',
      );
      throw new VaultError(
        'audit_unavailable',
        'The vault audit log cannot be written, so the vault refuses access',
      );
    }
  }

  /** For outcomes that happen after the response started (a chunk failing mid-stream). */
  async recordQuietly(attempt: AuditAttempt): Promise<void> {
    await this.record(attempt).catch(() => undefined);
  }

  list(criteria: VaultAuditCriteria): Promise<VaultAuditRecord[]> {
    return this.records.listInOrder(criteria);
  }

  latestCheckpoint(): Promise<SignedCheckpoint | undefined> {
    return this.tlog.latest(this.origin);
  }

  /**
   * Walks the whole chain, the Merkle tree, every checkpoint and the witness file: a deleted,
   * inserted or edited record, a re-hashed chain and a cut tail all fail.
   */
  verify(): Promise<AuditVerification> {
    return this.verifier.verify(
      this.origin,
      (after) => this.walk(after),
      new ChainVerifier<VaultAuditRecord>((r) => auditRecordHash(r, r.seq, r.prevHash)),
    );
  }

  /** The chain a page at a time (the verifier yields to the event loop between pages). */
  private async *walk(after = 0): AsyncGenerator<VaultAuditRecord[]> {
    for (;;) {
      const page = await this.records.listInOrder({ afterSeq: after, limit: VERIFY_PAGE });
      if (page.length > 0) yield page;
      if (page.length < VERIFY_PAGE) return;
      after = page[page.length - 1].seq;
    }
  }
}
