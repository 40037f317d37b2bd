import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  activeKeySince,
  ConfigError,
  parseKeyHistory,
  SECRETS_FILE,
  serializeKeyHistory,
  updateStored,
} from '@app/common';
import { generateOfflineTokenKey } from '@app/device-trust';
import {
  generateStoreMacKey,
  generateTlogKey,
  legacyStoreMacKey,
  parseStoreMacHistory,
  parseStoreMacKey,
  serializeStoreMacHistory,
  StoreMacKey,
} from '@app/tlog';

/** The signing keys `npm run keys:rotate` can rotate, with the variables that hold them. */
export const ROTATABLE_KEYS = {
  token: {
    privateKey: 'OFFLINE_TOKEN_PRIVATE_KEY',
    history: 'OFFLINE_TOKEN_RETIRED_KEYS',
    type: 'ec' as const,
    generate: generateOfflineTokenKey,
  },
  log: {
    privateKey: 'TLOG_SIGNING_KEY',
    history: 'TLOG_RETIRED_KEYS',
    type: 'ed25519' as const,
    generate: generateTlogKey,
  },
};

/**
 * The store-MAC secret (`keys:rotate mac`): a fresh STORE_MAC_KEY; the old one joins
 * STORE_MAC_RETIRED_KEYS, under which the tags it made keep verifying until an operator removes
 * it (no window: a MAC key signs nothing anyone else checks).
 */
export const STORE_MAC_ROTATION = {
  secret: 'STORE_MAC_KEY',
  history: 'STORE_MAC_RETIRED_KEYS',
  /** `1`: the key derived from the current signing key is accepted too (review M-2). */
  legacy: 'STORE_MAC_LEGACY',
} as const;

/**
 * How `keys:rotate mac` goes: in one step (`rotate`), or in two for a rolling restart: `stage`
 * adds a new key to STORE_MAC_RETIRED_KEYS only (every replica learns it, none tags under it),
 * `promote` makes the staged key STORE_MAC_KEY and retires the current one.
 */
export type StoreMacStep = 'rotate' | 'stage' | 'promote';

/** `token` and `log`: the signing keys; `mac`: the store-MAC secret. */
export type RotatableKey = keyof typeof ROTATABLE_KEYS | 'mac';

/** Every name keys:rotate accepts; the default (no name) rotates the signing keys only. */
export const ROTATABLE_NAMES: RotatableKey[] = [
  ...(Object.keys(ROTATABLE_KEYS) as RotatableKey[]),
  'mac',
];

/** Since when the first key of a history signed: unknown, so "from the start". */
const BEGINNING = new Date(0);

/** KEY_ROTATION_GRACE_SECONDS when unset: an hour for every replica to restart on the new keys. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 3600;
/** The longest grace the command accepts (a week): a retired key signs nothing valid after it. */
const MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 3600;

/** KEY_ROTATION_GRACE_SECONDS (whole seconds, 0 to a week), else the default. */
export function rotationGraceSeconds(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_ROTATION_GRACE_SECONDS;
  const seconds = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || seconds > MAX_ROTATION_GRACE_SECONDS)
    throw new ConfigError(
      'KEY_ROTATION_GRACE_SECONDS',
      `must be whole seconds from 0 to ${MAX_ROTATION_GRACE_SECONDS}`,
    );
  return seconds;
}

/**
 * Rotates signing keys in a variable set: a fresh private key replaces the current one, whose
 * public half joins the history with its window [previous rotation (or the beginning),
 * now + grace]. Replicas not yet restarted keep signing with the old key until they are:
 * what they sign inside the grace verifies; a stolen old key signs nothing valid after it.
 */
export function rotateKeysIn(
  values: Record<string, string>,
  which: RotatableKey[],
  now: Date,
  graceSeconds = DEFAULT_ROTATION_GRACE_SECONDS,
  macStep: StoreMacStep = 'rotate',
): Record<string, string> {
  const next = { ...values };
  for (const name of which) {
    if (name === 'mac') {
      if (macStep === 'stage') stageStoreMacIn(next, now);
      else if (macStep === 'promote') promoteStoreMacIn(next, now);
      else rotateStoreMacIn(next, now);
      continue;
    }
    const spec = ROTATABLE_KEYS[name];
    const current = values[spec.privateKey];
    if (!current)
      throw new ConfigError(spec.privateKey, 'is not set, so there is nothing to rotate');
    const history = parseKeyHistory(spec.history, values[spec.history], spec.type);
    // the replaced key has signed since the last rotation: replicas restarted onto it then
    const since = activeKeySince(history) ?? BEGINNING;
    const publicKey = createPublicKey(current.replace(/\\n/g, '\n'));
    const notAfter = new Date(now.getTime() + graceSeconds * 1000);
    next[spec.history] = serializeKeyHistory([
      ...history,
      { publicKey, notBefore: since, notAfter, rotatedAt: now },
    ]);
    // the tags made before STORE_MAC_KEY existed were made under a key derived from the log
    // key: when that key is accepted (STORE_MAC_KEY unset: it is the current one; or
    // STORE_MAC_LEGACY=1), it is kept in the store-MAC history under its id, so they still
    // verify once the log key is replaced, and the flag is turned off (it would accept the new
    // log key's derived key, which tagged nothing). Already listed, it stays; else none is
    // added (review M-2: a leaked signing key's derived key is not made a MAC key)
    if (name === 'log' && derivedKeyAccepted(next)) {
      retireStoreMacKey(next, legacyStoreMacKey(createPrivateKey(pem(current))), now);
      if (next[STORE_MAC_ROTATION.legacy] === '1') next[STORE_MAC_ROTATION.legacy] = '0';
    }
    next[spec.privateKey] = spec.generate();
  }
  return next;
}

