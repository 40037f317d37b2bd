import {
  OBJECT_ID_PATTERN,
  SHA256_HEX_PATTERN,
  UTC_TIMESTAMP_PATTERN,
  IsString,
  Matches,
  ApiProperty,
} from '@app/common';

export class RefreshOfflineTokenDto {
  @ApiProperty({ example: '665f1c2e8b3e4a0012345678' })
  @IsString()
  @Matches(OBJECT_ID_PATTERN, { message: 'deviceId must be a 24-hex id' })
  deviceId!: string;

  @ApiProperty({
    example: '2026-03-01T09:30:00.000Z',
    description: "ISO-8601 UTC, within SYNC_MAX_CLOCK_SKEW_SECONDS (300) of the server's time",
  })
  @IsString()
  @Matches(UTC_TIMESTAMP_PATTERN, {
    message: 'timestamp must be ISO-8601 UTC (2026-03-01T09:30:00.000Z)',
  })
  timestamp!: string;

  @ApiProperty({
    description:
      'lowercase hex HMAC-SHA256, key = the device secret bytes, message = UTF-8 of `mdai.token-refresh.<deviceId>.<timestamp>`',
  })
  @IsString()
  @Matches(SHA256_HEX_PATTERN, { message: 'signature must be 64 lowercase hex characters' })
  signature!: string;
}

export class RefreshOfflineTokenResponse {
  @ApiProperty({
    description:
      'A new ES256 offline token for the same device, worker and sites. Its window runs from ' +
      'SYNC_MAX_CLOCK_SKEW_SECONDS before its issue time (the slack for a phone clock that runs ' +
      'slow) to its expiry: a packet recorded before that belongs to the previous token',
  })
  offlineToken!: string;
  @ApiProperty() offlineTokenExpiresAt!: string;
  @ApiProperty({
    description:
      'Until when packets recorded under this token still sync after it expires (OFFLINE_TOKEN_GRACE_DAYS)',
  })
  syncGraceEndsAt!: string;
}
