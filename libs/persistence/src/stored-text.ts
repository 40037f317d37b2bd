/**
 * Stored text is canonical: the one rule for a stored value that a tag covers, or that SQL
 * selects, sorts or indexes on. A tag covers the value the server parses out of the row, while
 * a query reads the stored text with semantics of its own: SQLite's `json_extract` takes the
 * FIRST of duplicate keys where `JSON.parse` takes the last, a date is compared as text while
 * the tag covers the parsed instant, an integer flag is read as `=== 1` where a decision reads
 * `!== 0`. So the stored form must be the one the server writes for the value it parses to:
 *
 * - JSON text: `JSON.stringify(JSON.parse(text)) === text` (every JSON column is written with
 *   `JSON.stringify`: no duplicate key, no whitespace, no escape or number spelled otherwise).
 *   The key order is left as stored: earlier releases wrote their own orders, and without a
 *   duplicate key the order changes no SQL read.
 * - SQLite time: the ISO text `Date#toISOString` writes (`canonicalSqliteTime`).
 * - SQLite flag: the integer 0 or 1.
 * - MongoDB: the BSON type the server writes (a Date, a boolean, a string): MongoDB compares by
 *   type first, so a number or a string with the same instant escapes a `$gte: Date` filter.
 *
 * A row with any other form reads as tampered, with its record's consequence (a device blocked,
 * a worker refused with `worker_tampered` …).
 */

/** Whether a stored JSON text is exactly what `JSON.stringify` writes for its parsed value. */
export function canonicalJsonText(stored: unknown): boolean {
  if (typeof stored !== 'string') return false;
  try {
    return JSON.stringify(JSON.parse(stored)) === stored;
  } catch {
    return false;
  }
}

/**
 * Whether a stored SQLite time is the canonical ISO text the server writes. The tags cover the
 * parsed instant, but the queries compare the stored text: `+002026-01-01T00:00:00.000Z` or
 * `Mon Dec 07 2026 04:08:02.607 GMT+0000` parse to the same instant yet sort elsewhere, so a
 * time stored in any other spelling reads as tampered.
 */
export function canonicalSqliteTime(stored: unknown): boolean {
  if (typeof stored !== 'string') return false;
  const at = new Date(stored);
  return !Number.isNaN(at.getTime()) && at.toISOString() === stored;
}

/** Whether a stored SQLite flag is the integer 0 or 1 the server writes. */
export function canonicalSqliteFlag(stored: unknown): boolean {
  return stored === 0 || stored === 1;
}

/**
 * Whether a stored MongoDB time is a BSON date: a number or a string with the same instant
 * escapes the `$gte: Date` filters (MongoDB compares by type first), so it reads as tampered.
 */
export function canonicalMongoTime(stored: unknown): boolean {
  return stored instanceof Date && !Number.isNaN(stored.getTime());
}

/** Whether a stored MongoDB flag is a BSON boolean (`{ $ne: true }` also matches `1`, `'true'`). */
export function canonicalMongoFlag(stored: unknown): boolean {
  return stored === true || stored === false;
}

/**
 * Whether a stored MongoDB value holds JSON values only (strings, finite numbers, booleans, null,
 * arrays and plain objects), as the server writes a hashed text's values: a BSON date in their
 * place serializes (`toJSON`) to the same JCS text, so it would verify, while a query compares it
 * as another type.
 */
export function canonicalMongoJson(stored: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (stored === null || typeof stored === 'string' || typeof stored === 'boolean') return true;
  if (typeof stored === 'number') return Number.isFinite(stored);
  if (typeof stored !== 'object') return false;
  if (Array.isArray(stored)) return stored.every((v) => canonicalMongoJson(v, depth + 1));
  const proto = Object.getPrototypeOf(stored) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(stored).every((v) => v === undefined || canonicalMongoJson(v, depth + 1));
}

/**
 * What each checked column of a row holds: `json` (JSON text), `time` (SQLite ISO time),
 * `flag` (SQLite 0/1), `mongoTime` (BSON date), `mongoFlag` (BSON boolean), `string` (a BSON
 * string); a trailing `?` allows null or absent.
 */
export type StoredForm =
  | 'json'
  | 'time'
  | 'flag'
  | 'mongoTime'
  | 'mongoFlag'
  | 'string'
  | 'json?'
  | 'time?'
  | 'mongoTime?'
  | 'string?';

/** The forms a read holds a row's columns to (`storedFormsCanonical`). */
export type StoredForms<R extends object> = Partial<Record<keyof R & string, StoredForm>>;

const CHECKS: Record<string, (stored: unknown) => boolean> = {
  json: canonicalJsonText,
  time: canonicalSqliteTime,
  flag: canonicalSqliteFlag,
  mongoTime: canonicalMongoTime,
  mongoFlag: canonicalMongoFlag,
  string: (stored) => typeof stored === 'string',
};

/**
 * Whether every column `forms` names holds its canonical form in `row` (the row as the driver
 * returned it): the one check each store's read makes before it trusts a tag over the row.
 */
export function storedFormsCanonical<R extends object>(row: R, forms: StoredForms<R>): boolean {
  for (const [column, form] of Object.entries(forms) as [keyof R & string, StoredForm][]) {
    const stored = (row as Record<string, unknown>)[column];
    const optional = form.endsWith('?');
    if (optional && (stored === null || stored === undefined)) continue;
    if (!CHECKS[optional ? form.slice(0, -1) : form](stored)) return false;
  }
  return true;
}
