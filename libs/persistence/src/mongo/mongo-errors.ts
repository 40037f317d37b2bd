/** True for MongoDB's E11000: a write refused by a unique index (the store's race arbiter). */
export function isDuplicateKeyError(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 11000;
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
