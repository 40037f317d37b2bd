/**
 * The field kinds a message declaration is made of. Each kind is at once a TypeScript type (the
 * frame types are derived from it), a runtime check (inbound frames are parsed with it, and
 * every documented example is checked with it) and a phrase for docs/protocol.md ("a string of
 * at most 128 characters"), so a bound is written once.
 */
export type JsonObject = { [key: string]: unknown };

export interface Field<T = unknown, Optional extends boolean = boolean> {
  readonly optional: Optional;
  /** What the value must be, completing "<type>.<field> must be …" (errors and the doc). */
  readonly expected: string;
  readonly accepts: (value: unknown) => boolean;
  /** Whether a bound beyond the kind limits it (a length, a range): listed under Limits. */
  readonly bounded: boolean;
  /** Type only: the value's TypeScript type. Never set. */
  readonly __value?: T;
}

export type ValueOf<F> = F extends Field<infer T, boolean> ? T : never;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field<T>(
  expected: string,
  accepts: (value: unknown) => boolean,
  bounded = false,
): Field<T, false> {
  return { optional: false, expected, accepts, bounded };
}

/** A string, optionally bounded in length (UTF-16 code units, as `length` counts). */
export function text(bounds: { min?: number; max?: number } = {}): Field<string, false> {
  const { min = 0, max } = bounds;
  const expected =
    max !== undefined
      ? `a string of ${min > 0 ? `${min} to ` : 'at most '}${max} characters`
      : min === 1
        ? 'a non-empty string'
        : min > 1
          ? `a string of at least ${min} characters`
          : 'a string';
  return field(
    expected,
    (value) =>
      typeof value === 'string' &&
      value.length >= min &&
      (max === undefined || value.length <= max),
    max !== undefined || min > 1,
  );
}

/** A whole number, optionally bounded (inclusive). */
export function wholeNumber(bounds: { min?: number; max?: number } = {}): Field<number, false> {
  const { min, max } = bounds;
  const range =
    min !== undefined && max !== undefined
      ? ` from ${min} to ${max}`
      : min !== undefined
        ? ` of at least ${min}`
        : max !== undefined
          ? ` of at most ${max}`
          : '';
  return field(
    `a whole number${range}`,
    (value) =>
      typeof value === 'number' &&
      Number.isInteger(value) &&
      (min === undefined || value >= min) &&
      (max === undefined || value <= max),
    min !== undefined || max !== undefined,
  );
}

/** Any JSON object (relayed payloads: their size is bounded by the frame limit). */
export function jsonObject(): Field<JsonObject, false> {
  return field('a JSON object', isObject);
}

/** Any JSON value (an upstream's answer body). */
export function anyJson(): Field<unknown, false> {
  return field('any JSON value', (value) => value !== undefined);
}

/** One of the given words. */
export function oneOf<const V extends string>(values: readonly V[]): Field<V, false> {
  return field(values.map((v) => `"${v}"`).join(' or '), (value) =>
    (values as readonly unknown[]).includes(value),
  );
}

/** A key of a code table (RELAY_ERROR_CODES, RESULT_CODES); `what` names the table. */
export function codeOf<const C extends Record<string, string>>(
  codes: C,
  what: string,
): Field<keyof C & string, false> {
  return field(what, (value) => typeof value === 'string' && Object.hasOwn(codes, value));
}

/** An instant as `Date.toISOString()` writes it. */
export function isoTime(): Field<string, false> {
  return field(
    'an ISO 8601 UTC time',
    (value) =>
      typeof value === 'string' &&
      !Number.isNaN(Date.parse(value)) &&
      new Date(value).toISOString() === value,
  );
}

/** The field may be left out (JSON has no undefined: present means checked). */
export function optional<T>(inner: Field<T, false>): Field<T, true> {
  return { ...inner, optional: true };
}

/**
 * True when `value` nests objects and arrays deeper than `max` (a value that is neither has
 * depth 0, `{}` depth 1). Stops at the first level past `max`, so its recursion stays shallow.
 */
export function deeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max <= 0) return true;
  const items = Array.isArray(value) ? value : Object.values(value as JsonObject);
  for (const item of items) if (deeperThan(item, max - 1)) return true;
  return false;
}
