/** One offline token as this server issued it. */
export interface IssuedToken {
  deviceId: string;
  /** The token's `jti`. */
  tokenId: string;
  /** The `kid` of the key that signed it. */
  keyId: string;
  issuedAt: Date;
  expiresAt: Date;
  /** SHA-256 (hex) of its signed part (header.payload): its exact claims and key. */
  digest: string;
  /** Until when a sync may still present it (expiry, the sync grace and the clock skew). */
  keepUntil: Date;
}

/**
 * The transition reopened after a store was restored from a backup (`npm run tokens:reopen`):
 * until `until`, a token not on record is accepted (and recorded) when the key `keyId` signed
 * it, still the one that signs, with an `iat` from `since` (the backup) to `openedAt`.
 */
export interface ReopenedWindow {
  since: Date;
  openedAt: Date;
  until: Date;
  keyId: string;
}

/**
 * The record of the offline tokens this server issued: a sync accepts only a token on record
 * (a token signed by a key of ours that we did not issue is a forgery), so a stolen signing
 * key, retired or active, mints nothing that syncs (but for the active key during the upgrade
 * transition and a reopened window: `IssuedTokens`).
 */
export abstract class IssuedTokenRepository {
  /**
   * Records an issued token; records past their `keepUntil` at `now` are purged. With
   * `perDevice`, the device then keeps that many records at most: the surplus goes, oldest
   * first among the records no sync presented yet (never `token` itself), then oldest first
   * among the presented ones. Returns how many records of the device went.
   */
  abstract record(token: IssuedToken, now: Date, perDevice?: number): Promise<number>;

  /** Whether the token `tokenId` of `deviceId` with this digest is on record (one indexed read). */
  abstract isOnRecord(deviceId: string, tokenId: string, digest: string): Promise<boolean>;

  /**
   * `isOnRecord` for a sync presenting the token: when it is on record, notes that a sync
   * presented it (a write the first time only), which `record`'s bound reads.
   */
  abstract presented(deviceId: string, tokenId: string, digest: string): Promise<boolean>;

  /**
   * When this store began recording issued tokens, fixed by the first call (every later call,
   * on any replica, answers the same instant): its `now` when the store holds worker devices
   * already (their tokens were issued unrecorded), else the epoch (a new store: every token it
   * has is on record).
   */
  abstract recordingSince(now: Date): Promise<Date>;

  /** Sets the reopened window (one per store: a later one replaces it). */
  abstract reopen(window: ReopenedWindow): Promise<void>;

  /** The reopened window, if one was ever set (it may be over). */
  abstract reopened(): Promise<ReopenedWindow | undefined>;

  /**
   * Records a token not issued on this store's record (one the reopened window accepts, as
   * presented by a sync), unless its device already has a record of that `jti`: true when the
   * record now holds this token (device, jti and digest), false when another token with its
   * `jti` was recorded first. With `perDevice`, the device is then kept to the bound as by
   * `record` (the adopted token counts as presented; never one issued at or after it).
   */
  abstract adopt(token: IssuedToken, now: Date, perDevice?: number): Promise<boolean>;
}
