import { ArgumentMetadata, Injectable, PipeTransform, Type } from '@nestjs/common';
import { getMetadataStorage } from './validators';
import { CommonError } from '../errors/common.errors';
import { FieldError } from '../errors/domain-error';

/**
 * A query parameter given more than once (`?from=a&from=b`) arrives as an array, which a
 * query of this API takes only where its DTO declares the field `@IsArray()` (e.g.
 * `?deviceId=A&deviceId=B`): any other is refused as that (400 `validation_failed`, "must be
 * given once", per parameter) before the ValidationPipe would say the array is not a date, a
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
      const repeatable = repeatableFields(metadata.metatype);
      for (const [key, item] of Object.entries(value)) {
        if (Array.isArray(item) && !repeatable.has(key)) errors.push(givenOnce(key));
      }
    }
    if (errors.length > 0)
      throw new CommonError('validation_failed', 'The request is invalid', errors);
    return value;
  }
}

const REPEATABLE = new WeakMap<Type, ReadonlySet<string>>();
const NONE: ReadonlySet<string> = new Set();

/** The fields a query DTO declares `@IsArray()`: those may be given more than once. */
function repeatableFields(metatype: Type | undefined): ReadonlySet<string> {
  if (typeof metatype !== 'function') return NONE;
  let fields = REPEATABLE.get(metatype);
  if (!fields) {
    fields = new Set(
      getMetadataStorage()
        .getTargetValidationMetadatas(metatype, '', true, false)
        .filter((m) => m.name === 'isArray')
        .map((m) => m.propertyName),
    );
    REPEATABLE.set(metatype, fields);
  }
  return fields;
}

function givenOnce(field: string): FieldError {
  return { field, message: 'must be given once' };
}
