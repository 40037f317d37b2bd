import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from './openapi-decorators';
import { Type } from '../validation/transformers';
import { IsInt, Max, Min } from '../validation/validators';
import { IsOmittable } from '../validation/omittable';

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

/** The `limit` query field of a paged list: an integer 1–1000, 100 when absent. */
export function PageLimit(): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({ default: DEFAULT_PAGE_LIMIT, maximum: MAX_PAGE_LIMIT }),
    IsOmittable(),
    Type(() => Number),
    IsInt(),
    Min(1),
    Max(MAX_PAGE_LIMIT),
  );
}
