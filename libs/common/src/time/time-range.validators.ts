import {
  registerDecorator,
  ValidationArguments,
  ValidationError,
  ValidationOptions,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from '../validation/validators';
import { DAY_PATTERN } from './timestamp-patterns';

/**
 * The time ranges of the listings (`from`/`to` of timesheets, payroll, the CSV, fraud events),
 * checked the same way everywhere: each bound by its decorator here, and their order by
 * `@NotBefore('from')` on `to`, which the validation pipe answers with its own 400 code,
 * `invalid_period`, when the order is all that is wrong (see `invertedRangeOnly`).
 */

/**
 * An instant: a day `YYYY-MM-DD` (midnight UTC), or a date and time with a zone, `Z` or
 * `±hh:mm` (a time without a zone would be read in the server's zone).
 */
const INSTANT_PATTERN =
  /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** `YYYY-MM-DD` that names a day of the calendar (not 2026-02-30). */
export function isCalendarDay(value: unknown): value is string {
  if (typeof value !== 'string' || !DAY_PATTERN.test(value)) return false;
  const [y, m, d] = value.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** An instant as INSTANT_PATTERN says, on a real calendar day and clock time. */
export function isInstant(value: unknown): value is string {
  if (typeof value !== 'string' || !INSTANT_PATTERN.test(value)) return false;
  if (!isCalendarDay(value.slice(0, 10))) return false;
  const time = value.slice(11, 19);
  if (time && (Number(time.slice(0, 2)) > 23 || Number(time.slice(3, 5)) > 59)) return false;
  if (time.length === 8 && Number(time.slice(6, 8)) > 59) return false;
  return !Number.isNaN(Date.parse(value));
}

/** The milliseconds of a bound (a day is its midnight UTC), NaN when it is none. */
function boundMs(value: unknown): number {
  return isInstant(value) ? Date.parse(value) : NaN;
}

/**
 * An inclusive end bound as an instant: a day `YYYY-MM-DD` is its last millisecond (UTC), a
 * date-time is itself (the fraud events' `to`; a range of days compares the same either way).
 */
export function endOfBound(to: string): Date {
  return new Date(endBoundMs(to));
}

/** `endOfBound` in milliseconds, NaN when it is none. */
function endBoundMs(value: unknown): number {
  if (!isInstant(value)) return NaN;
  const ms = Date.parse(value);
  return DAY_PATTERN.test(value) ? ms + 86_400_000 - 1 : ms;
}

/**
 * The local days a timesheet period, a payroll, a close or a page of closes may name: from the
 * Unix epoch (as a correction's instants) to the last day of year 9998. The end is a year short
 * of what `YYYY-MM-DD` can write: a period's end is read up to the start of its next local day,
 * in any zone (UTC-12 to UTC+14), and the day after 9999-12-31 has no 4-digit year (the payroll
 * of `to=9999-12-31` answered 500). Years 0000 to 0099 never were days (`isCalendarDay`).
 */
export const EARLIEST_DAY = '1970-01-01';
export const LATEST_DAY = '9998-12-31';

/** A calendar day (`isCalendarDay`) from EARLIEST_DAY to LATEST_DAY. */
export function isBoundedDay(value: unknown): value is string {
  return isCalendarDay(value) && value >= EARLIEST_DAY && value <= LATEST_DAY;
}

@ValidatorConstraint({ name: 'isDay' })
export class IsDayConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return isBoundedDay(value);
  }

  defaultMessage(args: ValidationArguments): string {
    return `${args.property} must be a calendar day YYYY-MM-DD from ${EARLIEST_DAY} to ${LATEST_DAY}`;
  }
}

@ValidatorConstraint({ name: 'isInstant' })
export class IsInstantConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return isInstant(value);
  }

  defaultMessage(args: ValidationArguments): string {
    return `${args.property} must be a day YYYY-MM-DD or an ISO-8601 date-time with a zone (Z or ±hh:mm)`;
  }
}

/** The constraint name of `@NotBefore`: the pipe tells an inverted range by it. */
export const NOT_BEFORE = 'notBefore';

@ValidatorConstraint({ name: NOT_BEFORE })
export class NotBeforeConstraint implements ValidatorConstraintInterface {
  validate(value: unknown, args: ValidationArguments): boolean {
    const [other] = args.constraints as [string];
    // `to` is inclusive: a day there is the whole day (from=…T12:00Z&to=<that day> is a range)
    const end = endBoundMs(value);
    const start = boundMs((args.object as Record<string, unknown>)[other]);
    // a bound that is absent or malformed is its own decorator's to report
    return Number.isNaN(end) || Number.isNaN(start) || end >= start;
  }

  defaultMessage(args: ValidationArguments): string {
    const [other] = args.constraints as [string];
    return `${args.property} must not be before ${other}`;
  }
}

function register(
  validator: new () => ValidatorConstraintInterface,
  constraints: unknown[] = [],
  options?: ValidationOptions,
): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      constraints,
      validator,
    });
}

/** A local calendar day `YYYY-MM-DD` from EARLIEST_DAY to LATEST_DAY (timesheet periods). */
export function IsDay(options?: ValidationOptions): PropertyDecorator {
  return register(IsDayConstraint, [], options);
}

/** An instant: `YYYY-MM-DD` (midnight UTC) or a date-time with `Z` or `±hh:mm`. */
export function IsInstant(options?: ValidationOptions): PropertyDecorator {
  return register(IsInstantConstraint, [], options);
}

/**
 * The end of a range: not before the property `start` (equal is a range of one instant or
 * day). Only checked when both bounds are well formed.
 */
export function NotBefore(start: string, options?: ValidationOptions): PropertyDecorator {
  return register(NotBeforeConstraint, [start], options);
}

/** True when every failed check is `@NotBefore`: the request is well formed but inverted. */
export function invertedRangeOnly(errors: ValidationError[]): boolean {
  const names = errors.flatMap((e) => [
    ...Object.keys(e.constraints ?? {}),
    ...(e.children?.length ? ['nested'] : []),
  ]);
  return names.length > 0 && names.every((name) => name === NOT_BEFORE);
}
