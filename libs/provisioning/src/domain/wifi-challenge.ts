export type ChallengeStatus = 'pending' | 'used' | 'locked';

/**
 * A Wi-Fi provisioning challenge: 32 random bytes encrypted (RSA-OAEP) to one kiosk's key.
 * Only the SHA-256 of the bytes is kept, so the store never holds the answer; the Wi-Fi
 * password is kept sealed by the Vault keyring.
 */
export interface WifiChallenge {
  /** ObjectId hex: the QR's `bson_id`. */
  id: string;
  deviceId: string;
  /** base64 RSA-OAEP ciphertext shown in the QR (not secret: only the kiosk can open it). */
  challenge: string;
  /** SHA-256 of the 32 plaintext bytes. */
  answerHash: Buffer;
  wifiSsid: string;
  /** KeyringService-sealed password, context `wifi:<id>`. */
  wifiPasswordSealed: string;
  status: ChallengeStatus;
  wrongAttempts: number;
  createdBy: string;
  /**
   * The kiosk's key fingerprint when the challenge was encrypted to it, and the kiosk record's
   * `updatedAt` then (its last rotation, block or unblock): a change of either since revokes
   * the challenge. Absent on challenges stored before they were recorded.
   */
  keyFingerprint?: string;
  kioskChangedAt?: Date;
  createdAt: Date;
  expiresAt: Date;
  usedAt?: Date;
  /**
   * The store MAC ('wifi-challenge') over `wifiChallengeTagData`: what decides a redemption
   * (the answer's hash, the kiosk, its key, the SSID, the expiry), so a row changed in the
   * database (an answer hash of the editor's choosing, a later expiry) releases nothing. Absent
   * on challenges stored before it existed, which are refused as unknown.
   */
  tag?: string;
}

/**
 * What a challenge's tag covers: every field fixed when it is issued. Not the status, the
 * attempts or `usedAt` (the store's conditional updates change them; a spent challenge put back
 * to pending releases the credentials only to the answer's holder, the kiosk that had them),
 * nor the sealed password (re-sealed under a new master key; the keyring's context binds it to
 * the challenge's id).
 */
export function wifiChallengeTagData(c: WifiChallenge): string {
  return JSON.stringify([
    'wifi-challenge/v1',
    c.id,
    c.deviceId,
    c.challenge,
    c.answerHash.toString('hex'),
    c.wifiSsid,
    c.keyFingerprint ?? null,
    c.kioskChangedAt?.getTime() ?? null,
    c.createdBy,
    c.createdAt.getTime(),
    c.expiresAt.getTime(),
  ]);
}
