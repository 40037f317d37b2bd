import { jcs, sha256Hex } from '@app/common';
import { GENESIS_HASH } from '@app/tlog';

export { GENESIS_HASH };

export const VAULT_ACTIONS = ['store', 'read', 'delete', 'purge'] as const;
export type VaultAction = (typeof VAULT_ACTIONS)[number];

/** allowed: it happened; denied: the caller may not; failed: it may, but it could not be done. */
export const VAULT_RESULTS = ['allowed', 'denied', 'failed'] as const;
export type VaultAccessResult = (typeof VAULT_RESULTS)[number];

/** One access attempt, before it takes its place in the chain. */
export interface VaultAuditEntry {
  id: string;
  fileId: string;
  actor: string;
  role: string;
  ip: string;
  purpose: string;
  action: VaultAction;
  result: VaultAccessResult;
  /** A stable code for a denial or failure (e.g. `missing_purpose`, `tampered`). */
  reason?: string;
  at: Date;
}

/** An entry in the hash chain: `recordHash = SHA-256(JCS(fields + seq + prevHash))`. */
export interface VaultAuditRecord extends VaultAuditEntry {
  seq: number;
  prevHash: string;
  recordHash: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/** The canonical form that is hashed (docs/vault-format.md, "Audit chain"). */
export function auditRecordHash(entry: VaultAuditEntry, seq: number, prevHash: string): string {
  return sha256Hex(
    jcs({
      id: entry.id,
      seq,
      prevHash,
      fileId: entry.fileId,
      actor: entry.actor,
      role: entry.role,
      ip: entry.ip,
      purpose: entry.purpose,
      action: entry.action,
      result: entry.result,
      reason: entry.reason,
      at: auditTime(entry.at) ?? UNREADABLE_TIME,
    }),
  );
}

/**
 * What a stored `at` that is not a date (a tampered or damaged row) is hashed as: no record
 * the server wrote holds it, so the recomputed hash differs and verify names that record
 * (`record_hash_mismatch`) instead of failing as a whole.
 */
const UNREADABLE_TIME = 'unreadable';

/** The record's time in ISO 8601, or undefined when the stored value is not a date. */
export function auditTime(at: Date): string | undefined {
  return at instanceof Date && !Number.isNaN(at.getTime()) ? at.toISOString() : undefined;
}

/** Links an entry after the current head. */
export function chainEntry(entry: VaultAuditEntry, head: ChainHead | undefined): VaultAuditRecord {
  const seq = (head?.seq ?? 0) + 1;
  const prevHash = head?.hash ?? GENESIS_HASH;
  return { ...entry, seq, prevHash, recordHash: auditRecordHash(entry, seq, prevHash) };
}

/**
 * What a record's store MAC (`StoreMac`, purpose 'vault-audit') covers: its place in the log and
 * its recordHash. The seq is bound too, so a tag copied onto another position does not verify;
 * the record's fields are bound through the recordHash, which the seal hashes again from them.
 */
export function auditTagText(seq: number, recordHash: string): string {
  return `${seq}:${recordHash}`;
}

/** The server's store MAC of a record and the id of the key it was made under. */
export interface VaultAuditTag {
  mac: string;
  kid: string;
}

/** A stored record with the tag stored beside it (null: the row has none). */
export interface TaggedVaultAuditRecord {
  record: VaultAuditRecord;
  mac: string | null;
  kid: string | null;
}
