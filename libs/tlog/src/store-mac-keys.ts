import { createHash, createHmac, createPublicKey, KeyObject, randomBytes } from 'node:crypto';
import { ConfigError } from '@app/common';
import { rawEd25519 } from './domain/signed-note';

/**
 * One store-MAC key: the 32-byte secret each purpose's key is expanded from (HKDF-Expand,
 * info = the purpose) and its id, stored beside the tags made under it.
 */
export interface StoreMacKey {
  /** 16 hex digits; never derived in a way that gives the secret away. */
  kid: string;
  /** The 32-byte pseudorandom key (HKDF's PRK). */
  secret: Buffer;
  /** When it stopped being the current key (retired keys written by keys:rotate). */
  retiredAt?: Date;
  /**
   * When `keys:rotate mac --stage` added it (a key to become STORE_MAC_KEY at `--promote`: the
   * replicas verify its tags meanwhile, as any retired key's).
   */
  stagedAt?: Date;
}

/** HKDF's salt for the keys derived from the log signing key (tags made before STORE_MAC_KEY). */
const LEGACY_SALT = 'mdai/store-mac/v1';
const KID_LABEL = 'mdai/store-mac/kid\n';
const BASE64_32 = /^[A-Za-z0-9+/_-]{43}=?$/;

/** A fresh STORE_MAC_KEY: 32 random bytes, base64 (what `openssl rand -base64 32` prints). */
export function generateStoreMacKey(): string {
  return randomBytes(32).toString('base64');
}

/** The id of a STORE_MAC_KEY: the first 16 hex digits of SHA-256 over a label and the secret. */
export function storeMacKidOf(secret: Buffer): string {
  return createHash('sha256').update(KID_LABEL).update(secret).digest('hex').slice(0, 16);
}

/**
 * The key tags were made under before STORE_MAC_KEY existed: HKDF-Extract(salt
 * "mdai/store-mac/v1", the log signing key's PKCS#8 bytes), under the signing key's id (what
 * those tags were stored with). Expanded per purpose as every key is, it gives the same keys
 * HKDF-SHA256 gave them, so the tags stored then verify.
 */
export function legacyStoreMacKey(signingKey: KeyObject): StoreMacKey {
  const ikm = signingKey.export({ format: 'der', type: 'pkcs8' });
  return {
    kid: createHash('sha256')
      .update(rawEd25519(createPublicKey(signingKey)))
      .digest('hex')
      .slice(0, 16),
    secret: createHmac('sha256', LEGACY_SALT).update(ikm).digest(),
  };
}

/** The 32-byte key of one purpose: HKDF-Expand(secret, purpose, 32) (a single HMAC block). */
export function expandStoreMacKey(secret: Buffer, purpose: string): Buffer {
  return createHmac('sha256', secret)
    .update(Buffer.concat([Buffer.from(purpose), Buffer.from([1])]))
    .digest();
}

function decodeSecret(variable: string, value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || !BASE64_32.test(value.trim())) {
    throw new ConfigError(variable, `${what} must be 32 bytes, base64 (openssl rand -base64 32)`);
  }
  const secret = Buffer.from(value.trim(), 'base64');
  // review L-6: a placeholder, not a secret
  if (secret.every((byte) => byte === 0)) {
    throw new ConfigError(variable, `${what} must not be all zero bytes (openssl rand -base64 32)`);
  }
  return secret;
}

/** STORE_MAC_KEY (base64 of 32 bytes) as a key; the message never holds the value. */
export function parseStoreMacKey(variable: string, value: string): StoreMacKey {
  const secret = decodeSecret(variable, value, 'the key');
  return { kid: storeMacKidOf(secret), secret };
}

/**
 * STORE_MAC_RETIRED_KEYS: JSON `[{kid, key, retiredAt?}]`, `key` a retired secret (base64 of 32
 * bytes) and `kid` the id its tags were stored with (optional for a retired STORE_MAC_KEY: its
 * own id; required for a key derived from an earlier signing key, whose id is that key's).
 */
export function parseStoreMacHistory(variable: string, raw: string | undefined): StoreMacKey[] {
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(variable, 'must be a JSON array of {kid, key, retiredAt}');
  }
  if (!Array.isArray(parsed)) {
    throw new ConfigError(variable, 'must be a JSON array of {kid, key, retiredAt}');
  }
  const keys = parsed.map((entry: unknown, i): StoreMacKey => {
    const e = (entry ?? {}) as Record<string, unknown>;
    const secret = decodeSecret(variable, e.key, `entry ${i}: key`);
    if (e.kid !== undefined && (typeof e.kid !== 'string' || !/^[0-9a-f]{16}$/.test(e.kid))) {
      throw new ConfigError(variable, `entry ${i}: kid must be 16 lowercase hex digits`);
    }
    const retiredAt = dateOf(variable, i, 'retiredAt', e.retiredAt);
    const stagedAt = dateOf(variable, i, 'stagedAt', e.stagedAt);
    return {
      kid: e.kid ?? storeMacKidOf(secret),
      secret,
      retiredAt,
      ...(stagedAt ? { stagedAt } : {}),
    };
  });
  // review L-6: one key listed twice (or two under one id) is a hand edit gone wrong
  const seen = new Set<string>();
  keys.forEach((key, i) => {
    if (seen.has(key.kid))
      throw new ConfigError(variable, `entry ${i}: kid ${key.kid} is listed twice`);
    seen.add(key.kid);
    if (keys.some((other, j) => j < i && other.secret.equals(key.secret)))
      throw new ConfigError(variable, `entry ${i}: the same key as an earlier entry`);
  });
  return keys;
}

function dateOf(variable: string, i: number, field: string, raw: unknown): Date | undefined {
  if (raw === undefined) return undefined;
  const date = new Date(raw as string);
  if (typeof raw !== 'string' || Number.isNaN(date.getTime())) {
    throw new ConfigError(variable, `entry ${i}: ${field} must be an ISO date`);
  }
  return date;
}

/** The JSON of STORE_MAC_RETIRED_KEYS. */
export function serializeStoreMacHistory(keys: StoreMacKey[]): string {
  return JSON.stringify(
    keys.map((k) => ({
      kid: k.kid,
      key: k.secret.toString('base64'),
      ...(k.retiredAt ? { retiredAt: k.retiredAt.toISOString() } : {}),
      ...(k.stagedAt ? { stagedAt: k.stagedAt.toISOString() } : {}),
    })),
  );
}
