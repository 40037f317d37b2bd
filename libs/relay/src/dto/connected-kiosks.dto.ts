import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsString,
  Matches,
  ApiProperty,
  Transform,
} from '@app/common';
import { DEVICE_ID_PATTERN } from '@app/kiosk-registry';

/** At most one page of the kiosk list (the console shows 20; the list API up to 500 in bulk). */
export const MAX_CONNECTED_QUERY = 100;

export class ConnectedKiosksQuery {
  @ApiProperty({
    type: [String],
    name: 'deviceId',
    description: `Repeat for each kiosk: ?deviceId=A&deviceId=B (1 to ${MAX_CONNECTED_QUERY})`,
    example: ['TEE-RDKX5-0001'],
  })
  // one ?deviceId= arrives as a string, several as an array
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? [value] : value))
  @IsArray({ message: 'deviceId must be given as ?deviceId=<id>, repeated for several' })
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_CONNECTED_QUERY)
  @IsString({ each: true })
  @Matches(DEVICE_ID_PATTERN, {
    each: true,
    message:
      'each deviceId must be 1-128 letters, digits or ._:- (starting with a letter or digit)',
  })
  deviceId!: string[];
}

export class KioskConnectionView {
  @ApiProperty({ example: 'TEE-RDKX5-0001' }) deviceId!: string;
  @ApiProperty({
    description:
      'An authenticated kiosk socket is in a pairing session on some instance right now (within one slot TTL)',
  })
  connected!: boolean;
}

export class ConnectedKiosksView {
  @ApiProperty({
    type: [KioskConnectionView],
    description: 'One per distinct deviceId asked, in order',
  })
  kiosks!: KioskConnectionView[];
}
