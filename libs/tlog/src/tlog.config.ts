import { createPrivateKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { isAbsolute, join, relative, resolve } from 'node:path';
import {
  parseStoreMacHistory,
  parseStoreMacKey,
  generateStoreMacKey,
  StoreMacKey,
} from './store-mac-keys';
import {
  AppSettings,
  ConfigError,
  ConfigProblems,
  defineConfig,
  Env,
  parseKeyHistory,
  REDACTED,
  refuseRetiredSigningKey,
  registerKeySecrets,
  RetiredKey,
  validateEnv,
  IsIn,
  IsInt,
  IsOmittable,
  IsString,
  Matches,
  Max,
  Min,
} from '@app/common';

/** STORE_MAC_HEARTBEAT_MS when unset: a minute. */
export const STORE_MAC_HEARTBEAT_MS = 60_000;

/** TLOG_UNSEALED_SWEEP_MS when unset: a minute. */
export const TLOG_UNSEALED_SWEEP_MS = 60_000;

class TlogEnv {
  @IsString() TLOG_SIGNING_KEY!: string;
  @IsOmittable() @IsString() TLOG_RETIRED_KEYS?: string;
  // required in production with the other secrets (LOCAL_SECRETS), generated outside it
  @IsOmittable() @IsString() STORE_MAC_KEY?: string;
  @IsOmittable() @IsString() STORE_MAC_RETIRED_KEYS?: string;
  @IsOmittable() @IsIn(['0', '1']) STORE_MAC_LEGACY?: string;
  @IsOmittable() @IsInt() @Min(500) @Max(3_600_000) STORE_MAC_HEARTBEAT_MS?: number;
  @IsOmittable() @IsInt() @Min(1000) @Max(3_600_000) TLOG_UNSEALED_SWEEP_MS?: number;
  @IsOmittable()
  @Matches(/^[a-z0-9.-]{1,100}(\/[A-Za-z0-9._-]{1,60}){0,3}$/, {
    message: 'must be a host-like name without scheme, e.g. mdai.example.com',
  })
  TLOG_ORIGIN?: string;
  @IsOmittable() @IsString() TLOG_WITNESS_FILE?: string;
}

export interface TlogSettings {
  /** Ed25519 private key that signs every log checkpoint (C2SP signed note). */
  signingKey: KeyObject;
  /** Earlier log keys, still trusted for checkpoints signed inside their window. */
  retiredKeys: RetiredKey[];
  /** Prefix of every log origin: `<origin>/ledger/<siteId>`, `<origin>/vault-audit`. */
  origin: string;
  /** The witness file: every checkpoint is appended to it, outside the store. */
  witnessFile: string;
  /**
   * STORE_MAC_KEY: the secret the server's tags over rows it writes are made under (StoreMac).
   * Absent (only where the variable is not required: a StoreMac made from the signing key
   * alone), tags are made under the key derived from the signing key.
   */
  storeMacKey?: StoreMacKey;
  /** STORE_MAC_RETIRED_KEYS: earlier store-MAC keys, under which stored tags still verify. */
  storeMacRetiredKeys?: StoreMacKey[];
  /**
   * STORE_MAC_LEGACY=1: tags also verify under the key derived from the current signing key
   * (those an install made before STORE_MAC_KEY existed; production upgrades set it). Off by
   * default: otherwise TLOG_SIGNING_KEY alone could make tags that verify (review M-2).
   */
  storeMacLegacy?: boolean;
  /**
   * STORE_MAC_HEARTBEAT_MS: how often a server records in the replica registry what it holds
   * (ReplicaRegistry: its store-MAC key id and its vault key versions); it counts as live for 3
   * of them after its last heartbeat.
   */
  storeMacHeartbeatMs?: number;
  /**
   * TLOG_UNSEALED_SWEEP_MS: how often every log is looked at again for entries committed past its
   * last checkpoint (`UnsealedTailSweep`; also once at start-up).
   */
  unsealedSweepMs?: number;
}

/** A fresh Ed25519 private key as PKCS#8 PEM (what TLOG_SIGNING_KEY holds). */
export function generateTlogKey(): string {
  return generateKeyPairSync('ed25519')
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

function readTlogConfig(env: Env, app: Pick<AppSettings, 'dataDir'>): TlogSettings {
  const v = validateEnv(TlogEnv, env);
  // every bad key named in one message, not the first only
  const problems = new ConfigProblems();
  const signingKey = problems.attempt(() => {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: v.TLOG_SIGNING_KEY.replace(/\\n/g, '\n'), format: 'pem' });
    } catch {
      throw new ConfigError('TLOG_SIGNING_KEY', 'must be a PEM private key');
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new ConfigError('TLOG_SIGNING_KEY', 'must be an Ed25519 key');
    }
    return key;
  });
  const retiredKeys = problems.attempt(() =>
    parseKeyHistory('TLOG_RETIRED_KEYS', v.TLOG_RETIRED_KEYS, 'ed25519'),
  );
  const storeMacKey = v.STORE_MAC_KEY
    ? problems.attempt(() => parseStoreMacKey('STORE_MAC_KEY', v.STORE_MAC_KEY!))
    : undefined;
  const storeMacRetiredKeys = problems.attempt(() =>
    parseStoreMacHistory('STORE_MAC_RETIRED_KEYS', v.STORE_MAC_RETIRED_KEYS),
  );
  problems.throwIfAny();
  // every store MAC key held (the current one, those retired or staged by keys:rotate), never
  // logged as it is, in any of its text forms
  registerKeySecrets(
    [...(storeMacKey ? [storeMacKey] : []), ...storeMacRetiredKeys!].map((k) => k.secret),
    REDACTED,
    v.STORE_MAC_KEY ? [v.STORE_MAC_KEY] : [],
  );
  refuseRetiredSigningKey(
    { key: 'TLOG_SIGNING_KEY', history: 'TLOG_RETIRED_KEYS', signs: 'checkpoints' },
    signingKey!,
    retiredKeys!,
  );
  // review L-6: a current key also listed retired (a rotation's lines half copied)
  if (storeMacKey && storeMacRetiredKeys!.some((k) => k.secret.equals(storeMacKey.secret)))
    throw new ConfigError('STORE_MAC_KEY', 'is also listed in STORE_MAC_RETIRED_KEYS');
  return {
    signingKey: signingKey!,
    retiredKeys: retiredKeys!,
    storeMacKey,
    storeMacRetiredKeys: storeMacRetiredKeys!,
    storeMacLegacy: v.STORE_MAC_LEGACY === '1',
    storeMacHeartbeatMs: v.STORE_MAC_HEARTBEAT_MS ?? STORE_MAC_HEARTBEAT_MS,
    unsealedSweepMs: v.TLOG_UNSEALED_SWEEP_MS ?? TLOG_UNSEALED_SWEEP_MS,
    origin: v.TLOG_ORIGIN ?? 'mdai.local',
    witnessFile: witnessFileOf(v.TLOG_WITNESS_FILE, app.dataDir),
  };
}

