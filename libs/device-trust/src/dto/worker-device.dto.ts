import {
  DevicePageQuery,
  OBJECT_ID_PATTERN,
  IsIn,
  IsObject,
  IsOmittable,
  IsString,
  Length,
  Matches,
  ValidateNested,
  ApiProperty,
  ApiPropertyOptional,
  Type,
  IsFreeText,
  freeTextDescription,
} from '@app/common';

export class DeviceFingerprintDto {
  @ApiProperty({ example: 'Android 14' }) @IsString() @Length(1, 100) os!: string;
  @ApiProperty({ example: 'Redmi Note 12' }) @IsString() @Length(1, 100) model!: string;
  @ApiProperty({ description: 'Hash of the SIM identity, computed on the phone' })
  @IsString()
  @Length(8, 128)
  simHash!: string;
}

export class RegisterWorkerDeviceDto {
  @ApiProperty({ example: 'K7QF-3M9X-PA2D-8RWN' })
  @IsString()
  @Length(8, 64)
  enrollmentCode!: string;
  @ApiProperty({ type: DeviceFingerprintDto })
  @IsObject({ message: 'fingerprint must be an object {os, model, simHash}' })
  @ValidateNested()
  @Type(() => DeviceFingerprintDto)
  fingerprint!: DeviceFingerprintDto;
}

export class RegisterWorkerDeviceResponse {
  @ApiProperty() deviceId!: string;
  @ApiProperty({
    description:
      'base64 of 32 random bytes: the HMAC key for attendance packets. Shown once, stored encrypted.',
  })
  deviceSecret!: string;
  @ApiProperty({ example: 50 }) trustScore!: number;
  @ApiProperty({ description: 'ES256 JWT; check it with /api/v5/.well-known/jwks.json' })
  offlineToken!: string;
  @ApiProperty() offlineTokenExpiresAt!: string;
}

export class WorkerDeviceIdParam {
  @ApiProperty()
  @IsString()
  @Matches(OBJECT_ID_PATTERN, { message: 'deviceId must be a 24-hex id' })
  deviceId!: string;
}

export class WorkerDeviceStatusChangeDto {
  @ApiProperty({ example: 'phone reported stolen', description: freeTextDescription(3, 500) })
  @IsString()
  @Length(3, 500)
  @IsFreeText(3)
  reason!: string;
}

export class ListWorkerDevicesQuery extends DevicePageQuery {
  @ApiPropertyOptional({ description: 'Return devices after this deviceId (keyset pagination)' })
  @IsOmittable()
  @Matches(OBJECT_ID_PATTERN, { message: 'after must be a 24-hex id' })
  after?: string;
  @ApiPropertyOptional({ description: "Only this worker's phones (none for an unknown worker)" })
  @IsOmittable()
  @Matches(OBJECT_ID_PATTERN, { message: 'workerId must be a 24-hex id' })
  workerId?: string;
  @ApiPropertyOptional({
    enum: ['live'],
    description:
      '`live`: each device also carries `liveTrustScore`, its score now (as GET /api/v5/devices/{deviceId}/trust computes it), read for the whole page at once; `limit` at most 100 then',
  })
  @IsOmittable()
  @IsIn(['live'], { message: 'trust must be live' })
  trust?: 'live';
}

class FingerprintView {
  @ApiProperty() os!: string;
  @ApiProperty() model!: string;
  @ApiProperty() simHash!: string;
}

class DeviceUserView {
  @ApiProperty({ enum: ['worker', 'thekedar'] }) kind!: string;
  @ApiProperty() id!: string;
}

export class WorkerDeviceView {
  @ApiProperty() deviceId!: string;
  @ApiProperty({ type: DeviceUserView }) user!: DeviceUserView;
  @ApiProperty({
    type: [String],
    description:
      "The sites of the person when the phone registered; a worker's token refresh carries the worker's sites as they are then (GET /api/v5/workers/{workerId})",
  })
  siteIds!: string[];
  @ApiProperty({ type: FingerprintView }) fingerprint!: FingerprintView;
  @ApiProperty({
    minimum: 0,
    maximum: 100,
    description:
      "The score the device was given at registration (the person's standing then), stored with it and never updated: not the live score. The live score, with its factors (fraud history, device age, block state), is GET /api/v5/devices/{deviceId}/trust; each sync records the score of its moment as meta.deviceTrustScore",
  })
  trustScore!: number;
  @ApiPropertyOptional({
    minimum: 0,
    maximum: 100,
    description:
      'With `?trust=live` only: the live score now (baseline, device age, fraud history, block state); its factors are GET /api/v5/devices/{deviceId}/trust',
  })
  liveTrustScore?: number;
  @ApiProperty({
    description:
      'Blocked: by an admin or the trust floor, or because the stored block state does not verify (`blockIntegrity: tampered`): its syncs and token refreshes are refused (device_blocked)',
  })
  isBlocked!: boolean;
  @ApiProperty({
    enum: ['verified', 'legacy', 'tampered'],
    description:
      "Whether the server vouches for the stored block state (its store-MAC tag): `verified`; `legacy` (stored before the tags, tagged once at the upgrade: it holds as stored until the next block or unblock); `tampered` (changed outside the server, e.g. is_blocked set in the database: the device is treated as blocked, and an admin's block or unblock re-tags it)",
  })
  blockIntegrity!: string;
  @ApiPropertyOptional() lastSeen?: string;
  @ApiProperty() createdAt!: string;
}

export class WorkerDeviceEventView {
  @ApiProperty({ enum: ['registered', 'blocked', 'unblocked'] }) action!: string;
  @ApiProperty({ example: 'admin:3f2a9c1b0d4e' }) actor!: string;
  @ApiPropertyOptional() reason?: string;
  @ApiProperty() at!: string;
  @ApiProperty({
    enum: ['verified', 'legacy', 'tampered'],
    description:
      'Whether the server vouches for the event (its store-MAC tag): `verified`; `legacy` (stored before the tags, tagged once at the upgrade); `tampered` (inserted or changed outside the server: an `unblocked` one is no unblock for the trust floor, nor is one dated after now)',
  })
  integrity!: string;
}

export class WorkerDeviceDetailView extends WorkerDeviceView {
  @ApiProperty({ type: [WorkerDeviceEventView] }) events!: WorkerDeviceEventView[];
}
