import { createHash } from 'node:crypto';

/** Metadata of one encrypted biometric file. The blob itself lives in UPLOADS_DIR. */
export interface VaultFile {
  /** ObjectId hex; also bound into the blob header and the data key's associated data. */
  id: string;
  contentType: string;
  /** Plaintext size in bytes. */
  size: number;
  /** SHA-256 hex of the plaintext. */
  sha256: string;
  /** The file's data key sealed by the keyring (`sealed1.<version>…`); undefined once shredded. */
  wrappedKey?: string;
  /** The master key version that wraps the data key. */
  keyVersion: string;
  /** Who stored it: `<role>:<key id>` or a service name. */
  createdBy: string;
  createdAt: Date;
  /** Set when the data key was destroyed (crypto-shredding). */
  shreddedAt?: Date;
  shredReason?: ShredReason;
}

export type ShredReason = 'deleted' | 'retention';

/** The metadata a version 3 blob's final chunk binds (docs/vault-format.md, §3). */
export type BoundMetadata = Pick<VaultFile, 'contentType' | 'createdAt' | 'createdBy'>;

/**
 * SHA-256 of the UTF-8 JSON text `["mdai-vault-meta1",<contentType>,<createdAt ISO-8601 UTC
 * with milliseconds>,<createdBy>]` (no white space): what the server decides on when it
 * serves (the type it sends) and keeps (the creation time retention reads) a file, beside the
 * size and SHA-256 the summary binds. The file id is bound by the header and the data key's
 * AAD; the key version by the sealed data key's own AAD.
 */
export function metadataDigest(file: BoundMetadata): Buffer {
  const text = JSON.stringify([
    'mdai-vault-meta1',
    file.contentType,
    file.createdAt.toISOString(),
    file.createdBy,
  ]);
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Who is acting on the vault, as recorded in the audit log. */
export interface VaultActor {
  /** `<role>:<key id>` for an API key, `anonymous`, or a service name such as `relay`. */
  actor: string;
  role: string;
  ip?: string;
}

/** What a caller gets back after storing a file. */
export interface StoredFile {
  fileId: string;
  size: number;
  sha256: string;
}
