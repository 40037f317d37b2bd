import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { CommonError } from '../errors/common.errors';
import { FieldError } from '../errors/domain-error';

/**
 * A query parameter given more than once (`?from=a&from=b`) arrives as an array, which no
 * query of this API takes: it is refused as that (400 `validation_failed`, "must be given
 * once", per parameter) before the ValidationPipe would say the array is not a date, a
 * number or an id. Runs before the ValidationPipe (app.module.ts), on `@Query()` only.
 */
@Injectable()
export class SingleQueryValuePipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'query') return value;
    const errors: FieldError[] = [];
    if (metadata.data !== undefined) {
      // @Query('name'): that one parameter
      if (Array.isArray(value)) errors.push(givenOnce(metadata.data));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (Array.isArray(item)) errors.push(givenOnce(key));
      }
    }
    if (errors.length > 0)
      throw new CommonError('validation_failed', 'The request is invalid', errors);
    return value;
  }
}

function givenOnce(field: string): FieldError {
  return { field, message: 'must be given once' };
}
