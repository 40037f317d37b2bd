import { ChainHead, VaultAuditRecord } from '../../domain/vault-audit-record';

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
  /** Records in seq order after `afterSeq`, optionally of one file. */
  abstract listInOrder(options: {
    fileId?: string;
    afterSeq?: number;
    limit: number;
  }): Promise<VaultAuditRecord[]>;
}
