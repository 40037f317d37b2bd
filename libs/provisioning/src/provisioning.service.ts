import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { constants, publicEncrypt, randomBytes } from 'node:crypto';
import { actorOf, Clock, PeriodicTask, Principal, safeEqual, sha256 } from '@app/common';
import { KioskDevice, KioskRegistryService } from '@app/kiosk-registry';
import { StoreMac } from '@app/tlog';
import { KeyringService, ResealReport } from '@app/vault';
import { WifiChallenge, wifiChallengeTagData } from './domain/wifi-challenge';
import { WifiChallengeRepository } from './infrastructure/persistence/wifi-challenge.repository';
import { provisioningConfig, ProvisioningSettings } from './provisioning.config';
import { ProvisioningError } from './provisioning.errors';

export const CHALLENGE_BYTES = 32;
/** Expired challenges are kept this long (to answer `challenge_expired`), then deleted. */
const EXPIRED_RETENTION_MS = 24 * 60 * 60 * 1000;

/** What an operator sees of a challenge: never the answer, never the password. */
export interface ChallengeState {
  id: string;
  deviceId: string;
  wifiSsid: string;
  state: 'waiting' | 'used' | 'locked' | 'expired';
  wrongAttempts: number;
  maxAttempts: number;
  createdAt: Date;
  expiresAt: Date;
  usedAt?: Date;
}

export interface IssuedChallenge {
  id: string;
  challenge: string;
  expiresAt: Date;
}

/**
 * Wi-Fi provisioning by RSA challenge: the admin's QR carries 32 random bytes encrypted to the
 * kiosk's TrustZone key; only that kiosk can decrypt them and exchange them, once, for the
 * Wi-Fi credentials.
 */
