import {
  registerDecorator,
  ValidationOptions,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from '../validation/validators';
import { isValidTimeZone } from './time-zone';

@ValidatorConstraint({ name: 'isTimeZone' })
export class IsTimeZoneConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return isValidTimeZone(value);
  }

  defaultMessage(): string {
    return 'must be an IANA time zone name such as Asia/Kolkata';
  }
}

/** The property is an IANA time zone the runtime knows (checked with Intl). */
export function IsTimeZone(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: IsTimeZoneConstraint,
    });
}
