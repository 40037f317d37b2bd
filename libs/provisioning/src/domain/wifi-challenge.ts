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
}
