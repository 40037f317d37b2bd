import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './config-error';
import { Env } from './env-schema';
/**
 * What a local install may keep in secrets.json: the secrets generated when unset (each
 * module names its own, e.g. `VAULT_SECRETS`; apps/api composes them) and the key histories
 * `npm run keys:rotate` keeps there (read when present, never required).
 */
export interface LocalSecretsSpec {
  generators: Record<string, () => string>;
  histories: string[];
  /** What to do about a secret missing in production, said after its reason (never a value). */
  hints?: Record<string, string>;
  /**
   * A file of DATA_DIR whose presence means values sealed or signed with `secrets` may be stored
   * (the SQLite store), and those secrets: with the file there, no secrets.json, and not one of
   * them set, nothing is generated (a store restored without its keys). One of them set (an
   * install that keeps them in its environment, an upgrade that adds one) is no such store.
   */
  guardedBy?: { file: string; secrets: string[] };
}

export interface LocalSecretsResult {
  env: Env;
  file: string;
  generated: string[];
}

export const SECRETS_FILE = 'secrets.json';

/**
 * Fills in missing secrets outside production from `<DATA_DIR>/secrets.json` (mode 0600),
 * generating and saving the ones that are not there yet. Production never generates: missing
 * secrets stop the boot with a ConfigError naming each of them.
 */
export function withLocalSecrets(
  env: Env,
  dataDir: string,
  production: boolean,
  { generators, histories: storedHistories, guardedBy, hints }: LocalSecretsSpec,
): LocalSecretsResult {
  const file = join(dataDir, SECRETS_FILE);
  const missing = Object.keys(generators).filter((name) => !env[name]);
  const histories = production ? [] : storedHistories.filter((name) => !env[name]);
  if (missing.length === 0 && histories.length === 0) return { env, file, generated: [] };
  if (missing.length > 0 && production) {
    throw new ConfigError(
      missing.map((variable) => ({
        variable,
        reason: `is required when NODE_ENV=production (nothing is generated in production)${
          hints?.[variable] ? `: ${hints[variable]}` : ''
        }`,
      })),
    );
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const stored = readStored(file);
  const keysOfStore = guardedBy?.secrets.filter((name) => !env[name] && !stored[name]) ?? [];
  if (
    guardedBy !== undefined &&
    keysOfStore.length === guardedBy.secrets.length &&
    Object.keys(stored).length === 0 &&
    existsSync(join(dataDir, guardedBy.file))
  ) {
    // a store restored without its secrets.json (a backup taken with --without-secrets), or one
    // whose secrets.json was removed: new keys would boot "fine" and every value sealed before
    // would fail its integrity check, while new ones are sealed under another key of the same
    // name, never to be told apart
    throw new ConfigError(
      'DATA_DIR',
      `${dataDir} holds a store (${guardedBy.file}) but no ${SECRETS_FILE}, and none of the keys its values were sealed and signed with is set (${keysOfStore.join(', ')}): they would be generated anew. Put back the ${SECRETS_FILE} this store was made with (for a backup taken with --without-secrets, the one kept apart from it), or set those variables; to start a new store instead, move ${guardedBy.file} aside`,
    );
  }
  const generated: string[] = [];
  for (const name of missing) {
    if (!stored[name]) {
      const make = generators[name];
      const value = make();
      if (value === '') continue;
      stored[name] = value;
      generated.push(name);
    }
  }
  if (generated.length > 0) writeStored(file, stored);
  const merged: Env = { ...env };
  for (const name of [...missing, ...histories]) if (stored[name]) merged[name] = stored[name];
  if (missing.length === 0 && histories.every((name) => !stored[name])) {
    return { env, file, generated: [] };
  }
  return { env: merged, file, generated };
}

export function readStored(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError('DATA_DIR', `cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return parsed as Record<string, string>;
    }
  } catch {
    // fall through
  }
  throw new ConfigError('DATA_DIR', `${file} is not a JSON object; fix or remove it`);
}

export function writeStored(file: string, values: Record<string, string>): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, JSON.stringify(values, null, 2) + '\n');
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
