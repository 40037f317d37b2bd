import { ApiPropertyOptional } from './openapi-decorators';
import { Type } from '../validation/transformers';
import { IsInt, Max, Min } from '../validation/validators';
import { IsOmittable } from '../validation/omittable';

/** The page size of the device lists (kiosks, worker phones); each adds its own `after`. */
export class DevicePageQuery {
  @ApiPropertyOptional({ default: 50, maximum: 500 })
  @IsOmittable()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}
