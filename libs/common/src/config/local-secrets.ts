import { randomBytes } from 'node:crypto';
import {
  closeSync,
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
import { generateOfflineTokenKey } from './offline-sync.config';
import { generateTlogKey } from './tlog.config';

/** Secrets that may be generated for a local (non-production) install. */
export const GENERATED_SECRETS = {
  JWT_SECRET: () => randomBytes(48).toString('base64url'),
  ADMIN_API_KEYS: () => apiKey('adm'),
  PROVISIONER_API_KEYS: () => apiKey('prv'),
  AUDITOR_API_KEYS: () => apiKey('aud'),
  MOBILE_API_KEYS: () => apiKey('mob'),
  HARDWARE_API_KEYS: () => apiKey('hw'),
  VAULT_KEYS: () => `v1:${randomBytes(32).toString('base64')}`,
  OFFLINE_TOKEN_PRIVATE_KEY: generateOfflineTokenKey,
  TLOG_SIGNING_KEY: generateTlogKey,
} satisfies Record<string, () => string>;

/** Kept in secrets.json by `npm run keys:rotate` when present, never required. */
export const STORED_KEY_HISTORIES = ['OFFLINE_TOKEN_RETIRED_KEYS', 'TLOG_RETIRED_KEYS'];

export type GeneratedSecretName = keyof typeof GENERATED_SECRETS;

function apiKey(prefix: string): string {
  return `mdai_${prefix}_${randomBytes(24).toString('base64url')}`;
}

export interface LocalSecretsResult {
  env: Env;
  file: string;
  generated: string[];
}

export const SECRETS_FILE = 'secrets.json';

/**
 * Fills in missing secrets outside production from `<DATA_DIR>/secrets.json` (mode 0600),
 * generating and saving the ones that are not there yet. Production never generates: a
 * missing secret stops the boot with a ConfigError naming it.
 */
export function withLocalSecrets(
  env: Env,
  dataDir: string,
  production: boolean,
  generators: Partial<Record<string, () => string>> = GENERATED_SECRETS,
): LocalSecretsResult {
  const file = join(dataDir, SECRETS_FILE);
  const missing = Object.keys(generators).filter((name) => !env[name]);
  const histories = production ? [] : STORED_KEY_HISTORIES.filter((name) => !env[name]);
  if (missing.length === 0 && histories.length === 0) return { env, file, generated: [] };
  if (missing.length > 0 && production) {
    throw new ConfigError(
      missing[0],
      'is required when NODE_ENV=production (nothing is generated in production)',
    );
  }
  mkdirSync(dataDir, { recursive: true });
  const stored = readStored(file);
  const generated: string[] = [];
  for (const name of missing) {
    if (!stored[name]) {
      const make = generators[name];
      const value = make ? make() : '';
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
