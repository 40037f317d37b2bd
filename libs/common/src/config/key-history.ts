import { createPublicKey, KeyObject } from 'node:crypto';
import { ConfigError } from './config-error';

/** A verification key that no longer signs, and the window in which it did. */
export interface RetiredKey {
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
}

/**
 * Parses a key history variable: a JSON array of
 * `{"publicKey":"<SPKI PEM>","notBefore":"<ISO>","notAfter":"<ISO>"}` (what `npm run
 * keys:rotate` writes). Keys of another type than `type` are refused.
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
    const e = entry as { publicKey?: unknown; notBefore?: unknown; notAfter?: unknown };
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
    return { publicKey, notBefore, notAfter };
  });
}

export function serializeKeyHistory(
  keys: { publicKey: KeyObject; notBefore: Date; notAfter: Date }[],
): string {
  return JSON.stringify(
    keys.map((k) => ({
      publicKey: k.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      notBefore: k.notBefore.toISOString(),
      notAfter: k.notAfter.toISOString(),
    })),
  );
}
