import {
  ChainHead,
  TaggedVaultAuditRecord,
  VaultAccessResult,
  VaultAction,
  VaultAuditRecord,
  VaultAuditTag,
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
   * `tag`: the server's store MAC of the record as built, stored beside it in the same write
   * (`mac`, `mac_kid`; not part of the recordHash). Without it the record is stored untagged
   * (tests only: a seal refuses such a record past the last checkpoint).
   */
  abstract appendToChain(
    link: (head: ChainHead | undefined) => VaultAuditRecord,
    tag?: (record: VaultAuditRecord) => VaultAuditTag,
  ): Promise<VaultAuditRecord>;
  /** The recordHashes of seq fromSeq..toSeq (inclusive), in seq order. */
  abstract readRecordHashes(fromSeq: number, toSeq: number): Promise<string[]>;
  /**
   * The records of seq fromSeq..toSeq (inclusive), in seq order, each with the store MAC and
   * key id stored beside it (null when it has none): what a seal checks of the records it did
   * not append in hand.
   */
  abstract readTagged(fromSeq: number, toSeq: number): Promise<TaggedVaultAuditRecord[]>;
  /** The seq of the chain's head (0: empty). */
  abstract headSeq(): Promise<number>;
  /** Records in seq order after `afterSeq` that match every filter given. */
  abstract listInOrder(criteria: VaultAuditCriteria): Promise<VaultAuditRecord[]>;
}
