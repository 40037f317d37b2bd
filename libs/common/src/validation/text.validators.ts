import { applyDecorators } from '@nestjs/common';
import { Transform } from './transformers';
import {
  registerDecorator,
  ValidationArguments,
  ValidationOptions,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from './validators';

/**
 * The bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they
 * reorder the text around them wherever it is shown. A character class body, shared with the
 * display names' rule (display-name.ts).
 */
export const BIDI_CONTROLS = '\u202a-\u202e\u2066-\u2069';

/**
 * What free text may not hold: C0 controls but tab and line breaks, C1 controls and the
 * bidirectional controls (an escape sequence or a reversal in an audited reason shown later in
 * a terminal, the console or a spreadsheet).
 */
const CONTROLS = new RegExp(
  `[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f${BIDI_CONTROLS}]`,
);

/**
 * What shows nothing: white space, separators, controls and format characters (the zero-width
 * space, joiners, marks, U+FEFF, the bidirectional controls) and the blank letters (Hangul
 * fillers, the blank Braille pattern). A text of these only says nothing.
 */
const SHOWS_NOTHING = /[\s\p{Z}\p{Cc}\p{Cf}\u115f\u1160\u3164\uffa0\u2800]/gu;

/**
 * A character that shows something on its own: not one of SHOWS_NOTHING, and not a combining
 * mark either (U+0301, the variation selectors, U+034F, U+17B4: marks only modify a base, so a
 * text of marks alone shows nothing, though marks count towards the length of one that has a
 * base: "राम" is three).
 */
const BASE = /[^\s\p{Z}\p{Cc}\p{Cf}\p{M}\u115f\u1160\u3164\uffa0\u2800]/u;

/** How many characters of `text` show something (code points, not UTF-16 units). */
export function visibleLength(text: string): number {
  return [...text.replace(SHOWS_NOTHING, '')].length;
}

/**
 * Free text a person writes (a reason, a note): at least `min` characters that show something
 * (`"   "`, or zero-width spaces between them, are blank), no control characters but tab and
 * line breaks, no text-direction overrides.
 */
@ValidatorConstraint({ name: 'isFreeText' })
export class IsFreeTextConstraint implements ValidatorConstraintInterface {
  validate(value: unknown, args: ValidationArguments): boolean {
    const [min] = args.constraints as [number];
    if (typeof value !== 'string' || CONTROLS.test(value)) return false;
    // real text shorter than `min` as it is is @Length's to say (one entry, not two, for "ab");
    // this one says what white space and invisible marks hide (a blank one gets both)
    if (value.length < min && BASE.test(value)) return true;
    return visibleLength(value) >= min && (min < 1 || BASE.test(value));
  }

  defaultMessage(args: ValidationArguments): string {
    const [min] = args.constraints as [number];
    const visible =
      min <= 1
        ? `${args.property} must hold a visible character`
        : `${args.property} must hold at least ${min} visible characters`;
    return `${visible} (white space and invisible marks such as U+200B do not count), and no control characters other than line breaks and tabs, nor text-direction controls (U+202A–U+202E, U+2066–U+2069)`;
  }
}

/** What the OpenAPI document says of an `@IsFreeText(min)` field of at most `max` characters. */
export function freeTextDescription(min: number, max: number, keepAsSent = false): string {
  const visible =
    min <= 1 ? 'at least one visible character' : `at least ${min} visible characters`;
  const kept = keepAsSent
    ? "Kept as sent (a thekedar's signature covers it):"
    : 'Trimmed of surrounding white space, then';
  return `${kept} ${min} to ${max} characters with ${visible} (white space and invisible marks such as U+200B do not count); no control characters other than line breaks and tabs, no text-direction controls (U+202A–U+202E, U+2066–U+2069): else 400 validation_failed naming the field`;
}

/**
 * Free text a person writes (a reason, a note): trimmed of surrounding white space (`" test "`
 * is stored as `"test"`; a `@Length` after it sees the trimmed text), then refused (400 naming
 * the field) unless it holds at least `min` (1) visible characters and no control characters
 * but tab and line breaks, nor text-direction controls. `keepAsSent`: checked the same, not
 * trimmed: a body a thekedar may sign, stored with its signature over the body as sent (a
 * timesheet correction), must keep it verifiable.
 */
export function IsFreeText(
  min = 1,
  { keepAsSent = false, ...options }: ValidationOptions & { keepAsSent?: boolean } = {},
): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' && !keepAsSent ? value.trim() : value,
    ),
    (target: object, propertyName: string | symbol) =>
      registerDecorator({
        target: target.constructor,
        propertyName: propertyName as string,
        options,
        constraints: [min],
        validator: IsFreeTextConstraint,
      }),
  );
}

/**
 * A string of at most `max` bytes in UTF-8: a limit some other system counts in octets (an
 * 802.11 SSID is at most 32 octets; `@Length` counts UTF-16 code units, so 32 × "é", 64
 * bytes, passed). Not class-validator's `@IsByteLength`, whose `encodeURI` throws on a lone
 * surrogate.
 */
export function MaxUtf8Bytes(max: number, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      constraints: [max],
      validator: MaxUtf8BytesConstraint,
    });
}

@ValidatorConstraint({ name: 'maxUtf8Bytes' })
export class MaxUtf8BytesConstraint implements ValidatorConstraintInterface {
  validate(value: unknown, args: ValidationArguments): boolean {
    const [max] = args.constraints as [number];
    return typeof value === 'string' && Buffer.byteLength(value, 'utf8') <= max;
  }

  defaultMessage(args: ValidationArguments): string {
    const [max] = args.constraints as [number];
    return `${args.property} must be at most ${max} bytes in UTF-8`;
  }
}
