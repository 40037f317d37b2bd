import { ShredReason, VaultFile } from '../../domain/vault-file';

/** Metadata and wrapped data keys of vault files. */
export abstract class VaultFileRepository {
  abstract create(file: VaultFile): Promise<void>;
  abstract findById(id: string): Promise<VaultFile | undefined>;
  /**
   * Replaces the wrapped data key only if it is still `expectedWrappedKey` and the file is not
   * shredded (a concurrent rotation or deletion wins); true when replaced.
   */
  abstract replaceWrappedKey(
    id: string,
    expectedWrappedKey: string,
    next: { wrappedKey: string; keyVersion: string },
  ): Promise<boolean>;
  /** Destroys the wrapped data key (crypto-shredding); false when unknown or already shredded. */
  abstract shred(id: string, reason: ShredReason, at: Date): Promise<boolean>;
  /**
   * Live files whose id sorts before `idBound` (`firstIdAt`: made before that second by the
   * id's own stamp, which the blob header and the data key's AAD authenticate), by id.
   */
  abstract listLiveIdBefore(idBound: string, limit: number): Promise<VaultFile[]>;
  /** Live files whose data key is wrapped by another version than `version`. */
  abstract listLiveNotWrappedBy(version: string, limit: number): Promise<VaultFile[]>;
  /** How many live files each master key version wraps. */
  abstract countLiveByKeyVersion(): Promise<Record<string, number>>;
}