function pem(value: string): string {
  return value.replace(/\\n/g, '\n');
}

/** Whether tags verify under the key derived from the log key these values hold. */
function derivedKeyAccepted(values: Record<string, string>): boolean {
  return !values[STORE_MAC_ROTATION.secret] || values[STORE_MAC_ROTATION.legacy] === '1';
}

/**
 * Records the key derived from TLOG_SIGNING_KEY in STORE_MAC_RETIRED_KEYS (under the signing
 * key's id): what an install that had tags before STORE_MAC_KEY needs, so they keep verifying
 * (outside production, the first start that generates STORE_MAC_KEY into an existing
 * secrets.json does it).
 */
export function keepDerivedStoreMacKey(values: Record<string, string>, now: Date): void {
  const signing = values[ROTATABLE_KEYS.log.privateKey];
  if (signing) retireStoreMacKey(values, legacyStoreMacKey(createPrivateKey(pem(signing))), now);
}

/** Adds `key` to STORE_MAC_RETIRED_KEYS in `values` unless it is there already. */
function retireStoreMacKey(values: Record<string, string>, key: StoreMacKey, now: Date): void {
  const history = parseStoreMacHistory(
    STORE_MAC_ROTATION.history,
    values[STORE_MAC_ROTATION.history],
  );
  if (history.some((k) => k.kid === key.kid)) return;
  values[STORE_MAC_ROTATION.history] = serializeStoreMacHistory([
    ...history,
    { ...key, retiredAt: now },
  ]);
}

/**
 * A fresh STORE_MAC_KEY; the current one (unset: the key derived from TLOG_SIGNING_KEY, what
 * the tags were made under) joins STORE_MAC_RETIRED_KEYS.
 */
function rotateStoreMacIn(values: Record<string, string>, now: Date): void {
  retireCurrentStoreMacKey(values, now);
  values[STORE_MAC_ROTATION.secret] = generateStoreMacKey();
}

/** The current store-MAC key (unset: the key derived from TLOG_SIGNING_KEY) into the retired. */
function retireCurrentStoreMacKey(values: Record<string, string>, now: Date): void {
  const current = values[STORE_MAC_ROTATION.secret];
  const signing = values[ROTATABLE_KEYS.log.privateKey];
  if (current) retireStoreMacKey(values, parseStoreMacKey(STORE_MAC_ROTATION.secret, current), now);
  else if (signing)
    retireStoreMacKey(values, legacyStoreMacKey(createPrivateKey(pem(signing))), now);
}

/** `--stage`: a fresh key into STORE_MAC_RETIRED_KEYS, marked staged; STORE_MAC_KEY unchanged. */
function stageStoreMacIn(values: Record<string, string>, now: Date): void {
  const { history: name } = STORE_MAC_ROTATION;
  const history = parseStoreMacHistory(name, values[name]);
  if (history.some((k) => k.stagedAt))
    throw new ConfigError(
      name,
      'already holds a staged key: promote it first (keys:rotate mac --promote)',
    );
  const staged = parseStoreMacKey(STORE_MAC_ROTATION.secret, generateStoreMacKey());
  values[name] = serializeStoreMacHistory([...history, { ...staged, stagedAt: now }]);
}

/** `--promote`: the staged key becomes STORE_MAC_KEY; the current one joins the retired keys. */
function promoteStoreMacIn(values: Record<string, string>, now: Date): void {
  const { history: name, secret } = STORE_MAC_ROTATION;
  const history = parseStoreMacHistory(name, values[name]);
  const staged = history.find((k) => k.stagedAt);
  if (!staged)
    throw new ConfigError(
      name,
      'holds no staged key: run keys:rotate mac --stage first (and restart every replica)',
    );
  values[name] = serializeStoreMacHistory(history.filter((k) => k !== staged));
  retireCurrentStoreMacKey(values, now);
  values[secret] = staged.secret.toString('base64');
}

/** Rotates the keys kept in `<dataDir>/secrets.json` (installs outside production). */
export function rotateLocalKeys(
  dataDir: string,
  which: RotatableKey[],
  now = new Date(),
  graceSeconds = DEFAULT_ROTATION_GRACE_SECONDS,
  macStep: StoreMacStep = 'rotate',
): string {
  const file = join(dataDir, SECRETS_FILE);
  if (!existsSync(dataDir)) {
    rotateKeysIn({}, which, now, graceSeconds, macStep); // names the key there is none of
    throw new ConfigError('DATA_DIR', `${dataDir} does not exist: nothing to rotate`);
  }
  // review L-8: under secrets.json's lock, so a server generating into it meanwhile (a first
  // start) and this rotation do not overwrite each other's write
  updateStored(file, (stored) => {
    Object.assign(stored, rotateKeysIn(stored, which, now, graceSeconds, macStep));
    return true;
  });
  return file;
}
