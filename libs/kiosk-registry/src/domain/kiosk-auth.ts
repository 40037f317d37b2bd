import { constants, KeyObject, sign, verify } from 'node:crypto';

/** The layout of what a kiosk signs to join a pairing session (UTF-8), as the docs state it. */
export const KIOSK_AUTH_INPUT = 'mdai-auth|<session_id>|<nonce>';

/** What a kiosk signs to join a pairing session: KIOSK_AUTH_INPUT filled in, in UTF-8. */
export function kioskAuthMessage(sessionId: string, nonce: string): Buffer {
  return Buffer.from(`mdai-auth|${sessionId}|${nonce}`, 'utf8');
}

/** RSASSA-PSS with SHA-256 and a 32-byte salt: the kiosk signature scheme. */
const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } as const;

/**
 * What a kiosk does with the relay's challenge: signs kioskAuthMessage with its private key;
 * base64. (The test kiosks, the demo and the benchmarks; real kiosks do it in TrustZone.)
 */
export function signKioskAuth(privateKey: KeyObject, sessionId: string, nonce: string): string {
  return sign('sha256', kioskAuthMessage(sessionId, nonce), { key: privateKey, ...PSS }).toString(
    'base64',
  );
}

/** RSASSA-PSS, SHA-256, salt length 32, over kioskAuthMessage; `signature` is base64. */
export function verifyKioskAuth(
  key: KeyObject,
  sessionId: string,
  nonce: string,
  signature: string,
): boolean {
  const bytes = Buffer.from(signature, 'base64');
  if (bytes.length === 0) return false;
  try {
    return verify('sha256', kioskAuthMessage(sessionId, nonce), { key, ...PSS }, bytes);
  } catch {
    // a malformed signature (wrong length for the key) is a signature that does not verify
    return false;
  }
}

export type KioskAuthVerdict = 'ok' | 'not_registered' | 'blocked' | 'invalid_signature';
