import { ValidateIf, ValidationOptions } from './validators';

/**
 * The field may be left out. One rule for every body, query and setting of the API: a field
 * left out is absent; `null` is not "left out", it is a value, and it goes through the field's
 * checks like any other, so it is refused with a 400 naming the field ("must not be null", see
 * `flatten` in errors/validation.ts) instead of reaching a service as if it were absent (where
 * `!== undefined` tests let it through: `timeZone: null` and a correction's `at: null` answered
 * 500).
 *
 * Use this instead of class-validator's `@IsOptional`, which skips every check for `null` too
 * (ESLint refuses `IsOptional` imported from the common library outside this folder).
 */
export function IsOmittable(options?: ValidationOptions): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined, options);
}
