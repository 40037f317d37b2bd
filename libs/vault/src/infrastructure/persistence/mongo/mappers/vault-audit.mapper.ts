import {
  VaultAccessResult,
  VaultAction,
  VaultAuditRecord,
} from '../../../../domain/vault-audit-record';
import { VaultAuditDocument } from '../schemas/vault-audit.schema';

export class VaultAuditMongoMapper {
  static toDomain(doc: VaultAuditDocument): VaultAuditRecord {
    return {
      id: doc._id,
      seq: doc.seq,
      fileId: doc.fileId,
      actor: doc.actor,
      role: doc.role,
      ip: doc.ip,
      purpose: doc.purpose,
      action: doc.action as VaultAction,
      result: doc.result as VaultAccessResult,
      reason: doc.reason ?? undefined,
      at: new Date(doc.at),
      prevHash: doc.prevHash,
      recordHash: doc.recordHash,
    };
  }

  static toPersistence(record: VaultAuditRecord): VaultAuditDocument {
    return {
      _id: record.id,
      seq: record.seq,
      fileId: record.fileId,
      actor: record.actor,
      role: record.role,
      ip: record.ip,
      purpose: record.purpose,
      action: record.action,
      result: record.result,
      reason: record.reason ?? null,
      at: record.at,
      prevHash: record.prevHash,
      recordHash: record.recordHash,
    };
  }
}
