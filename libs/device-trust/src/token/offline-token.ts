/** The `typ` claim of an offline token: a token of any other kind is refused by sync. */
export const OFFLINE_TOKEN_TYPE = 'mdai.offline+jwt';
export const OFFLINE_TOKEN_ISSUER = 'mdai';

/** What an offline token says: this device, for this person, at these sites, in this window. */
export interface OfflineTokenClaims {
  deviceId: string;
  workerId: string;
  siteIds: string[];
  notBefore: Date;
  expiresAt: Date;
  tokenId: string;
  /** The `kid` of the key that signed it. */
  keyId: string;
  /**
   * SHA-256 (hex) of the signed part (header.payload): what the record of issued tokens holds,
   * so a token with our `jti` but any other claim or key is not the one we issued.
   */
  digest: string;
}

export type OfflineTokenFailure =
  | 'malformed'
  | 'bad_signature'
  /** signed by a key of the key history, but issued (iat) outside that key's window */
  | 'key_outside_window'
  | 'wrong_type'
  | 'not_yet_valid'
  | 'expired'
  /** signed by a key of ours, but this server has no record of issuing it (a forgery) */
  | 'not_issued';

export type OfflineTokenCheck =
  { ok: true; claims: OfflineTokenClaims } | { ok: false; failure: OfflineTokenFailure };
