import { Injectable, Logger } from '@nestjs/common';
import { AppError, newId } from '@app/common';
import {
  auditRecordHash,
  chainEntry,
  GENESIS_HASH,
  VaultAccessResult,
  VaultAction,
  VaultAuditRecord,
} from './domain/vault-audit-record';
import { VaultActor } from './domain/vault-file';
import { VaultAuditRepository } from './infrastructure/persistence/vault-audit.repository';

export interface AuditAttempt {
  fileId: string;
  actor: VaultActor;
  purpose: string;
  action: VaultAction;
  result: VaultAccessResult;
  reason?: string;
  at?: Date;
}

export interface AuditVerification {
  ok: boolean;
  length: number;
  headHash: string;
  /** The first seq whose record is missing, edited or mislinked. */
  brokenAtSeq?: number;
}

const VERIFY_PAGE = 1000;

/**
 * The vault's hash-chained access log. `record` either appends or throws 503
 * `audit_unavailable`: callers write the record first and act only when it succeeded.
 */
@Injectable()
export class VaultAuditService {
  private readonly logger = new Logger(VaultAuditService.name);

  constructor(private readonly records: VaultAuditRepository) {}

  async record(attempt: AuditAttempt): Promise<VaultAuditRecord> {
    try {
      return await this.records.appendToChain((head) =>
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
            at: attempt.at ?? new Date(),
          },
          head,
        ),
      );
    } catch (error) {
      this.logger.error(
        { error: (error as Error).message, action: attempt.action, fileId: attempt.fileId },
        'Vault audit write failed; access refused',
      );
      throw new AppError(
        503,
        'audit_unavailable',
        'The vault audit log cannot be written, so the vault refuses access',
      );
    }
  }

  /** For outcomes that happen after the response started (a chunk failing mid-stream). */
  async recordQuietly(attempt: AuditAttempt): Promise<void> {
    await this.record(attempt).catch(() => undefined);
  }

  list(options: {
    fileId?: string;
    afterSeq?: number;
    limit: number;
  }): Promise<VaultAuditRecord[]> {
    return this.records.listInOrder(options);
  }

  /** Walks the whole chain: a deleted, inserted or edited record breaks it at its seq. */
  async verify(): Promise<AuditVerification> {
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    for (;;) {
      const page = await this.records.listInOrder({
        afterSeq: expectedSeq - 1,
        limit: VERIFY_PAGE,
      });
      if (page.length === 0) break;
      for (const record of page) {
        const intact =
          record.seq === expectedSeq &&
          record.prevHash === prevHash &&
          auditRecordHash(record, record.seq, record.prevHash) === record.recordHash;
        if (!intact) {
          return {
            ok: false,
            length: expectedSeq - 1,
            headHash: prevHash,
            brokenAtSeq: expectedSeq,
          };
        }
        prevHash = record.recordHash;
        expectedSeq++;
      }
    }
    return { ok: true, length: expectedSeq - 1, headHash: prevHash };
  }
}
