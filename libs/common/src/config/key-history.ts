import { createPublicKey, KeyObject } from 'node:crypto';
import { ConfigError } from './config-error';

/**
 * A verification key that no longer signs, and the window in which it did. `rotatedAt` (when
 * written by `npm run keys:rotate`) is the instant it was replaced: its window runs on past it
 * to `notAfter` (the rotation's grace), for replicas still signing with it until they restart.
 */
export interface RetiredKey {
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  rotatedAt?: Date;
}

/**
 * Parses a key history variable: a JSON array of
 * `{"publicKey":"<SPKI PEM>","notBefore":"<ISO>","notAfter":"<ISO>","rotatedAt":"<ISO>"}`
 * (what `npm run keys:rotate` writes; `rotatedAt` optional, inside the window). Keys of another
 * type than `type` are refused.
 */
export function parseKeyHistory(
  variable: string,
  raw: string | undefined,
  type: 'ec' | 'ed25519',
): RetiredKey[] {
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(variable, 'must be a JSON array of {publicKey, notBefore, notAfter}');
  }
  if (!Array.isArray(parsed) || parsed.length > 100) {
    throw new ConfigError(variable, 'must be a JSON array of at most 100 retired keys');
  }
  return parsed.map((entry: unknown, i): RetiredKey => {
    const e = entry as {
      publicKey?: unknown;
      notBefore?: unknown;
      notAfter?: unknown;
      rotatedAt?: unknown;
    };
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({
        key: String(e.publicKey).replace(/\\n/g, '\n'),
        format: 'pem',
      });
    } catch {
      throw new ConfigError(variable, `entry ${i}: publicKey must be an SPKI PEM public key`);
    }
    if (publicKey.asymmetricKeyType !== type) {
      throw new ConfigError(variable, `entry ${i}: publicKey must be an ${type} key`);
    }
    const notBefore = new Date(String(e.notBefore));
    const notAfter = new Date(String(e.notAfter));
    if (
      Number.isNaN(notBefore.getTime()) ||
      Number.isNaN(notAfter.getTime()) ||
      notAfter < notBefore
    ) {
      throw new ConfigError(
        variable,
        `entry ${i}: notBefore and notAfter must be ISO dates in order`,
      );
    }
    if (e.rotatedAt === undefined) return { publicKey, notBefore, notAfter };
    const rotatedAt = new Date(typeof e.rotatedAt === 'string' ? e.rotatedAt : NaN);
    if (Number.isNaN(rotatedAt.getTime()) || rotatedAt < notBefore || rotatedAt > notAfter) {
      throw new ConfigError(
        variable,
        `entry ${i}: rotatedAt must be an ISO date between notBefore and notAfter`,
      );
    }
    return { publicKey, notBefore, notAfter, rotatedAt };
  });
}

export function serializeKeyHistory(keys: RetiredKey[]): string {
  return JSON.stringify(
    keys.map((k) => ({
      publicKey: k.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      notBefore: k.notBefore.toISOString(),
      notAfter: k.notAfter.toISOString(),
      ...(k.rotatedAt ? { rotatedAt: k.rotatedAt.toISOString() } : {}),
    })),
  );
}

/**
 * Since when the key that replaced the history's last key has signed: the last rotation
 * instant (`rotatedAt`, else the last `notAfter` for a history written without it); undefined
 * for an empty history (since the beginning).
 */
export function activeKeySince(history: readonly RetiredKey[]): Date | undefined {
  return history.reduce<Date | undefined>((latest, k) => {
    const at = k.rotatedAt ?? k.notAfter;
    return !latest || at > latest ? at : latest;
  }, undefined);
}

/**
 * Refuses a signing key that its own history retires with a window already ended (the history
 * of a rotation was applied, the new private key not, and the grace is over): everything it
 * would sign (checkpoints, offline tokens) would never verify, so the server must not start.
 * A key whose window ends later still starts (its /health degrades once the window ends).
 * The error names the variables and what to do, never a key.
 */
export function refuseRetiredSigningKey(
  names: { key: string; history: string; signs: string },
  signingKey: KeyObject,
  history: readonly RetiredKey[],
  now = new Date(),
): void {
  const spki = (k: KeyObject) =>
    (k.type === 'public' ? k : createPublicKey(k)).export({ type: 'spki', format: 'der' });
  const own = spki(signingKey);
  const retired = history.find((k) => spki(k.publicKey).equals(own));
  if (!retired || retired.notAfter >= now) return;
  throw new ConfigError(
    names.key,
    `is a key ${names.history} retires, its window ended ${retired.notAfter.toISOString()}: ${names.signs} it signs would never verify. Set ${names.key} to the new key of that rotation (the value keys:rotate wrote with ${names.history}), or, if this key is meant to stay active, remove its entry from ${names.history}`,
  );
}
