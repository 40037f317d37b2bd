import {
  VaultAccessResult,
  VaultAction,
  VaultAuditRecord,
} from '../../../../domain/vault-audit-record';

export interface VaultAuditRow {
  seq: number;
  id: string;
  file_id: string;
  actor: string;
  role: string;
  ip: string;
  purpose: string;
  action: string;
  result: string;
  reason: string | null;
  at: string;
  prev_hash: string;
  record_hash: string;
}

/** A row with the store MAC and key id stored beside it (not part of the record). */
export interface TaggedVaultAuditRow extends VaultAuditRow {
  mac: string | null;
  mac_kid: string | null;
}

export class VaultAuditSqliteMapper {
  static toDomain(row: VaultAuditRow): VaultAuditRecord {
    return {
      seq: row.seq,
      id: row.id,
      fileId: row.file_id,
      actor: row.actor,
      role: row.role,
      ip: row.ip,
      purpose: row.purpose,
      action: row.action as VaultAction,
      result: row.result as VaultAccessResult,
      reason: row.reason ?? undefined,
      at: new Date(row.at),
      prevHash: row.prev_hash,
      recordHash: row.record_hash,
    };
  }

  static toPersistence(record: VaultAuditRecord): VaultAuditRow {
    return {
      seq: record.seq,
      id: record.id,
      file_id: record.fileId,
      actor: record.actor,
      role: record.role,
      ip: record.ip,
      purpose: record.purpose,
      action: record.action,
      result: record.result,
      reason: record.reason ?? null,
      at: record.at.toISOString(),
      prev_hash: record.prevHash,
      record_hash: record.recordHash,
    };
  }
}
