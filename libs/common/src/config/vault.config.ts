import { IsOptional, IsString } from 'class-validator';
import { ConfigError } from './config-error';
import { Env, validateEnv } from './env-schema';

class VaultEnv {
  @IsString() VAULT_KEYS!: string;
  @IsOptional() @IsString() VAULT_ACTIVE_KEY?: string;
}

export interface VaultSettings {
  /** Master keys by version, each 32 bytes. */
  keys: Map<string, Buffer>;
  activeKey: string;
}

/** Parses the keyring `v1:<base64 32 bytes>,v2:...`; the active version defaults to the last one. */
export function vaultConfig(env: Env): VaultSettings {
  const v = validateEnv(VaultEnv, env);
  const keys = new Map<string, Buffer>();
  for (const entry of v.VAULT_KEYS.split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const match = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/=_-]+)$/.exec(entry);
    if (!match)
      throw new ConfigError('VAULT_KEYS', 'entries must look like v1:<base64 of 32 bytes>');
    const key = Buffer.from(match[2], 'base64');
    if (key.length !== 32)
      throw new ConfigError('VAULT_KEYS', `key ${match[1]} must decode to 32 bytes`);
    if (keys.has(match[1]))
      throw new ConfigError('VAULT_KEYS', `key version ${match[1]} is listed twice`);
    keys.set(match[1], key);
  }
  if (keys.size === 0) throw new ConfigError('VAULT_KEYS', 'must list at least one key');
  const activeKey = v.VAULT_ACTIVE_KEY ?? [...keys.keys()].pop()!;
  if (!keys.has(activeKey))
    throw new ConfigError('VAULT_ACTIVE_KEY', 'names a version that VAULT_KEYS does not list');
  return { keys, activeKey };
}
