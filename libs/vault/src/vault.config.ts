import { randomBytes } from 'node:crypto';
import {
  ConfigError,
  defineConfig,
  Env,
  validateEnv,
  IsInt,
  IsOmittable,
  IsString,
  Max,
  Min,
  REDACTED,
  registerKeySecrets,
} from '@app/common';

const MIB = 1024 * 1024;

class VaultEnv {
  @IsString() VAULT_KEYS!: string;
  @IsOmittable() @IsString() VAULT_ACTIVE_KEY?: string;
  @IsOmittable() @IsInt() @Min(1) @Max(4096 * MIB) VAULT_MAX_FILE_BYTES?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(3650) VAULT_RETENTION_DAYS?: number;
  @IsOmittable() @IsInt() @Min(10) @Max(7 * 24 * 3600) VAULT_RETENTION_SWEEP_SECONDS?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(4096 * MIB) VAULT_READ_HOLD_BYTES?: number;
  @IsOmittable() @IsInt() @Min(10) @Max(3_600_000) VAULT_AUDIT_CHECK_MS?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(1_000_000) VAULT_AUDIT_CHECK_RECORDS?: number;
}

export interface VaultSettings {
  /** Master keys by version, each 32 bytes. */
  keys: Map<string, Buffer>;
  activeKey: string;
  /** Largest file the vault accepts (bytes); larger uploads answer 413. */
  maxFileBytes: number;
  /** Biometric files older than this are crypto-shredded by the retention sweep. */
  retentionDays: number;
  /** How often the retention sweep runs. */
  retentionSweepSeconds: number;
  /**
   * Plaintext that reads may hold at once, in bytes: a read whose file fits what is left serves
   * the chunks its check decrypted, instead of reading and decrypting the blob a second time.
   */
  readHoldBytes: number;
  /**
   * How often the audit watch runs, in ms: each run checks again up to `auditCheckRecords`
   * sealed audit records (`verify`'s walk, going on where the last run ended), so a record
   * changed in the database is named on /health with no one asking (`VaultAuditWatch`).
   */
  auditCheckMs: number;
  /** The most audit records one run of the audit watch checks (its bound on the event loop). */
  auditCheckRecords: number;
}

/** Parses the keyring `v1:<base64 32 bytes>,v2:...`; the active version defaults to the last one. */
function readVaultConfig(env: Env): VaultSettings {
  const v = validateEnv(VaultEnv, env);
  const keys = new Map<string, Buffer>();
  const written: string[] = [];
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
    written.push(match[2]);
  }
  // every version held (the active one and those kept to open values sealed before a
  // rotation), never logged as it is, in any of its text forms
  registerKeySecrets(keys.values(), REDACTED, written);
  if (keys.size === 0) throw new ConfigError('VAULT_KEYS', 'must list at least one key');
  const activeKey = v.VAULT_ACTIVE_KEY ?? [...keys.keys()].pop()!;
  if (!keys.has(activeKey))
    throw new ConfigError('VAULT_ACTIVE_KEY', 'names a version that VAULT_KEYS does not list');
  return {
    keys,
    activeKey,
    maxFileBytes: v.VAULT_MAX_FILE_BYTES ?? 32 * MIB,
    retentionDays: v.VAULT_RETENTION_DAYS ?? 30,
    retentionSweepSeconds: v.VAULT_RETENTION_SWEEP_SECONDS ?? 3600,
    readHoldBytes: v.VAULT_READ_HOLD_BYTES ?? 64 * MIB,
    auditCheckMs: v.VAULT_AUDIT_CHECK_MS ?? 5000,
    auditCheckRecords: v.VAULT_AUDIT_CHECK_RECORDS ?? 2000,
  };
}

export const vaultConfig = defineConfig('vault', readVaultConfig);

/** How a local (non-production) install generates the keyring when it is unset. */
export const VAULT_SECRETS = {
  VAULT_KEYS: () => `v1:${randomBytes(32).toString('base64')}`,
} satisfies Record<string, () => string>;
