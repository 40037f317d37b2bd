import { Inject, Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import { Clock, Counter, MetricsRegistry } from '@app/common';
import {
  IssuedToken,
  IssuedTokenRepository,
  ReopenedWindow,
} from '../infrastructure/persistence/issued-token.repository';
import { offlineTokenConfig, OfflineTokenSettings } from '../offline-token.config';
import { OfflineTokenCheck, OfflineTokenClaims } from './offline-token';
import { SigningKeyService } from './signing-key.service';
import { TokenManager } from './token-manager.service';

/** A token check held to the record (`IssuedTokens.confirm`). */
export type ConfirmedTokenCheck =
  | { ok: true; claims: OfflineTokenClaims; unrecorded?: true }
  | Extract<OfflineTokenCheck, { ok: false }>;

/**
 * Offline tokens as this server issues them: each one recorded (device, jti, key, window and a
 * digest of its signed part), and a token accepted only when it is on record, so a key alone,
 * stolen (retired or active), mints nothing a sync accepts, and a recorded token's claims
 * (worker, sites, window) are the ones we issued.
 *
 * The transition: a store records tokens since this build first started on it
 * (`recordingSince`; a store with no device then has no transition). For one token lifetime
 * after that (OFFLINE_TOKEN_TTL_DAYS, plus the sync grace for its packets), a token not on
 * record is still accepted when the key that signs now signed it with the lifetime we issue:
 * those an older build issued before the upgrade, and those an older replica still issues
 * while a rolling upgrade goes on (whatever their `iat`: a holder of the active key could
 * backdate one anyway). Never once the token key was rotated; after the transition every
 * token must be on record.
 *
 * Reopened after a restore (`npm run tokens:reopen -- --since <the backup's time>`): the tokens
 * issued since the backup have no record in the restored store. For one token lifetime (and
 * the grace) after the command, a token not on record is accepted when the key that signs now
 * signed it (the one that signed when the command ran), with the lifetime we issue and an
 * `iat` from the backup to the command, and it is recorded then (adopted, once the sync found
 * its device and the claims are ones a refresh of it could have carried): it syncs after the
 * window too, even after a key rotation, and no other token may claim its `jti`. A rotation
 * ends the window at once (the key no longer signs).
 */
/** Kept past the last instant a sync accepts a token, before its record may be purged. */
const KEEP_MARGIN_MS = 86_400_000;

@Injectable()
export class IssuedTokens implements OnModuleInit {
  private readonly logger = new Logger(IssuedTokens.name);
  private readonly ttlMs: number;
  private readonly perDevice: number;
  private readonly keepMs: number;
  /** When this store began recording (read at boot); undefined: no transition at all. */
  private since?: Date;
  /** Records dropped by OFFLINE_TOKEN_RECORDS_PER_DEVICE at an issue (no device label: unbounded). */
  private readonly dropped?: Counter;

  constructor(
    private readonly tokens: TokenManager,
    private readonly records: IssuedTokenRepository,
    private readonly key: SigningKeyService,
    private readonly clock: Clock,
    @Inject(offlineTokenConfig.KEY) settings: OfflineTokenSettings,
    @Optional() metrics?: MetricsRegistry,
  ) {
    if (metrics) {
      this.dropped = new Counter({
        name: 'mdai_token_records_dropped_total',
        help: "Issued offline-token records dropped because a device's refreshes passed OFFLINE_TOKEN_RECORDS_PER_DEVICE (a looping app, lost answers, or someone with a device's secret); a dropped token no longer syncs",
        registers: [metrics],
      });
    }
    this.ttlMs = settings.tokenTtlSeconds * 1000;
    this.perDevice = settings.recordsPerDevice;
    // a sync presents a token up to the grace and the clock skew after its expiry; a day more
    // for replicas whose clocks differ (the purge runs on the issuing one's) and a grace raised
    // a little later
    this.keepMs =
      (settings.tokenGraceSeconds + settings.maxClockSkewSeconds) * 1000 + KEEP_MARGIN_MS;
  }

  async onModuleInit(): Promise<void> {
    this.since = await this.records.recordingSince(this.clock.now());
  }

  /** Issues a token (TokenManager) and records it before it is handed out. */
  async issue(
    subject: { deviceId: string; workerId: string; siteIds: string[] },
    now = this.clock.now(),
  ): Promise<{ token: string; claims: OfflineTokenClaims }> {
    const issued = this.prepare(subject, now);
    const dropped = await this.records.record(issued.record, now, this.perDevice);
    if (dropped > 0) {
      this.dropped?.inc(dropped);
      // a phone that follows the protocol holds a few live tokens: this one refreshes far more
      // often (a looping app, lost answers, or someone with its secret)
      this.logger.warn(
        { deviceId: subject.deviceId, dropped, perDevice: this.perDevice },
        'Token records of a device past OFFLINE_TOKEN_RECORDS_PER_DEVICE dropped',
      );
    }
    return issued;
  }

  /**
   * A token signed but not yet recorded, with the record to write before it is handed out: a
   * registration writes it with its device (WorkerDeviceRepository.register), so a failed
   * record leaves no device behind either.
   */
  prepare(
    subject: { deviceId: string; workerId: string; siteIds: string[] },
    now = this.clock.now(),
  ): { token: string; claims: OfflineTokenClaims; record: IssuedToken } {
    const { token, claims } = this.tokens.issue(subject, now);
    return { token, claims, record: this.recordOf(claims) };
  }

  /**
   * A token check (TokenManager.verify) held to the record: a token that verifies but that this
   * server did not issue is `not_issued`. One indexed read (a token not on record: one more, of
   * the reopened window). A token the reopened window holds comes back `unrecorded`: the caller
   * accepts it only once `adopt` recorded it, after it found the token's device active and the
   * claims ones this server would have issued to it (a holder of the active key must not get a
   * record for any device, worker or sites it likes).
   */
  async confirm(check: OfflineTokenCheck): Promise<ConfirmedTokenCheck> {
    if (!check.ok) return check;
    const c = check.claims;
    if (await this.records.presented(c.deviceId, c.tokenId, c.digest)) return check;
    const now = this.clock.now();
    if (this.inTransition(c, now)) return check;
    if (this.inReopenedWindow(c, await this.records.reopened(), now)) {
      return { ok: true, claims: c, unrecorded: true };
    }
    return { ok: false, failure: 'not_issued' };
  }

  /**
   * Records a token `confirm` found `unrecorded` (adopted; its device kept to
   * OFFLINE_TOKEN_RECORDS_PER_DEVICE as at an issue): true when the record now holds it, false
   * when the window no longer holds it or another token with its `jti` was recorded first.
   */
  async adopt(c: OfflineTokenClaims, now = this.clock.now()): Promise<boolean> {
    if (!this.inReopenedWindow(c, await this.records.reopened(), now)) return false;
    return this.records.adopt(this.recordOf(c), now, this.perDevice);
  }

  /**
   * Reopens the transition after the store was restored from a backup taken at `since`: for one
   * token lifetime and the grace from `now`, an unrecorded token of the active key issued from
   * `since` (to the second) to `now` is accepted and recorded at its first sync.
   */
  async reopen(since: Date, now = this.clock.now()): Promise<ReopenedWindow> {
    const window: ReopenedWindow = {
      since: new Date(Math.floor(since.getTime() / 1000) * 1000),
      openedAt: now,
      until: new Date(now.getTime() + this.ttlMs + this.keepMs),
      keyId: this.key.kid,
    };
    await this.records.reopen(window);
    return window;
  }

  /** Ends a reopened window now (the tokens it adopted stay on record); undefined if none is open. */
  async closeReopened(now = this.clock.now()): Promise<ReopenedWindow | undefined> {
    const window = await this.records.reopened();
    if (!window || window.until.getTime() <= now.getTime()) return undefined;
    const closed = { ...window, until: now };
    await this.records.reopen(closed);
    return closed;
  }

  /** Within a token lifetime of recording's start, by the key that signs now, as we issue. */
  private inTransition(c: OfflineTokenClaims, now: Date): boolean {
    return (
      this.since !== undefined &&
      now.getTime() < this.since.getTime() + this.ttlMs + this.keepMs &&
      c.keyId === this.key.kid &&
      this.lifetimeWeIssue(c)
    );
  }

  /**
   * Inside the reopened window, by the key that signed when it was opened and signs now, issued
   * (iat) between the backup and the command, with a lifetime we issue.
   */
  private inReopenedWindow(
    c: OfflineTokenClaims,
    window: ReopenedWindow | undefined,
    now: Date,
  ): boolean {
    return (
      window !== undefined &&
      now.getTime() < window.until.getTime() &&
      c.keyId === window.keyId &&
      c.keyId === this.key.kid &&
      c.notBefore.getTime() >= window.since.getTime() &&
      c.notBefore.getTime() <= window.openedAt.getTime() &&
      this.lifetimeWeIssue(c)
    );
  }

  private lifetimeWeIssue(c: OfflineTokenClaims): boolean {
    return c.expiresAt.getTime() - c.notBefore.getTime() <= this.ttlMs;
  }

  private recordOf(c: OfflineTokenClaims): IssuedToken {
    return {
      deviceId: c.deviceId,
      tokenId: c.tokenId,
      keyId: c.keyId,
      issuedAt: c.notBefore,
      expiresAt: c.expiresAt,
      digest: c.digest,
      keepUntil: new Date(c.expiresAt.getTime() + this.keepMs),
    };
  }
}
