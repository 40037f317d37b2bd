import 'reflect-metadata';
import { plainToInstance } from '../validation/transformers';
import { validateSync, ValidationError } from '../validation/validators';
import { ConfigError } from './config-error';

export type Env = Record<string, string | undefined>;

/**
 * Validates the variables one namespace reads, with a class-validator schema class.
 * The first failure becomes a ConfigError that names the variable (never its value).
 */
export function validateEnv<T extends object>(schema: new () => T, env: Env): T {
  const picked: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const instance = plainToInstance(schema, picked, { enableImplicitConversion: true });
  const errors = validateSync(instance, { skipMissingProperties: false, whitelist: false });
  if (errors.length > 0) {
    const first = firstConstraint(errors[0]);
    throw new ConfigError(errors[0].property, first);
  }
  return instance;
}

function firstConstraint(error: ValidationError): string {
  // decorators register bottom-up, so the constraints come in reverse of the order written:
  // the last one is the first written, the type check (`@IsInt() @Min(0) @Max(65535)` says
  // "must be an integer number" for PORT=abc, not "must not be greater than 65535")
  const messages = Object.values(error.constraints ?? {});
  const first = messages[messages.length - 1] ?? 'is invalid';
  // class-validator messages start with the property name; keep only the reason
  return first.replace(new RegExp(`^${error.property}\\s+`), '');
}
