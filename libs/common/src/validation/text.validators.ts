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
    if (typeof value !== 'string') return false;
    // shorter than `min` as sent is @Length's to say; this one says what white space hides
    return (value.length < min || value.trim().length >= min) && !CONTROLS.test(value);
  }

  defaultMessage(args: ValidationArguments): string {
    const [min] = args.constraints as [number];
    const length =
      min <= 1
        ? `${args.property} must not be blank`
        : `${args.property} must hold at least ${min} characters besides white space`;
    return `${length}, and no control characters (NUL, escapes) or text-direction overrides`;
  }
}

/**
 * What free text may not hold: C0 controls but tab and line breaks, C1 controls and the
 * bidirectional embeddings, overrides and isolates (an escape sequence or a reversal in an
 * audited reason shown later in a terminal, the console or a spreadsheet).
 */
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/**
 * A string with at least `min` (1) characters once white space at either end is left out, and
 * no control characters but tab and line breaks, nor text-direction overrides.
 */
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
