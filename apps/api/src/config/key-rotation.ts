import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import {
  ConfigError,
  parseKeyHistory,
  readStored,
  SECRETS_FILE,
  serializeKeyHistory,
  writeStored,
} from '@app/common';
import { generateOfflineTokenKey } from '@app/device-trust';
import { generateTlogKey } from '@app/tlog';

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

export type RotatableKey = keyof typeof ROTATABLE_KEYS;

/** Since when the first key of a history signed: unknown, so "from the start". */
const BEGINNING = new Date(0);

/**
 * Rotates signing keys in a variable set: a fresh private key replaces the current one, whose
 * public half joins the history with its window [previous retirement (or the beginning), now].
 * Old tokens and checkpoints stay verifiable; nothing new is signed with the old key.
 */
export function rotateKeysIn(
  values: Record<string, string>,
  which: RotatableKey[],
  now: Date,
): Record<string, string> {
  const next = { ...values };
  for (const name of which) {
    const spec = ROTATABLE_KEYS[name];
    const current = values[spec.privateKey];
    if (!current)
      throw new ConfigError(spec.privateKey, 'is not set, so there is nothing to rotate');
    const history = parseKeyHistory(spec.history, values[spec.history], spec.type);
    const since = history.reduce(
      (latest, k) => (k.notAfter > latest ? k.notAfter : latest),
      BEGINNING,
    );
    const publicKey = createPublicKey(current.replace(/\\n/g, '\n'));
    next[spec.history] = serializeKeyHistory([
      ...history,
      { publicKey, notBefore: since, notAfter: now },
    ]);
    next[spec.privateKey] = spec.generate();
  }
  return next;
}

/** Rotates the keys kept in `<dataDir>/secrets.json` (installs outside production). */
export function rotateLocalKeys(dataDir: string, which: RotatableKey[], now = new Date()): string {
  const file = join(dataDir, SECRETS_FILE);
  const stored = readStored(file);
  writeStored(file, rotateKeysIn(stored, which, now));
  return file;
}
