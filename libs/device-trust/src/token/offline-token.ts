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
}

export type OfflineTokenFailure =
  | 'malformed'
  | 'bad_signature'
  /** signed by a key of the key history, but issued (iat) outside that key's window */
  | 'key_outside_window'
  | 'wrong_type'
  | 'not_yet_valid'
  | 'expired';

export type OfflineTokenCheck =
  { ok: true; claims: OfflineTokenClaims } | { ok: false; failure: OfflineTokenFailure };
