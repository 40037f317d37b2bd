import {
  DevicePageQuery,
  IsIn,
  IsOmittable,
  IsString,
  Length,
  Matches,
  MaxLength,
  ApiProperty,
  ApiPropertyOptional,
  IsFreeText,
  freeTextDescription,
} from '@app/common';

export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const DEVICE_ID_MESSAGE =
  'must be 1-128 characters: letters, digits and . _ : - (e.g. TEE-RDKX5-0001)';

export class RegisterDeviceDto {
  @ApiProperty({ example: 'TEE-RDKX5-0001' })
  @IsString()
  @Matches(DEVICE_ID_PATTERN, { message: `device_id ${DEVICE_ID_MESSAGE}` })
  device_id!: string;

  @ApiProperty({
    description: 'RSA (≥ 2048 bits) public key, SPKI PEM',
    example: '-----BEGIN PUBLIC KEY-----\n…',
  })
  @IsString()
  @Length(100, 16_384)
  public_key!: string;
}

export class SuccessResponse {
  @ApiProperty({ example: true }) success!: boolean;
}

export class RotateKeyDto {
  @ApiProperty({ description: 'The new RSA (≥ 2048 bits) public key, SPKI PEM' })
  @IsString()
  @Length(100, 16_384)
  public_key!: string;

  @ApiProperty({
    example: 'board replaced after water damage',
    description: freeTextDescription(3, 500),
  })
  @IsString()
  @Length(3, 500)
  @IsFreeText(3)
  reason!: string;
}

export class KioskStatusChangeDto {
  @ApiProperty({ example: 'reported stolen', description: freeTextDescription(3, 500) })
  @IsString()
  @Length(3, 500)
  @IsFreeText(3)
  reason!: string;
}

export class DeviceIdParam {
  @ApiProperty({ example: 'TEE-RDKX5-0001' })
  @IsString()
  @Matches(DEVICE_ID_PATTERN, { message: `device_id ${DEVICE_ID_MESSAGE}` })
  device_id!: string;
}

export class ListKiosksQuery extends DevicePageQuery {
  @ApiPropertyOptional({ description: 'Return devices after this device_id (keyset pagination)' })
  @IsOmittable()
  @Matches(DEVICE_ID_PATTERN, { message: `after ${DEVICE_ID_MESSAGE}` })
  after?: string;

  @ApiPropertyOptional({
    description: 'Only devices whose device_id starts with this (case-sensitive)',
    example: 'TEE-RDKX5',
  })
  @IsOmittable()
  @IsString()
  @MaxLength(128)
  prefix?: string;
}

export class KioskView {
  @ApiProperty() device_id!: string;
  @ApiProperty({ description: 'SHA-256 of the SPKI DER' }) key_fingerprint!: string;
  @ApiProperty({
    enum: ['active', 'blocked'],
    description:
      "Blocked: by an admin, or because the stored key and status do not verify (`integrity: tampered`): its Wi-Fi challenges, relay auth and pairings are refused as a blocked kiosk's",
  })
  @IsIn(['active', 'blocked'])
  status!: string;
  @ApiProperty() created_at!: string;
  @ApiProperty() updated_at!: string;
  @ApiProperty({
    enum: ['verified', 'legacy', 'tampered'],
    description:
      "Whether the server vouches for the stored public key and status (their store-MAC tag): `verified`; `legacy` (stored before the tags, tagged once at the upgrade: it holds as stored until the next rotation, block or unblock); `tampered` (changed outside the server, e.g. public_key_pem or status edited in the database: the kiosk is treated as blocked; an admin's key rotation with the kiosk's genuine key repairs it, blocked, and an unblock then makes it active)",
  })
  integrity!: string;
}

export class KioskEventView {
  @ApiProperty({ enum: ['registered', 'key_rotated', 'blocked', 'unblocked'] }) action!: string;
  @ApiProperty({ example: 'admin:3f2a9c1b0d4e' }) actor!: string;
  @ApiPropertyOptional() reason?: string;
  @ApiPropertyOptional() key_fingerprint?: string;
  @ApiPropertyOptional() previous_key_fingerprint?: string;
  @ApiProperty() at!: string;
}
