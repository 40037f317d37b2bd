import { constants, KeyObject, verify } from 'node:crypto';

/** What a kiosk signs to join a pairing session: `mdai-auth|<session_id>|<nonce>` in UTF-8. */
export function kioskAuthMessage(sessionId: string, nonce: string): Buffer {
  return Buffer.from(`mdai-auth|${sessionId}|${nonce}`, 'utf8');
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
    return verify(
      'sha256',
      kioskAuthMessage(sessionId, nonce),
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      bytes,
    );
  } catch {
    // a malformed signature (wrong length for the key) is a signature that does not verify
    return false;
  }
}

export type KioskAuthVerdict = 'ok' | 'not_registered' | 'blocked' | 'invalid_signature';
