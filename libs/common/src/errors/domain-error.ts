export interface FieldError {
  field: string;
  message: string;
}

/**
 * A module's error catalog: its name and every code it throws, each with what it means. The
 * catalog is the declaration: the code type, the HTTP status table (apps/api) and the published
 * error list (docs/errors.md) are all derived from it.
 */
export interface ErrorCatalog {
  readonly module: string;
  readonly codes: Readonly<Record<string, string>>;
}

/** The code union of a catalog: `CodeOf<typeof VAULT_ERRORS>`. */
export type CodeOf<C extends ErrorCatalog> = keyof C['codes'] & string;

/**
 * What domain code and services throw: a stable snake_case `code` from their module's catalog and
 * a message for humans (never a secret, token or platform id). No HTTP status: the exception
 * filter looks the status up by module and code in the one table apps/api composes.
 */
export abstract class DomainError<Code extends string = string> extends Error {
  /** The catalog (`ErrorCatalog.module`) that declares `code`. */
  abstract readonly module: string;
  /** Seconds after which the same request may succeed: sent as `Retry-After` (a 503's). */
  retryAfterSeconds?: number;

  constructor(
    readonly code: Code,
    message: string,
    readonly errors?: FieldError[],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** module → code → HTTP status, as the exception filter reads it. */
export type ErrorStatusTable = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** `instanceof DomainError`, typed with string codes (a bare instanceof of a generic class gives `any`). */
export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
