import { ApiProperty, ApiPropertyOptional } from '../http/openapi-decorators';

class FieldErrorDto {
  @ApiProperty({ example: 'device_id' }) field!: string;
  @ApiProperty({
    example:
      'device_id must be 1-128 characters: letters, digits and . _ : - (e.g. TEE-RDKX5-0001)',
  })
  message!: string;
}

/** The JSON body of every error response. */
export class ErrorBody {
  @ApiProperty({ example: 400 }) statusCode!: number;
  @ApiProperty({ example: 'validation_failed' }) code!: string;
  @ApiProperty({ example: 'The request body is invalid' }) message!: string;
  @ApiProperty({ example: '6f1c8d1e-7e43-4a4e-9d7a-3f3c2f0d9b1a' }) correlationId!: string;
  @ApiPropertyOptional({ type: [FieldErrorDto] }) errors?: FieldErrorDto[];
}
