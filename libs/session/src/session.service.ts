import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Clock, newId, PeriodicTask } from '@app/common';
import { KeyringService, ResealReport } from '@app/vault';
import { PairingSession, SessionOutcome, SessionResult } from './domain/pairing-session';
import { SessionRepository } from './infrastructure/persistence/session.repository';
import { SessionTokenService } from './session-token.service';
import { sessionConfig, SessionSettings } from './session.config';

/**
 * Platform ids are opaque ids like PLT_jjbmYWeq3o1W: `PLT_` and at least 10 letters or digits.
 * Long and shaped enough that the relay can find them in any frame text (in any case, in base64)
 * without ever matching a protocol word (`type`, `data`, `joined`) or a short common string.
 */
export const PLATFORM_ID_PATTERN = /^PLT_[A-Za-z0-9]{10,124}$/;

/**
 * Where a platform id (PLATFORM_ID_PATTERN's shape) may be inside a longer text, for the relay's
 * filter toward kiosks: the same prefix and letters, unanchored, in any letter case, and with no
 * upper bound (an over-long run is one id to remove whole, never an id and a visible rest).
 * Built from PLATFORM_ID_PATTERN itself, so the two cannot drift apart.
 */
export const PLATFORM_ID_IN_TEXT = new RegExp(
  PLATFORM_ID_PATTERN.source.replace(/^\^|\$$/g, '').replace(/\{(\d+),\d+\}/, '{$1,}'),
  'i',
);

export interface OpenedMobileSession {
  session: PairingSession;
  mobileToken: string;
  deviceToken: string;
}

