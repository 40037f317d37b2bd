export type SessionProtocol = 'pairing' | 'legacy';

/**
 * open → submitting → completed; a failed upstream call goes back to open so the kiosk can
 * retry within the session window. Expiry is by time, not by status.
 */
export type SessionStatus = 'open' | 'submitting' | 'completed';

export interface SessionResult {
  status: 'success' | 'failure';
  statusCode: number;
  latencyMs: number;
}

/** One phone ↔ kiosk pairing. The platform id is kept sealed and never leaves for a kiosk. */
export interface PairingSession {
  /** ObjectId hex; the JWTs' `sid` (new protocol) or `jti` (legacy). */
  id: string;
  protocol: SessionProtocol;
  userId?: string;
  /** KeyringService-sealed platform id (context `session:<id>`); legacy: set when the app sends it. */
  platformIdSealed?: string;
  /** Legacy: the opaque alias the hardware sees instead of the platform id. */
  platformAlias?: string;
  status: SessionStatus;
  /** The kiosk that authenticated into the session. */
  deviceId?: string;
  /** The Vault file holding the submitted face image. */
  imageFileId?: string;
  result?: SessionResult;
  createdAt: Date;
  expiresAt: Date;
  completedAt?: Date;
}
