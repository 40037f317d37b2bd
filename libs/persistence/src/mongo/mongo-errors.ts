/** True for MongoDB's E11000: a write refused by a unique index (the store's race arbiter). */
export function isDuplicateKeyError(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 11000;
}

/**
 * E11000 on a unique index over `field`: by the error's `keyPattern`, else by the index name in
 * its message (a server or test server that sends no `keyPattern`).
 */
export function isDuplicateKeyOn(error: unknown, field: string): boolean {
  if (!isDuplicateKeyError(error)) return false;
  const { keyPattern, message } = error as { keyPattern?: object; message?: unknown };
  if (keyPattern) return field in keyPattern;
  return typeof message === 'string' && new RegExp(`\\bindex: (?:\\w+_)?${field}_`).test(message);
}

/**
 * True when a bulk write failed only on duplicate keys of the unique index named `index`: the
 * writes that lost a race on that key (any other error, on it or another index, is not).
 */
export function onlyDuplicateKeysOn(error: unknown, index: string): boolean {
  const errors = (error as { writeErrors?: unknown } | null)?.writeErrors;
  if (!Array.isArray(errors) || errors.length === 0) return false;
  const named = new RegExp(`\\bindex: ${index}(?:\\s|$)`);
  return errors.every(
    (e: { code?: unknown; errmsg?: unknown }) =>
      e.code === 11000 && typeof e.errmsg === 'string' && named.test(e.errmsg),
  );
}
