import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateNested,
  ApiProperty,
  ApiPropertyOptional,
  Type,
} from '@app/common';

export class SignedPacketDto {
  @ApiProperty({
    description:
      '{"packetId":"<uuid>","workerId","siteId","deviceId","type":"check_in"|"check_out","timestamp":"<ISO-8601 UTC>","geo":{"lat","lng","accuracyM"}}, kept exactly as signed',
  })
  @IsObject()
  payload!: Record<string, unknown>;

  @ApiProperty({ description: 'hex HMAC-SHA256 with the device secret bytes over JCS(payload)' })
  @IsString()
  @MaxLength(128)
  signature!: string;
}

export class SyncRequestDto {
  @ApiProperty({ type: [SignedPacketDto], maxItems: 500 })
  @IsArray()
  @ArrayMaxSize(5000)
  @ValidateNested({ each: true })
  @Type(() => SignedPacketDto)
  packets!: SignedPacketDto[];
}

export class PacketReceiptView {
  @ApiProperty() seq!: number;
  @ApiProperty({ description: 'seq − 1' }) leafIndex!: number;
  @ApiProperty({ description: 'hex SHA-256(0x00 ‖ recordHash bytes)' }) leafHash!: string;
  @ApiProperty({ description: 'Size of the tree of the checkpoint it is proven against' })
  treeSize!: number;
  @ApiProperty({ type: [String], description: 'base64 hashes, RFC 9162 §2.1.3 order' })
  inclusionProof!: string[];
}

export class SyncCheckpointView {
  @ApiProperty() siteId!: string;
  @ApiProperty() origin!: string;
  @ApiProperty() treeSize!: number;
  @ApiProperty({ description: 'hex' }) rootHash!: string;
  @ApiProperty({ description: 'C2SP tlog-checkpoint signed note (Ed25519), byte for byte' })
  note!: string;
}

export class PacketResultView {
  @ApiProperty() packetId!: string;
  @ApiProperty({ enum: ['accepted', 'duplicate', 'rejected'] }) status!: string;
  @ApiPropertyOptional({ example: 'invalid_signature' }) reason?: string;
  @ApiPropertyOptional() seq?: number;
  @ApiPropertyOptional() recordHash?: string;
  @ApiPropertyOptional({
    type: PacketReceiptView,
    description: 'Keep it: proves the link is in the log',
  })
  receipt?: PacketReceiptView;
}

export class SyncResponse {
  @ApiProperty({ type: [PacketResultView] }) results!: PacketResultView[];
  @ApiProperty() accepted!: number;
  @ApiProperty() duplicates!: number;
  @ApiProperty() rejected!: number;
  @ApiPropertyOptional({
    type: [SyncCheckpointView],
    description:
      'The signed checkpoints the receipts are proven against (absent with ?receipts=false)',
  })
  checkpoints?: SyncCheckpointView[];
}

export class SyncQuery {
  @ApiPropertyOptional({ description: 'false: no receipts in the answer (default true)' })
  @IsOptional()
  @IsIn(['true', 'false'])
  receipts?: string;
}
