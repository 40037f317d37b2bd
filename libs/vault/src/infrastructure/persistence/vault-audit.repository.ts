import {
  ChainHead,
  VaultAccessResult,
  VaultAction,
  VaultAuditRecord,
} from '../../domain/vault-audit-record';

/** What an auditor asks of the access log: each filter optional, all of them together. */
export interface VaultAuditCriteria {
  fileId?: string;
  /** `<role>:<key id>`, `anonymous`, or a service such as `relay`. */
  actor?: string;
  action?: VaultAction;
  result?: VaultAccessResult;
  /** Records after this seq (the page before's last). */
  afterSeq?: number;
  limit: number;
}

/** The hash-chained vault access log: one chain, appended strictly in order. */
export abstract class VaultAuditRepository {
  /**
   * Appends the record `link` builds from the current head, atomically: two concurrent
   * appends never get the same seq or the same prevHash. Throws when the store cannot write.
   */
  abstract appendToChain(
    link: (head: ChainHead | undefined) => VaultAuditRecord,
  ): Promise<VaultAuditRecord>;
  /** The recordHashes of seq fromSeq..toSeq (inclusive), in seq order. */
  abstract readRecordHashes(fromSeq: number, toSeq: number): Promise<string[]>;
  /** Records in seq order after `afterSeq` that match every filter given. */
  abstract listInOrder(criteria: VaultAuditCriteria): Promise<VaultAuditRecord[]>;
}
