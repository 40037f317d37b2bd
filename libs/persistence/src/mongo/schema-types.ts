/**
 * Prop options for a string that must be present but may be empty, like SQLite's
 * `TEXT NOT NULL`. Mongoose's `required: true` refuses `''` for strings, so a record that
 * legitimately carries an empty value (an audited refusal with no file id or no purpose)
 * would fail on MongoDB while SQLite stores it.
 */
export function presentString(path: string): {
  type: StringConstructor;
  required: [(this: Record<string, unknown>) => boolean, string];
} {
  return {
    type: String,
    required: [
      function (this: Record<string, unknown>) {
        return typeof this[path] !== 'string';
      },
      `${path} is required`,
    ],
  };
}
