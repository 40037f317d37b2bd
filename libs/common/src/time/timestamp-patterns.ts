/**
 * An ISO-8601 instant in UTC as devices send it: whole seconds, up to milliseconds, `Z`.
 * The shape only: check that it names a real instant with `new Date` where that matters.
 */
export const UTC_TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** A calendar day, YYYY-MM-DD (the shape only). */
export const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
