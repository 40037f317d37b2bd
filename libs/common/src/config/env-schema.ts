import 'reflect-metadata';
import { plainToInstance } from '../validation/transformers';
import { validateSync, ValidationError } from '../validation/validators';
import { ConfigError, ConfigProblem } from './config-error';

export type Env = Record<string, string | undefined>;

/**
 * Validates the variables one namespace reads, with a class-validator schema class.
 * Every failure is named in one ConfigError (the variables, never their values).
 */
export function validateEnv<T extends object>(schema: new () => T, env: Env): T {
  const { values, problems } = checkEnv(schema, env);
  if (problems.length > 0) throw new ConfigError(problems);
  return values;
}

/**
 * `validateEnv` without the throw: the problems found, and the values with each invalid one
 * left out (so its default applies), for a reader that goes on to find the other problems.
 */
export function checkEnv<T extends object>(
  schema: new () => T,
  env: Env,
): { values: T; problems: ConfigProblem[] } {
  const picked: Record<string, string> = {};
  const declared = declaredVariables(schema);
  for (const key of declared ?? Object.keys(env)) {
    const value = env[key];
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const values = plainToInstance(schema, picked, { enableImplicitConversion: true });
  const errors = validateSync(values, { skipMissingProperties: false, whitelist: false });
  const problems = errors.map((error) => ({
    variable: error.property,
    reason: firstConstraint(error),
  }));
  for (const error of errors) delete (values as Record<string, unknown>)[error.property];
  return { values, problems };
}

const declaredBySchema = new WeakMap<new () => object, readonly string[] | undefined>();

/**
 * The variables `schema` declares (its class fields, decorated or not: ES2022 classes define
 * each as an own property of a new instance), or undefined when a compile gives none (then the
 * whole environment is handed over, as before). Only these are transformed: the rest of the
 * environment (~70 variables under `npm run`, 18 schemas) was converted and copied onto every
 * schema's instance at each boot and never read (docs/benchmarks.md, "bootcpu").
 */
function declaredVariables(schema: new () => object): readonly string[] | undefined {
  if (!declaredBySchema.has(schema)) {
    const keys = Object.keys(new schema());
    declaredBySchema.set(schema, keys.length > 0 ? keys : undefined);
  }
  return declaredBySchema.get(schema);
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
