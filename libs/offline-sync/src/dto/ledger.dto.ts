import {
  OBJECT_ID_PATTERN,
  IsInt,
  IsOmittable,
  IsString,
  IsUUID,
  Matches,
  Max,
  Min,
  ApiProperty,
  ApiPropertyOptional,
  Type,
} from '@app/common';

export class SiteIdParam {
  @ApiProperty()
  @IsString()
  @Matches(OBJECT_ID_PATTERN, { message: 'siteId must be a 24-hex id' })
  siteId!: string;
}

/**
 * The export's query: it takes no parameter (the whole chain, in seq order). Declared so that
 * the validation pipe refuses one sent (`limit=abc`, `after=…`) with `400 validation_failed`
 * naming it, as every listing refuses what it does not take, instead of ignoring it.
 */
export class LedgerExportQuery {}

export class LedgerVerificationView {
  @ApiProperty() ok!: boolean;
  @ApiProperty() length!: number;
  @ApiProperty({ description: 'recordHash of the last link (64 zeros for an empty chain)' })
  headHash!: string;
  @ApiPropertyOptional({ description: 'The first seq that does not verify' }) brokenAtSeq?: number;
  @ApiPropertyOptional({
    enum: [
      'seq_gap',
      'prev_hash_mismatch',
      'record_hash_mismatch',
      'wrong_log',
      'checkpoint_signature_invalid',
      'key_outside_window',
      'signed_at_mismatch',
      'signed_at_out_of_order',
      'checkpoint_mismatch',
      'checkpoint_missing',
      'tail_cut',
      'unauthenticated_entry',
    ],
  })
  reason?: string;
  @ApiProperty({ description: 'hex root of the RFC 6962 Merkle tree over the verified links' })
  rootHash!: string;
  @ApiProperty() checkpointsChecked!: number;
  @ApiProperty({ description: 'Checkpoints read from the witness file (outside the store)' })
  witnessedCheckpoints!: number;
}

export class CheckpointListQuery {
  @ApiPropertyOptional({ description: 'Only checkpoints of larger trees (default 0)' })
  @IsOmittable()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after?: number;

  @ApiPropertyOptional({ description: 'At most this many (default 100, max 1000)' })
  @IsOmittable()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class InclusionQuery {
  @ApiPropertyOptional({ description: 'The link, by seq (or give packetId)' })
  @IsOmittable()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  seq?: number;

  @ApiPropertyOptional({
    description:
      "The link, by packetId with its deviceId (or give seq): a packetId is unique per device, so it names a link only with the packet's device",
  })
  @IsOmittable()
  @IsUUID()
  packetId?: string;

  @ApiPropertyOptional({
    description: "With packetId, required: the packet's device",
  })
  @IsOmittable()
  @IsString()
  @Matches(OBJECT_ID_PATTERN, { message: 'deviceId must be a 24-hex id' })
  deviceId?: string;

  @ApiPropertyOptional({
    description: 'Prove against this tree size (default: the latest checkpoint)',
  })
  @IsOmittable()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  treeSize?: number;
}

export class InclusionProofView {
  @ApiProperty() origin!: string;
  @ApiProperty() seq!: number;
  @ApiProperty() leafIndex!: number;
  @ApiProperty({ description: "the link's recordHash (hex); leaf input = its 32 bytes" })
  recordHash!: string;
  @ApiProperty({ description: 'hex SHA-256(0x00 ‖ recordHash bytes)' }) leafHash!: string;
  @ApiProperty() treeSize!: number;
  @ApiProperty({ type: [String], description: 'base64 hashes, RFC 9162 §2.1.3 order' })
  inclusionProof!: string[];
  @ApiPropertyOptional({ description: 'The signed checkpoint of treeSize, when one was signed' })
  checkpoint?: string;
}
