import {
  PageLimit,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  MaxLength,
  ApiProperty,
  ApiPropertyOptional,
} from '@app/common';
import { FRAUD_EVENT_TYPES, FraudEventType } from '../domain/fraud-event';

export class ListFraudEventsQuery {
  @ApiPropertyOptional({ enum: FRAUD_EVENT_TYPES })
  @IsOptional()
  @IsIn(FRAUD_EVENT_TYPES)
  type?: FraudEventType;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(64) deviceId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(64) workerId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(64) siteId?: string;

  @ApiPropertyOptional({ description: 'ISO-8601, inclusive' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'ISO-8601, inclusive' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({
    description: 'Opaque cursor from the x-next-cursor header of the previous page',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @PageLimit()
  limit?: number;
}

export class FraudEventView {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: FRAUD_EVENT_TYPES }) type!: string;
  @ApiPropertyOptional() deviceId?: string;
  @ApiPropertyOptional() workerId?: string;
  @ApiPropertyOptional() siteId?: string;
  @ApiPropertyOptional() packetId?: string;
  @ApiProperty() detail!: string;
  @ApiProperty() at!: string;
}
