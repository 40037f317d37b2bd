export type KioskStatus = 'active' | 'blocked';

/**
 * Whether a kiosk's stored trust (its key and status) verifies under the store MAC: as the
 * server wrote it, tagged once as stored before the tags, or changed outside the server (then
 * read as blocked).
 */
export type KioskIntegrity = 'verified' | 'legacy' | 'tampered';

/** A kiosk (RDK X5 board) identified by the RSA key pair held in its TrustZone. */
export interface KioskDevice {
  id: string;
  deviceId: string;
  /** SPKI PEM, normalized by the server. */
  publicKeyPem: string;
  /** SHA-256 hex of the SPKI DER: names a key without showing it. */
  keyFingerprint: string;
  status: KioskStatus;
  createdAt: Date;
  updatedAt: Date;
  /**
   * Set when the store checks tags (KioskSeal): `tampered` reads as `status: 'blocked'`
   * whatever is stored.
   */
  integrity?: KioskIntegrity;
}

export type KioskEventAction = 'registered' | 'key_rotated' | 'blocked' | 'unblocked';

/** An audited change to a kiosk's identity or standing. */
export interface KioskEvent {
  id: string;
  deviceId: string;
  action: KioskEventAction;
  /** Who did it: `<role>:<key id>` of the API key used. */
  actor: string;
  reason?: string;
  keyFingerprint?: string;
  previousKeyFingerprint?: string;
  at: Date;
}
