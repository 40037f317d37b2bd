import {
  IsInt,
  IsOmittable,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ApiProperty,
  ApiPropertyOptional,
  Type,
  CommonError,
} from '@app/common';
import { SignedCheckpoint } from '../domain/checkpoint';

export class LogKeyView {
  @ApiProperty({ description: 'First 16 hex digits of SHA-256 of the raw public key' })
  kid!: string;
  @ApiProperty({ example: 'Ed25519' }) alg!: string;
  @ApiProperty({ description: 'The 32-byte Ed25519 public key, base64' }) publicKey!: string;
  @ApiProperty({ enum: ['active', 'retired'] }) status!: string;
  @ApiPropertyOptional({ description: 'Start of the signing window (ISO-8601)' })
  notBefore?: string;
  @ApiPropertyOptional({
    description: 'End of the signing window (ISO-8601); absent for the active key',
  })
  notAfter?: string;
  @ApiPropertyOptional({
    description:
      'C2SP verifier key for the requested origin: <origin>+<key id hex>+<base64(0x01 ‖ key)>',
  })
  verifierKey?: string;
}

export class LogKeysView {
  @ApiProperty({ type: [LogKeyView] }) keys!: LogKeyView[];
}

export class LogKeysQuery {
  @ApiPropertyOptional({ description: 'A log origin, to get each key as a verifier key string' })
  @IsOmittable()
  @IsString()
  @MaxLength(200)
  @Matches(/^[A-Za-z0-9./_-]+$/)
  origin?: string;
}

export class WitnessQuery {
  @ApiPropertyOptional({ description: 'Byte offset to read the witness file from (default 0)' })
  @IsOmittable()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  offset?: number;
}

export class CheckpointView {
  @ApiProperty() origin!: string;
  @ApiProperty() treeSize!: number;
  @ApiProperty({ description: 'hex' }) rootHash!: string;
  @ApiProperty({
    description:
      "When it was signed (ISO-8601): the note's `timestamp <Unix ms>` line, when it has one (checkpoints signed before that line existed have none)",
  })
  signedAt!: string;
  @ApiProperty({ description: 'The C2SP tlog-checkpoint signed note, byte for byte' })
  note!: string;
}

export function toCheckpointView(c: SignedCheckpoint): CheckpointView {
  if (Number.isNaN(c.signedAt.getTime())) {
    // a hand-edited or damaged row (verify names it: signed_at_mismatch)
    throw new CommonError(
      'stored_record_invalid',
      `The stored checkpoint ${c.origin} of size ${c.size} (tlog_checkpoints) has no valid signed time; run the verify`,
    );
  }
  return {
    origin: c.origin,
    treeSize: c.size,
    rootHash: c.rootHash,
    signedAt: c.signedAt.toISOString(),
    note: c.note,
  };
}

export class ReceiptView {
  @ApiProperty() origin!: string;
  @ApiProperty() seq!: number;
  @ApiProperty({ description: 'seq − 1' }) leafIndex!: number;
  @ApiProperty({ description: 'hex SHA-256(0x00 ‖ recordHash bytes)' }) leafHash!: string;
  @ApiProperty() treeSize!: number;
  @ApiProperty({ type: [String], description: 'base64 hashes, RFC 9162 §2.1.3 order' })
  inclusionProof!: string[];
}

export class ConsistencyProofView {
  @ApiProperty() origin!: string;
  @ApiProperty() first!: number;
  @ApiProperty() second!: number;
  @ApiProperty({ type: [String], description: 'base64 hashes, RFC 9162 §2.1.4 order' })
  proof!: string[];
}

export class ConsistencyQuery {
  @ApiProperty() @Type(() => Number) @IsInt() @Min(1) @Max(Number.MAX_SAFE_INTEGER) first!: number;
  @ApiProperty() @Type(() => Number) @IsInt() @Min(1) @Max(Number.MAX_SAFE_INTEGER) second!: number;
}
