import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsObject,
  IsString,
  MaxLength,
  ValidateNested,
} from 'class-validator';

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

export class PacketResultView {
  @ApiProperty() packetId!: string;
  @ApiProperty({ enum: ['accepted', 'duplicate', 'rejected'] }) status!: string;
  @ApiPropertyOptional({ example: 'invalid_signature' }) reason?: string;
  @ApiPropertyOptional() seq?: number;
  @ApiPropertyOptional() recordHash?: string;
}

export class SyncResponse {
  @ApiProperty({ type: [PacketResultView] }) results!: PacketResultView[];
  @ApiProperty() accepted!: number;
  @ApiProperty() duplicates!: number;
  @ApiProperty() rejected!: number;
}