@Injectable()
export class ProvisioningService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ProvisioningService.name);
  private readonly ttlMs: number;
  private readonly maxAttempts: number;
  private readonly sweeper = new PeriodicTask({
    name: 'Expired challenge sweep',
    everyMs: 60 * 60 * 1000,
    run: () => this.sweep(),
    logger: this.logger,
  });

  constructor(
    private readonly challenges: WifiChallengeRepository,
    private readonly kiosks: KioskRegistryService,
    private readonly keyring: KeyringService,
    private readonly clock: Clock,
    private readonly mac: StoreMac,
    @Inject(provisioningConfig.KEY) settings: ProvisioningSettings,
  ) {
    this.ttlMs = settings.challengeTtlSeconds * 1000;
    this.maxAttempts = settings.challengeMaxAttempts;
    keyring.holdsSealedValues('wifi passwords', challenges);
  }
  /** Re-seals every stored Wi-Fi password under the active master key (reseal-all job). */
  resealPasswords(): Promise<ResealReport> {
    return this.keyring.resealAll('wifi passwords', this.challenges, sealContext);
  }

  onModuleInit(): void {
    this.sweeper.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.sweeper.stop();
  }

  async generate(
    deviceId: string,
    ssid: string,
    password: string,
    principal: Principal,
  ): Promise<IssuedChallenge> {
    if (!WPA2_PASSWORD.test(password)) {
      throw new ProvisioningError(
        'invalid_wifi_password',
        'wifi_password must be empty (an open network), 8-63 printable ASCII characters (space to ~), or exactly 64 hex digits (a pre-shared key), as WPA2 takes',
      );
    }
    const { device, key } = await this.kiosks.activeKey(deviceId);
    const answer = randomBytes(CHALLENGE_BYTES);
    const encrypted = publicEncrypt(
      { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      answer,
    );
    const now = this.clock.now();
    const id = challengeId();
    const record: WifiChallenge = {
      id,
      deviceId,
      challenge: encrypted.toString('base64'),
      answerHash: sha256(answer),
      wifiSsid: ssid,
      wifiPasswordSealed: this.keyring.seal(password, sealContext(id)),
      status: 'pending',
      wrongAttempts: 0,
      createdBy: actorOf(principal),
      keyFingerprint: device.keyFingerprint,
      kioskChangedAt: device.updatedAt,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.ttlMs),
    };
    answer.fill(0);
    record.tag = this.mac.mac('wifi-challenge', wifiChallengeTagData(record));
    await this.challenges.create(record);
    this.logger.log({ challengeId: id, deviceId }, 'Wi-Fi challenge issued');
    return { id, challenge: record.challenge, expiresAt: record.expiresAt };
  }

  /**
   * Exchanges the decrypted bytes for the Wi-Fi credentials: once, before expiry, within the
   * attempt limit. No credential is needed, so a wrong answer says nothing about the id: an
   * unknown id, and any state of a known one, answer the same `challenge_mismatch`. Only the
   * right answer (which only the kiosk can have) learns the challenge's state.
   */
  async validate(id: string, responseBase64: string): Promise<{ ssid: string; password: string }> {
    const response = Buffer.from(responseBase64, 'base64');
    if (response.length !== CHALLENGE_BYTES) {
      throw new ProvisioningError(
        'invalid_challenge_response',
        `challenge_response must decode to ${CHALLENGE_BYTES} bytes`,
      );
    }
    const now = this.clock.now();
    const challenge = this.untampered(await this.challenges.findById(id));
    // compared even for an unknown id, so both take the same work
    const right = safeEqual(sha256(response), challenge?.answerHash ?? NO_ANSWER);
    if (!challenge || !right) {
      if (challenge?.status === 'pending' && challenge.expiresAt > now) {
        const after = await this.challenges.recordWrongAnswer(id, this.maxAttempts);
        this.logger.warn(
          { challengeId: id, deviceId: challenge.deviceId, wrongAttempts: after?.wrongAttempts },
          'Wrong challenge response',
        );
      }
      throw new ProvisioningError(
        'challenge_mismatch',
        'The challenge response is wrong, or no open challenge has this bson_id',
      );
    }
    this.assertOpen(challenge, now);
    const kiosk = await this.kiosks.find(challenge.deviceId);
    if (!kiosk || kiosk.status === 'blocked')
      throw new ProvisioningError('device_blocked', 'This device is blocked');
    assertKioskUnchanged(challenge, kiosk);
    // opened before the challenge is spent: a server without the master key version it is
    // sealed under (503 key_unavailable) leaves it open for one that has it
    const password = this.keyring.openString(challenge.wifiPasswordSealed, sealContext(id));

    if (!(await this.challenges.markUsed(id, now))) {
      // lost a race, or its state changed since the read
      const current = await this.challenges.findById(id);
      if (current) this.assertOpen(current, this.clock.now());
      throw used();
    }
    // a rotation or a block committed between the read above and the mark: the stores hold the
    // kiosk and the challenge apart (no write spans both on MongoDB), so the kiosk is read
    // again once the challenge is spent. What changed before this read refuses it (spent,
    // nothing released); what changes after it comes after the redemption
    const still = await this.kiosks
      .find(challenge.deviceId)
      .catch((error: unknown) => this.giveBack(id, now, challenge.deviceId, error));
    try {
      if (!still) throw new ProvisioningError('device_blocked', 'This device is blocked');
      assertKioskUnchanged(challenge, still);
    } catch (error) {
      this.logger.warn(
        { challengeId: id, deviceId: challenge.deviceId },
        'Wi-Fi challenge spent without its credentials: the kiosk changed while it was redeemed',
      );
      throw error;
    }
    this.logger.log(
      { challengeId: id, deviceId: challenge.deviceId },
      'Wi-Fi credentials released',
    );
    return { ssid: challenge.wifiSsid, password };
  }

  /**
   * `stored` when its tag verifies; otherwise undefined, so it is answered as an unknown id
   * (`challenge_mismatch`, nothing about the row): a row whose answer hash, kiosk, SSID or
   * expiry was changed in the database, or one stored before challenges were tagged (issue a
   * new one). Logged as an ALARM once per call, with ids only.
   */
  private untampered(stored: WifiChallenge | undefined): WifiChallenge | undefined {
    if (!stored) return undefined;
    if (this.mac.verify('wifi-challenge', wifiChallengeTagData(stored), stored.tag)) return stored;
    this.logger.error(
      { challengeId: stored.id, deviceId: stored.deviceId, tagged: stored.tag !== undefined },
      stored.tag === undefined
        ? 'A Wi-Fi challenge stored without a tag (issued before challenges were tagged) was refused: issue a new one'
        : "ALARM: a Wi-Fi challenge's tag does not verify (the row was changed in the database): refused, nothing released",
    );
    return undefined;
  }

  /**
   * The kiosk's re-read failed (a store error) after this call spent the challenge: nothing was
   * released, so it is given back (only this call's mark is undone: of concurrent redeemers one
   * marked it, and that one released nothing) and the store's error is thrown (503 with its
   * code, whose message says nothing was changed: true, the challenge is open again). If the
   * store fails that too, or the row is gone or no longer this call's mark (purged by the sweep,
   * changed), the QR stays spent: logged either way, never released twice, and answered 503
   * `challenge_spent_unreleased` (ask for a new challenge), not the store's error, whose
   * "nothing was changed" would be untrue. The store's error stays in the log only.
   */
  private async giveBack(
    id: string,
    usedAt: Date,
    deviceId: string,
    error: unknown,
  ): Promise<never> {
    const back = await this.challenges.unmarkUsed(id, usedAt).catch((unmark: unknown) => {
      this.logger.error(
        { err: unmark, challengeId: id, deviceId },
        'A Wi-Fi challenge spent without its credentials could not be given back (the store failed): ask for a new one',
      );
      return null;
    });
    if (back) {
      this.logger.warn(
        { err: error, challengeId: id, deviceId },
        "Wi-Fi challenge given back: the kiosk's record could not be read after it was marked used",
      );
      throw error;
    }
    if (back === false)
      this.logger.warn(
        { err: error, challengeId: id, deviceId },
        'A Wi-Fi challenge spent without its credentials could not be given back (it was purged or changed): ask for a new one',
      );
    else
      this.logger.warn(
        { err: error, challengeId: id, deviceId },
        "The kiosk's record could not be read after the Wi-Fi challenge was marked used",
      );
    throw new ProvisioningError(
      'challenge_spent_unreleased',
      'The server failed while this challenge was redeemed: it is spent and no credentials were released; ask for a new challenge',
    );
  }

  /** The challenge's state now: used and locked are final; otherwise waiting until it expires. */
  async state(id: string, now = this.clock.now()): Promise<ChallengeState> {
    const c = await this.challenges.findById(id);
    if (!c) throw new ProvisioningError('challenge_not_found', 'No challenge has this bson_id');
    const state = c.status === 'pending' ? (c.expiresAt <= now ? 'expired' : 'waiting') : c.status;
    return {
      id: c.id,
      deviceId: c.deviceId,
      wifiSsid: c.wifiSsid,
      state,
      wrongAttempts: c.wrongAttempts,
      maxAttempts: this.maxAttempts,
      createdAt: c.createdAt,
      expiresAt: c.expiresAt,
      usedAt: c.usedAt,
    };
  }

  /** What the challenge QR encodes: the JSON of qr_payload. */
  async qrPayload(id: string): Promise<string> {
    const challenge = await this.challenges.findById(id);
    if (!challenge)
      throw new ProvisioningError('challenge_not_found', 'No challenge has this bson_id');
    return JSON.stringify({ bson_id: challenge.id, challenge: challenge.challenge });
  }

  sweep(now = this.clock.now()): Promise<number> {
    return this.challenges.deleteExpired(new Date(now.getTime() - EXPIRED_RETENTION_MS));
  }

  private assertOpen(challenge: WifiChallenge, now: Date): void {
    if (challenge.status === 'used') throw used();
    if (challenge.status === 'locked') {
      throw new ProvisioningError(
        'challenge_locked',
        'Too many wrong answers: this challenge is locked; ask for a new one',
      );
    }
    if (challenge.expiresAt.getTime() <= now.getTime()) {
      throw new ProvisioningError(
        'challenge_expired',
        'This challenge has expired; ask for a new one',
      );
    }
  }
}

