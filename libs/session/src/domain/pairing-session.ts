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

/**
 * What the phone is told of its session's submission: its `result` frame without the platform
 * id (added back from the session when it is sent). Never the image.
 */
export interface SessionOutcome extends SessionResult {
  /** The relay's result code of a failure. */
  code?: string;
  /** The upstream's body, or `{status:'failure', code, message}` when it gave none. */
  data: unknown;
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
  /**
   * New protocol: the phone's outcome (SessionOutcome as JSON), KeyringService-sealed (context
   * `session-outcome:<id>`), kept from the completion until a phone socket has it, so a phone
   * whose socket dropped meanwhile gets it when it comes back within the session's life.
   */
  outcomeSealed?: string;
  createdAt: Date;
  expiresAt: Date;
  completedAt?: Date;
}
