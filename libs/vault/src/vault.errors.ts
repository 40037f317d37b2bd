import { CodeOf, DomainError } from '@app/common';

/** What the vault and its keyring refuse with (credential refusals are the common `unauthorized` / `forbidden`). */
export const VAULT_ERRORS = {
  module: 'vault',
  codes: {
    file_not_found: 'no vault file has this id',
    file_deleted: 'the vault file was deleted (retention or an admin) and cannot be recovered',
    missing_purpose:
      'the x-access-purpose header (3-200 printable characters saying why the file is read) is missing or invalid',
    payload_too_large: 'the upload is over VAULT_MAX_FILE_BYTES',
    unsupported_media_type: 'the vault stores images (image/*) or application/octet-stream only',
    image_type_mismatch:
      'the body does not start with the signature of its declared type (image/jpeg FF D8 FF, image/png 89 50 4E 47 0D 0A 1A 0A, image/webp RIFF....WEBP); nothing was stored',
    empty_file: 'the upload has no bytes; nothing was stored',
    request_aborted: 'the upload was interrupted before its end; nothing was stored',
    store_failed: 'the file could not be stored; nothing was kept',
    file_integrity_failed:
      'the stored file failed its integrity check and is not served (audited with the reason, logged without anything of the file): its blob was changed or damaged, or its metadata record (size, SHA-256, content type, creation time or creator, bound into the blob since version 3; a content type or time the vault never writes, for older files) was changed outside the server; a retry answers the same: restore the file or its record from a backup, or delete it',
    key_unavailable:
      'the data is sealed under a master key version the VAULT_KEYS of this server does not hold (another replica or a reseal uses a newer VAULT_KEYS, or the store was restored from a backup taken before the version was dropped): restart the server with a VAULT_KEYS that holds the version (the current one; after a restore, the dropped version added back); retry later',
    sealed_value_corrupt: 'a sealed value is malformed or fails authentication',
    audit_unavailable:
      'the vault audit log cannot be written, so the vault refuses access; also while a record past its last checkpoint carries no valid server MAC (written straight into the database: no checkpoint is signed over it, `/health` is degraded, verify says `unauthenticated_entry`) until an operator runs `vault:seal-foreign`',
    checkpoint_not_found: 'the vault audit log has no signed checkpoint yet',
  },
} as const;

export type VaultErrorCode = CodeOf<typeof VAULT_ERRORS>;

export class VaultError extends DomainError<VaultErrorCode> {
  readonly module = VAULT_ERRORS.module;
}