/**
 * A challenge speaks for the kiosk as it was when it was issued: its key, and its standing. A
 * rotation (a board replaced, a key feared copied) or a block since revokes it, even once the
 * kiosk is unblocked: whoever holds the old key, or held the kiosk while it was blocked, gets
 * nothing from a QR shown before. The kiosk record's `updatedAt` is compared for equality (it
 * changes on each rotation, block and unblock), so replicas' clocks do not matter; a challenge
 * stored before these were recorded falls back to "the kiosk changed after it was issued".
 */
function assertKioskUnchanged(challenge: WifiChallenge, kiosk: KioskDevice): void {
  if (challenge.keyFingerprint !== undefined && challenge.keyFingerprint !== kiosk.keyFingerprint) {
    throw new ProvisioningError(
      'challenge_revoked',
      "The kiosk's key was rotated after this challenge was issued; ask for a new one",
    );
  }
  const changed = challenge.kioskChangedAt
    ? kiosk.updatedAt.getTime() !== challenge.kioskChangedAt.getTime()
    : kiosk.updatedAt.getTime() > challenge.createdAt.getTime();
  if (changed) {
    throw new ProvisioningError(
      'challenge_revoked',
      "The kiosk's key or standing changed (rotated, or blocked) after this challenge was issued; ask for a new one",
    );
  }
}

/**
 * What WPA2 takes as a network's secret (IEEE 802.11i): a passphrase of 8-63 printable ASCII
 * characters (0x20-0x7e), or the 256-bit pre-shared key as 64 hex digits; empty is an open
 * network. A longer passphrase, a character outside ASCII or a control character made a QR
 * the kiosk could not join with.
 */
const WPA2_PASSWORD = /^(?:|[\x20-\x7e]{8,63}|[0-9a-fA-F]{64})$/;

/** Compared against when the id is unknown: the SHA-256 of no answer anyone can send. */
const NO_ANSWER = Buffer.alloc(32);

/**
 * A challenge's id: 12 random bytes as 24 hex characters. DESIGN.md names it `bson_id`, and any
 * 12 bytes are an ObjectId, so fielded kiosks and stored challenges keep its shape; but none of
 * it is a timestamp, a per-process part or a counter (as `newId()` has), so no id seen elsewhere
 * (a session id in a pairing QR) leads to it. The QR is its only carrier.
 */
function challengeId(): string {
  return randomBytes(12).toString('hex');
}

function used(): ProvisioningError {
  return new ProvisioningError('challenge_used', 'This challenge has already been used');
}

function sealContext(challengeId: string): string {
  return `wifi:${challengeId}`;
}
