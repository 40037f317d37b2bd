import { ApiProperty } from '@app/common';

export class TrustFactorView {
  @ApiProperty({
    example: 'fraud_history',
    enum: [
      'baseline',
      'device_age',
      'fraud_history',
      'unsigned_rejections',
      'packet_flood',
      'user_agent',
      'app_version',
      'device_id_header',
      'ip',
      'block_state',
    ],
  })
  name!: string;
  @ApiProperty({ example: -13, description: 'Points added (negative: taken off)' })
  effect!: number;
  @ApiProperty({ example: 'impossible_travel x1, rapid_repeat x3 in the last 30 days' })
  detail!: string;
}

export class DeviceTrustView {
  @ApiProperty() deviceId!: string;
  @ApiProperty({ minimum: 0, maximum: 100, description: 'Sum of the effects, rounded, clamped' })
  score!: number;
  @ApiProperty({ type: [TrustFactorView] }) factors!: TrustFactorView[];
  @ApiProperty() computedAt!: string;
}
