/**
 * A value read from a store or a backup (a path, an id, a field of a database row), JSON-quoted
 * for an operator's output: one with a newline, an escape sequence or spaces cannot forge or
 * blur a line.
 */
export const q = (value: unknown) => JSON.stringify(String(value));