/** Pairing sessions: creation, tokens, the sealed platform id and the one submission. */
@Injectable()
export class SessionService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(SessionService.name);
  readonly ttlMs: number;
  private readonly sweeper = new PeriodicTask({
    name: 'Expired session sweep',
    everyMs: 60 * 60 * 1000,
    run: () => this.sweep(),
    logger: this.logger,
  });

  constructor(
    private readonly sessions: SessionRepository,
    private readonly tokens: SessionTokenService,
    private readonly keyring: KeyringService,
    private readonly clock: Clock,
    @Inject(sessionConfig.KEY) sessionSettings: SessionSettings,
  ) {
    this.ttlMs = sessionSettings.ttlSeconds * 1000;
    keyring.holdsSealedValues('session platform ids', sessions);
    // never resealed (they live as long as their session), but a version one needs is not
    // droppable while a phone can still be given it
    keyring.holdsSealedValues('kept session outcomes', {
      countByVersion: () => sessions.countKeptOutcomesByVersion(this.clock.now()),
    });
  }
  /** Re-seals every session's platform id under the active master key (reseal-all job). */
  resealPlatformIds(): Promise<ResealReport> {
    return this.keyring.resealAll('session platform ids', this.sessions, sealContext);
  }

  onModuleInit(): void {
    this.sweeper.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.sweeper.stop();
  }

  async openMobileSession(userId: string, platformId: string): Promise<OpenedMobileSession> {
    const now = this.clock.now();
    const id = newId();
    const session: PairingSession = {
      id,
      protocol: 'pairing',
      userId,
      platformIdSealed: this.keyring.seal(platformId, sealContext(id)),
      status: 'open',
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.ttlMs),
    };
    await this.sessions.create(session);
    this.logger.log({ sessionId: id }, 'Pairing session opened');
    return {
      session,
      mobileToken: this.tokens.issue(id, 'mobile', session.expiresAt),
      deviceToken: this.tokens.issue(id, 'device', session.expiresAt),
    };
  }

  /** Legacy `/auth`: a session whose id is the token's jti; the platform id comes later from the app. */
  async openLegacySession(): Promise<{ token: string; expiresInSeconds: number }> {
    const now = this.clock.now();
    const session: PairingSession = {
      id: newId(),
      protocol: 'legacy',
      status: 'open',
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.ttlMs),
    };
    await this.sessions.create(session);
    this.logger.log({ sessionId: session.id }, 'Legacy session opened');
    return {
      token: this.tokens.issue(session.id, 'legacy', session.expiresAt),
      expiresInSeconds: this.ttlMs / 1000,
    };
  }

  deviceTokenFor(session: PairingSession): string {
    return this.tokens.issue(session.id, 'device', session.expiresAt);
  }

  find(id: string): Promise<PairingSession | undefined> {
    return this.sessions.findById(id);
  }

  platformIdOf(session: PairingSession): string | undefined {
    return session.platformIdSealed
      ? this.keyring.openString(session.platformIdSealed, sealContext(session.id))
      : undefined;
  }

  /**
   * Legacy: keeps the real platform id and returns the session's alias for it (made once per
   * session); undefined when the session holds another platform id (recorded meanwhile by
   * another writer: the first one recorded stays, with its alias).
   */
  async setLegacyPlatformId(
    session: PairingSession,
    platformId: string,
  ): Promise<string | undefined> {
    let current: PairingSession | undefined = session;
    if (!session.platformIdSealed) {
      const alias = `PLT_ALIAS_${randomBytes(9).toString('base64url')}`;
      const sealed = this.keyring.seal(platformId, sealContext(session.id));
      if (await this.sessions.setPlatformId(session.id, sealed, alias)) return alias;
      current = await this.sessions.findById(session.id);
    }
    return current && this.platformIdOf(current) === platformId ? current.platformAlias : undefined;
  }

  recordDevice(sessionId: string, deviceId: string): Promise<void> {
    return this.sessions.setDevice(sessionId, deviceId);
  }

  /**
   * Spends a legacy session's one app use in the store (true: this call spent it). The relay
   * spends it in Redis first (`RelayBus.firstUse`, the fast gate between instances); this one
   * outlives a Redis that comes back from a snapshot without the mark.
   */
  spendAppUse(sessionId: string): Promise<boolean> {
    return this.sessions.spendAppUse(sessionId, this.clock.now());
  }

  claimSubmission(sessionId: string): Promise<boolean> {
    return this.sessions.claimSubmission(sessionId, this.clock.now());
  }

  releaseSubmission(sessionId: string): Promise<void> {
    return this.sessions.releaseSubmission(sessionId);
  }

  /**
   * submitting → completed. `outcome`: what the phone is told (new protocol), kept sealed until a
   * phone socket has it (takeOutcome, outcomeHeard).
   */
  completeSubmission(
    sessionId: string,
    result: SessionResult,
    outcome?: SessionOutcome,
  ): Promise<void> {
    const sealed = outcome && this.keyring.seal(JSON.stringify(outcome), outcomeContext(sessionId));
    return this.sessions.completeSubmission(sessionId, result, this.clock.now(), sealed);
  }

  /**
   * The phone's outcome of a completed session, for a phone socket that comes back: undefined
   * when there is none (never kept, already heard, or past the session's life). It stays kept:
   * only the phone's answer to the close after it removes it (outcomeHeard), so a phone that
   * drops again before reading it gets it on its next return (at least once).
   */
  keptOutcome(session: PairingSession): SessionOutcome | undefined {
    if (!session.outcomeSealed || session.expiresAt.getTime() <= this.clock.now().getTime())
      return undefined;
    try {
      const text = this.keyring.openString(session.outcomeSealed, outcomeContext(session.id));
      return JSON.parse(text) as SessionOutcome;
    } catch (error) {
      // its master key retired meanwhile (the outcome is never resealed: it lives minutes)
      this.logger.error(
        { err: error, sessionId: session.id },
        'A kept outcome could not be opened',
      );
      return undefined;
    }
  }

  /**
   * A phone socket read the outcome (it answered the close that followed it): no longer kept.
   * True when it was still kept (the store's atomic take: of two replicas, one).
   */
  outcomeHeard(sessionId: string): Promise<boolean> {
    return this.sessions.takeOutcome(sessionId);
  }

  attachImage(sessionId: string, fileId: string): Promise<void> {
    return this.sessions.attachImage(sessionId, fileId);
  }

  async sweep(now = this.clock.now()): Promise<number> {
    // an outcome no phone came back for is of no use past the session's life; its failure is
    // logged and does not keep the week-old sessions (and theirs) from going
    await this.sessions
      .dropExpiredOutcomes(now)
      .catch((error: unknown) =>
        this.logger.error({ err: error }, "Dropping expired sessions' outcomes failed"),
      );
    // sessions are short-lived; keep a week of them for support questions
    return this.sessions.deleteExpired(new Date(now.getTime() - 7 * 24 * 3600 * 1000));
  }
}

function sealContext(sessionId: string): string {
  return `session:${sessionId}`;
}

function outcomeContext(sessionId: string): string {
  return `session-outcome:${sessionId}`;
}
