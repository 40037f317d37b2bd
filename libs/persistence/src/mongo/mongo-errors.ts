/** True for MongoDB's E11000: a write refused by a unique index (the store's race arbiter). */
export function isDuplicateKeyError(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 11000;
}
