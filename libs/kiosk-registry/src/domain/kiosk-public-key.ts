import { createHash, createPublicKey, KeyObject } from 'node:crypto';
import { KioskRegistryError } from '../kiosk-registry.errors';

export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;
const SPKI_PEM = /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;

export interface ParsedKioskKey {
  key: KeyObject;
  pem: string;
  fingerprint: string;
  bits: number;
}

/**
 * Accepts only an RSA public key (≥ 2048 bits, exponent 65537) in SPKI PEM form, as
 * `openssl rsa -pubout` and Node's `generateKeyPair('rsa', { publicKeyEncoding: { type: 'spki' } })`
 * write it. Private keys, PKCS#1, certificates, EC and weak keys are refused with a 400.
 */
export function parseKioskPublicKey(pem: string): ParsedKioskKey {
  const text = pem.trim() + '\n';
  if (!SPKI_PEM.test(text)) {
    throw new KioskRegistryError(
      'invalid_public_key',
      'public_key must be one SPKI PEM block (-----BEGIN PUBLIC KEY-----)',
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch {
    throw new KioskRegistryError(
      'invalid_public_key',
      'public_key is not a readable SPKI PEM public key',
    );
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new KioskRegistryError(
      'unsupported_key_type',
      `public_key must be an RSA key, not ${key.asymmetricKeyType ?? 'unknown'}`,
    );
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  const exponent = key.asymmetricKeyDetails?.publicExponent;
  if (bits < MIN_RSA_BITS) {
    throw new KioskRegistryError(
      'weak_public_key',
      `RSA keys must have at least ${MIN_RSA_BITS} bits (got ${bits})`,
    );
  }
  if (bits > MAX_RSA_BITS) {
    throw new KioskRegistryError(
      'invalid_public_key',
      `RSA keys over ${MAX_RSA_BITS} bits are not accepted`,
    );
  }
  if (exponent !== 65537n) {
    throw new KioskRegistryError('weak_public_key', 'RSA public exponent must be 65537');
  }
  const der = key.export({ type: 'spki', format: 'der' });
  return {
    key,
    pem: key.export({ type: 'spki', format: 'pem' }).toString(),
    fingerprint: createHash('sha256').update(der).digest('hex'),
    bits,
  };
}
