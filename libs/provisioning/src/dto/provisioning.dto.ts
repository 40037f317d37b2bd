import {
  OBJECT_ID_PATTERN,
  IsBase64,
  IsString,
  Length,
  Matches,
  MaxUtf8Bytes,
  ApiProperty,
  ApiPropertyOptional,
} from '@app/common';
import { DEVICE_ID_PATTERN } from '@app/kiosk-registry';

export class GenerateChallengeDto {
  @ApiProperty({ example: 'TEE-RDKX5-0001' })
  @IsString()
  @Matches(DEVICE_ID_PATTERN, { message: 'device_id must be a registered kiosk id' })
  device_id!: string;

  @ApiProperty({
    example: 'Site-7 Office',
    description: '1 character to 32 bytes in UTF-8 (an 802.11 SSID is at most 32 octets)',
  })
  @IsString()
  @Length(1, 32)
  @MaxUtf8Bytes(32, { message: 'wifi_ssid must be at most 32 bytes in UTF-8 (802.11)' })
  wifi_ssid!: string;

  @ApiProperty({
    example: 'correct horse battery',
    description:
      'What WPA2 takes: empty for an open network, a passphrase of 8-63 printable ASCII characters (space to ~), or a pre-shared key of exactly 64 hex digits. Anything else: 400 invalid_wifi_password',
    maxLength: 64,
  })
  @IsString()
  @Length(0, 64)
  wifi_password!: string;
}

export class ChallengeQrPayload {
  @ApiProperty({
    example: '9f1c04be7a2d5e83c6b0417d',
    description:
      'the challenge id: 24 hex characters (an ObjectId in shape), all 96 bits random, so it cannot be guessed from other ids',
  })
  bson_id!: string;
  @ApiProperty({
    description: 'base64 RSA-OAEP (SHA-256, MGF1-SHA-256) of 32 random bytes under the kiosk key',
  })
  challenge!: string;
}

export class GenerateChallengeResponse {
  @ApiProperty({ example: true }) success!: boolean;
  @ApiProperty({ type: ChallengeQrPayload }) qr_payload!: ChallengeQrPayload;
  @ApiProperty({ example: '2026-11-21T15:30:00.000Z' }) expires_at!: string;
  @ApiProperty({
    example: 'https://mdai.example.org/api/challenges/9f1c04be7a2d5e83c6b0417d/qr?format=png',
    description: 'the QR as PNG (or SVG with format=svg), admin key; absolute, on PUBLIC_URL',
  })
  qr_url!: string;
}

export class ValidateChallengeDto {
  @ApiProperty({ example: '9f1c04be7a2d5e83c6b0417d' })
  @IsString()
  @Matches(OBJECT_ID_PATTERN, { message: 'bson_id must be 24 hex characters' })
  bson_id!: string;

  @ApiProperty({ description: 'base64 of the 32 decrypted bytes' })
  @IsString()
  @Length(1, 1024)
  @IsBase64(undefined, { message: 'challenge_response must be base64' })
  challenge_response!: string;
}

export class WifiCredentials {
  @ApiProperty() ssid!: string;
  @ApiProperty() password!: string;
}

export class ValidateChallengeResponse {
  @ApiProperty({ example: true }) success!: boolean;
  @ApiProperty({ type: WifiCredentials }) wifi_credentials!: WifiCredentials;
}

export class ChallengeIdParam {
  @ApiProperty({ example: '9f1c04be7a2d5e83c6b0417d' })
  @IsString()
  @Matches(OBJECT_ID_PATTERN, { message: 'bson_id must be 24 hex characters' })
  bson_id!: string;
}

export class ChallengeStateView {
  @ApiProperty() bson_id!: string;
  @ApiProperty() device_id!: string;
  @ApiProperty() wifi_ssid!: string;
  @ApiProperty({
    enum: ['waiting', 'used', 'locked', 'expired'],
    description:
      'waiting: not yet answered and before expires_at; used: the kiosk received the credentials; locked: too many wrong answers; expired: unanswered past expires_at',
  })
  state!: string;
  @ApiProperty() wrong_attempts!: number;
  @ApiProperty({ description: 'Wrong answers that lock the challenge' }) max_attempts!: number;
  @ApiProperty() created_at!: string;
  @ApiProperty() expires_at!: string;
  @ApiPropertyOptional() used_at?: string;
}
