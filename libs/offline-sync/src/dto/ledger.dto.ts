import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';

export class SiteIdParam {
  @ApiProperty()
  @IsString()
  @Matches(/^[0-9a-f]{24}$/, { message: 'siteId must be a 24-hex id' })
  siteId!: string;
}

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
      'wrong_site',
      'checkpoint_mismatch',
      'checkpoint_signature_invalid',
    ],
  })
  reason?: string;
  @ApiProperty() checkpointsChecked!: number;
}

export class LedgerCheckpointView {
  @ApiProperty() siteId!: string;
  @ApiProperty() seq!: number;
  @ApiProperty() headHash!: string;
  @ApiProperty() signedAt!: string;
  @ApiProperty({ description: 'Key id in /api/v5/.well-known/jwks.json' }) kid!: string;
  @ApiProperty({ example: 'ES256' }) alg!: string;
  @ApiProperty({
    description:
      'base64url ES256 (r‖s) over JCS({type:"mdai.ledger-checkpoint",siteId,seq,headHash,signedAt,kid})',
  })
  signature!: string;
}
