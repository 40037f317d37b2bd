import { applyDecorators } from '@nestjs/common';
import { Transform } from './transformers';
import {
  registerDecorator,
  ValidationOptions,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from './validators';

/**
 * Characters a name shown to people may not hold: C0 and C1 controls (NUL, escapes, line
 * breaks) and the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
 * U+2066–U+2069), which reorder the text around them wherever the name is shown (a console
 * cell, a CSV opened in a spreadsheet).
 */
// eslint-disable-next-line no-control-regex
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

@ValidatorConstraint({ name: 'isDisplayName' })
export class IsDisplayNameConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && !HIDDEN.test(value);
  }

  defaultMessage(): string {
    return 'must not hold control characters (line breaks, NUL…) or text-direction overrides';
  }
}

/**
 * A name shown to people (a site, a worker, a thekedar): trimmed of surrounding white space
 * (checks after it, such as `@Length(1, 200)`, see the trimmed name: one of spaces only is
 * empty), without controls or text-direction overrides.
 */
export function IsDisplayName(options?: ValidationOptions): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' ? value.trim() : value,
    ),
    (target: object, propertyName: string | symbol) =>
      registerDecorator({
        target: target.constructor,
        propertyName: propertyName as string,
        options,
        validator: IsDisplayNameConstraint,
      }),
  );
}
