import { IsString, Length, Matches, ApiProperty } from '@app/common';
import { PLATFORM_ID_PATTERN } from '../session.service';

export class OpenMobileSessionDto {
  @ApiProperty({ example: 'user-8731' })
  @IsString()
  @Length(1, 128)
  user_id!: string;

  @ApiProperty({
    example: 'PLT_jjbmYWeq3o1W',
    description:
      'kept by the server, never sent to the kiosk; `PLT_` and 10 to 124 letters or digits',
    pattern: PLATFORM_ID_PATTERN.source,
  })
  @IsString()
  @Matches(PLATFORM_ID_PATTERN, {
    message: 'platform_id must be PLT_ followed by 10 to 124 letters or digits',
  })
  platform_id!: string;
}

export class SessionQrPayload {
  @ApiProperty({ example: 'session' }) type!: 'session';
  @ApiProperty() session_id!: string;
  @ApiProperty({ description: 'JWT that opens only /ws/device' }) token!: string;
  @ApiProperty({ example: 'wss://mdai.example.org/ws/device' }) ws_device_url!: string;
}

export class OpenMobileSessionResponse {
  @ApiProperty({ description: 'JWT that opens only /ws/mobile; stays on the phone' })
  token!: string;
  @ApiProperty() session_id!: string;
  @ApiProperty() expires_at!: string;
  @ApiProperty({ type: SessionQrPayload }) qr_payload!: SessionQrPayload;
}

export class LegacyAuthDto {
  @ApiProperty({ description: 'a hardware key (HARDWARE_API_KEYS)' })
  @IsString()
  @Length(1, 512)
  api_key!: string;
}

export class LegacyAuthResponse {
  @ApiProperty({ description: 'JWT for /ws/hardware and /ws/app (they pair by its jti)' })
  token!: string;
  @ApiProperty({ example: 180 }) expires_in!: number;
}