/**
 * Where the witness file is: TLOG_WITNESS_FILE (absolute, or under DATA_DIR), else
 * `<DATA_DIR>/tlog-witness.ndjson`. Also read by `npm run backup`, which needs no key.
 */
export function witnessFileOf(setting: string | undefined, dataDir: string): string {
  const witness = setting || 'tlog-witness.ndjson';
  return isAbsolute(witness) ? witness : resolve(join(dataDir, witness));
}

/**
 * Why the witness file protects nothing in production (undefined: it may): inside DATA_DIR,
 * whoever can write DATA_DIR (the SQLite file, the volume) can rewrite a log and remove its
 * witness lines alike, and verify then answers `ok` (findings M2). Said at boot and on /health.
 */
export function witnessPlacementWarning(
  witnessFile: string,
  app: Pick<AppSettings, 'dataDir' | 'production'>,
): string | undefined {
  if (!app.production) return undefined;
  const inside = relative(resolve(app.dataDir), resolve(witnessFile));
  if (inside.startsWith('..') || isAbsolute(inside)) return undefined;
  return 'TLOG_WITNESS_FILE is inside DATA_DIR: whoever can write DATA_DIR can rewrite a log and its witness lines alike (verify then answers ok). Put it on a volume or host the database operator cannot write, and have a monitor copy it (README, Configuration)';
}

/**
 * What STORE_MAC_LEGACY=1 allows (undefined when it is off): the key derived from the current
 * TLOG_SIGNING_KEY is accepted for store tags, so whoever holds that key can make rows (ledger
 * links, vault audit records, timesheet and fraud rows) whose tags verify. It is meant for the
 * upgrade from before STORE_MAC_KEY, and was silent (review M5): said at boot and on /health.
 */
export function storeMacLegacyWarning(
  settings: Pick<TlogSettings, 'storeMacLegacy'>,
): string | undefined {
  if (!settings.storeMacLegacy) return undefined;
  return 'STORE_MAC_LEGACY=1: store tags made under the key derived from TLOG_SIGNING_KEY verify (the tags from before STORE_MAC_KEY), so whoever holds the log signing key can make rows the server takes as its own. Keep it only while those tags are in use: `npm run keys:rotate -- log` keeps that key in STORE_MAC_RETIRED_KEYS and sets STORE_MAC_LEGACY=0 (README, Configuration)';
}

export const tlogConfig = defineConfig('tlog', readTlogConfig);

/**
 * How a local (non-production) install generates the log key and the store-MAC key when they are
 * unset (production requires both).
 */
export const TLOG_SECRETS = {
  TLOG_SIGNING_KEY: generateTlogKey,
  STORE_MAC_KEY: generateStoreMacKey,
} satisfies Record<string, () => string>;
