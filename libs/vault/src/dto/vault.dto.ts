import {
  PageLimit,
  IsIn,
  IsInt,
  IsOmittable,
  IsString,
  Matches,
  Min,
  ApiProperty,
  ApiPropertyOptional,
  Type,
} from '@app/common';
import {
  VAULT_ACTIONS,
  VAULT_RESULTS,
  VaultAccessResult,
  VaultAction,
} from '../domain/vault-audit-record';

export class StoredFileView {
  @ApiProperty({ example: '6650f1c2a1b2c3d4e5f60718' }) fileId!: string;
  @ApiProperty({ example: 48213, description: 'Plaintext size in bytes' }) size!: number;
  @ApiProperty({ description: 'SHA-256 hex of the plaintext' }) sha256!: string;
}

export class DeletedFileView {
  @ApiProperty() fileId!: string;
  @ApiProperty({ description: 'When the data key was destroyed' }) deletedAt!: string;
}

export class VaultAuditQuery {
  @ApiPropertyOptional({ description: 'Only the records of this file' })
  @IsOmittable()
  @IsString()
  @Matches(/^[A-Za-z0-9_()-]{1,64}$/, { message: 'fileId must be a vault file id' })
  fileId?: string;

  @ApiPropertyOptional({
    description: 'Only the records of this actor: `<role>:<key id>`, `anonymous`, or a service',
    example: 'auditor:3f2a9c1b0d4e',
  })
  @IsOmittable()
  @IsString()
  @Matches(/^[A-Za-z0-9_.:-]{1,100}$/, { message: 'actor must be an actor as records show it' })
  actor?: string;

  @ApiPropertyOptional({ enum: VAULT_ACTIONS, description: 'Only the records of this action' })
  @IsOmittable()
  @IsIn(VAULT_ACTIONS)
  action?: VaultAction;

  @ApiPropertyOptional({
    enum: VAULT_RESULTS,
    description: 'Only the records with this result (`denied`: refused callers)',
  })
  @IsOmittable()
  @IsIn(VAULT_RESULTS)
  result?: VaultAccessResult;

  @ApiPropertyOptional({ description: 'Records after this seq (pagination)' })
  @IsOmittable()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after?: number;

  @PageLimit()
  limit?: number;
}

export class VaultAuditRecordView {
  @ApiProperty() seq!: number;
  @ApiProperty() fileId!: string;
  @ApiProperty({ example: 'auditor:3f2a9c1b0d4e' }) actor!: string;
  @ApiProperty({ example: 'auditor' }) role!: string;
  @ApiProperty({ example: '10.0.0.7' }) ip!: string;
  @ApiProperty({ example: 'fraud case 2026-114' }) purpose!: string;
  @ApiProperty({ enum: VAULT_ACTIONS }) action!: string;
  @ApiProperty({ enum: VAULT_RESULTS }) result!: string;
  @ApiPropertyOptional({ example: 'missing_purpose' }) reason?: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'When it happened (ISO 8601); null when the stored value is not a date (a tampered or damaged record: verify names it, record_hash_mismatch)',
  })
  at!: string | null;
  @ApiProperty() prevHash!: string;
  @ApiProperty() recordHash!: string;
}

export class VaultAuditVerificationView {
  @ApiProperty() ok!: boolean;
  @ApiProperty() length!: number;
  @ApiProperty() headHash!: string;
  @ApiPropertyOptional() brokenAtSeq?: number;
  @ApiPropertyOptional({
    enum: [
      'seq_gap',
      'prev_hash_mismatch',
      'record_hash_mismatch',
      'checkpoint_signature_invalid',
      'key_outside_window',
      'signed_at_mismatch',
      'signed_at_out_of_order',
      'checkpoint_mismatch',
      'checkpoint_missing',
      'tail_cut',
      'unauthenticated_entry',
    ],
    description:
      'unauthenticated_entry: a record past the last checkpoint was not written by the server (no valid server MAC, or fields that do not match it): no checkpoint is signed over it and the vault answers 503 audit_unavailable until an operator runs `vault:seal-foreign`',
  })
  reason?: string;
  @ApiProperty({ description: 'hex root of the RFC 6962 Merkle tree over the verified records' })
  rootHash!: string;
  @ApiProperty() checkpointsChecked!: number;
  @ApiProperty({ description: 'Checkpoints read from the witness file (outside the store)' })
  witnessedCheckpoints!: number;
}

export class VaultKeyUsageView {
  @ApiProperty({ example: 'v2' }) activeVersion!: string;
  @ApiProperty({
    example: { v2: 14 },
    description:
      'Sealed values per master key version, over every module: vault data keys, worker-device secrets, Wi-Fi passwords, session platform ids (what `npm run keys:reseal` reseals), and the phone outcomes the relay keeps for sessions not expired (`kept session outcomes`: never resealed, they go when the phone has them or the session ends)',
  })
  inUse!: Record<string, number>;
  @ApiProperty({
    example: {
      'vault data keys': { v2: 1 },
      'worker-device secrets': { v2: 12 },
      'wifi passwords': { v2: 1 },
      'session platform ids': {},
      'kept session outcomes': {},
    },
    description: 'The same counts by owner',
  })
  byOwner!: Record<string, Record<string, number>>;
  @ApiProperty({
    example: ['v1'],
    description:
      'Versions of VAULT_KEYS that nothing is sealed under, that no live server seals new values under (its active version, VAULT_ACTIVE_KEY) and that VAULT_KEYS does not list after the active version (a rotation adds its new version last with VAULT_ACTIVE_KEY pinned to the old one: that new version is about to be used): they can be dropped from VAULT_KEYS (what `npm run keys:reseal` prints)',
  })
  droppable!: string[];
  @ApiProperty({
    example: [],
    description:
      "Versions values are sealed under that this server's VAULT_KEYS does not hold (those values answer 503 key_unavailable here; when another live server holds the version, this one is behind a rollout: restart it with the current VAULT_KEYS; when none does, see `unheld`)",
  })
  missing!: string[];
  @ApiProperty({
    example: [],
    description:
      'Of `missing`, the versions no live server holds either (none recorded in the last 3 minutes): those values answer 503 key_unavailable on every server until one runs with a VAULT_KEYS that holds the version (a `keys:reseal --force` under a version the replicas lack, a version dropped too early, or a store restored from a backup taken before the version was dropped: add the dropped version back to VAULT_KEYS). /health is not degraded for them',
  })
  unheld!: string[];
}
