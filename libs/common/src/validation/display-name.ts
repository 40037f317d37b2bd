import { applyDecorators } from '@nestjs/common';
import { BIDI_CONTROLS } from './text.validators';
import { Transform } from './transformers';
import {
  Length,
  registerDecorator,
  ValidationArguments,
  ValidationOptions,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from './validators';

/**
 * Characters a name shown to people may not hold: C0 and C1 controls (NUL, escapes, line
 * breaks), the line and paragraph separators (U+2028, U+2029), the invisible marks and
 * joiners (U+200B–U+200F, U+061C, U+FEFF) and the bidirectional embeddings, overrides and
 * isolates (U+202A–U+202E, U+2066–U+2069), which hide text or reorder the text around them
 * wherever the name is shown (a console cell, a CSV opened in a spreadsheet). Zero-width
 * joiners inside a script's words (U+200C, U+200D: Devanagari conjuncts) are kept.
 */
const HIDDEN = new RegExp(
  `[\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b\\u200e\\u200f\\u2028\\u2029${BIDI_CONTROLS}\\ufeff]`,
);
/** A name says something: at least one letter or digit of any script. */
const SOMETHING = /[\p{L}\p{N}]/u;

@ValidatorConstraint({ name: 'isDisplayName' })
export class IsDisplayNameConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return (
      typeof value === 'string' && (value === '' || SOMETHING.test(value)) && !HIDDEN.test(value)
    );
  }

  defaultMessage(): string {
    return 'must hold a letter or digit, and no control characters (line breaks, NUL…), invisible marks or text-direction overrides';
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

/**
 * The length of a display name (after `@IsDisplayName` trimmed it): 1 to `max` characters. One
 * of white space only is told it is blank, not that it "must be longer than or equal to 1
 * characters".
 */
export function DisplayNameLength(max: number): PropertyDecorator {
  return Length(1, max, {
    message: (args: ValidationArguments) =>
      typeof args.value === 'string' && args.value.length === 0
        ? `${args.property} must not be blank (white space only is blank)`
        : `${args.property} must be at most ${max} characters`,
  });
}
