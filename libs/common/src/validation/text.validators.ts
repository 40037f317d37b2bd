import {
  registerDecorator,
  ValidationArguments,
  ValidationOptions,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from './validators';

/**
 * Free text a person must write (a reason, a name): `@Length` counts white space, so `"   "`
 * passed a minimum of 3. The value is kept as sent (a thekedar signs the body it sends): a
 * value blank, or shorter than `min` once trimmed, is refused instead of trimmed.
 */
@ValidatorConstraint({ name: 'notBlank' })
export class NotBlankConstraint implements ValidatorConstraintInterface {
  validate(value: unknown, args: ValidationArguments): boolean {
    const [min] = args.constraints as [number];
    return typeof value === 'string' && value.trim().length >= min;
  }

  defaultMessage(args: ValidationArguments): string {
    const [min] = args.constraints as [number];
    return min <= 1
      ? `${args.property} must not be blank`
      : `${args.property} must hold at least ${min} characters besides white space`;
  }
}

/** A string with at least `min` (1) characters once white space at either end is left out. */
export function NotBlank(min = 1, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      constraints: [min],
      validator: NotBlankConstraint,
    });
}
