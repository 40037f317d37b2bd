import { Injectable, Logger, Optional } from '@nestjs/common';
import { KeyObject } from 'node:crypto';
import { actorOf, Clock, MetricsRegistry, newId, Principal } from '@app/common';
import { LegacyTaggingState, legacyTaggingRefusedGauge } from '@app/persistence';
import { KioskDevice, KioskEvent, KioskEventAction, KioskStatus } from './domain/kiosk-device';
import { parseKioskPublicKey } from './domain/kiosk-public-key';
import { KioskAuthVerdict, verifyKioskAuth } from './domain/kiosk-auth';
import { KioskDeviceRepository } from './infrastructure/persistence/kiosk-device.repository';
import { KioskRegistryError } from './kiosk-registry.errors';
import type { KioskMarkRetag, KioskRetagOutcome } from './infrastructure/persistence/kiosk-seal';
export type { KioskMarkRetag, KioskRetagOutcome } from './infrastructure/persistence/kiosk-seal';

/**
 * A change that takes a kiosk's standing away: blocked, or its key replaced (the old key, maybe
 * on a stolen board, no longer speaks for it). Sessions the kiosk is in must end.
 */
export interface KioskRevocation {
  deviceId: string;
  change: 'blocked' | 'key_rotated';
}

/**
 * Whether a kiosk that authenticated with the key of `keyFingerprint` may still act: `ok`, or
 * what took its standing away since.
 */
export type KioskStanding = 'ok' | 'not_registered' | 'blocked' | 'key_rotated';

/**
 * The kiosk registry: which TrustZone key speaks for which kiosk, and whether it may.
 * Other modules (Provisioning, Relay) use this service, never the repository.
 */
@Injectable()
export class KioskRegistryService {
  private readonly logger = new Logger(KioskRegistryService.name);
  private readonly revocationListeners: Array<(revocation: KioskRevocation) => void> = [];

  constructor(
    private readonly devices: KioskDeviceRepository,
    private readonly clock: Clock,
    @Optional() metrics?: MetricsRegistry,
  ) {
    // the legacy tagging this start refused: every kiosk from before the tags reads blocked
    legacyTaggingRefusedGauge(
      'mdai_kiosks_legacy_tagging_refused',
      'Whether this start refused to tag the kiosks from before the tags (FRAUD_LEGACY_TAGGING off, or the kiosk_seal marker gone): 1 while every such kiosk reads blocked (its Wi-Fi challenge and relay auth refused)',
      devices,
      metrics,
    );
  }

  /** When the kiosks from before the tags were tagged as legacy, how many, or that it was refused. */
  legacySeal(): Promise<LegacyTaggingState> {
    return this.devices.legacySeal();
  }

  /** Registers a kiosk key. Same id with the same key is idempotent; with another key it is a 409. */
  async register(
    deviceId: string,
    publicKeyPem: string,
    principal: Principal,
  ): Promise<'created' | 'unchanged'> {
    const parsed = parseKioskPublicKey(publicKeyPem);
    const now = this.clock.now();
    const device: KioskDevice = {
      id: newId(),
      deviceId,
      publicKeyPem: parsed.pem,
      keyFingerprint: parsed.fingerprint,
      status: 'active',
      createdAt: now,
      updatedAt: now,
    };
    const result = await this.devices.register(
      device,
      this.event(deviceId, 'registered', principal, now, { keyFingerprint: parsed.fingerprint }),
    );
    if (result.outcome === 'key_in_use') throw keyInUse(result.device.deviceId);
    if (result.outcome === 'exists') {
      if (result.device.keyFingerprint !== parsed.fingerprint) {
        throw new KioskRegistryError(
          'device_key_conflict',
          'This device_id is registered with another key; key rotation is an explicit admin action',
        );
      }
      return 'unchanged';
    }
    this.logger.log(
      { deviceId, keyFingerprint: parsed.fingerprint, bits: parsed.bits },
      'Kiosk registered',
    );
    return 'created';
  }

  async rotateKey(
    deviceId: string,
    publicKeyPem: string,
    reason: string,
    principal: Principal,
  ): Promise<KioskDevice> {
    const parsed = parseKioskPublicKey(publicKeyPem);
    const current = await this.require(deviceId);
    // the same key again is refused, unless the stored trust does not verify: rotating to the
    // key the kiosk really holds is then the repair (the stored key may be that one)
    if (current.keyFingerprint === parsed.fingerprint && current.integrity !== 'tampered') {
      throw new KioskRegistryError('same_key', 'The new key is the key already registered');
    }
    const now = this.clock.now();
    const updated = await this.devices.rotateKey(
      deviceId,
      { publicKeyPem: parsed.pem, keyFingerprint: parsed.fingerprint },
      this.event(deviceId, 'key_rotated', principal, now, {
        reason,
        keyFingerprint: parsed.fingerprint,
        previousKeyFingerprint: current.keyFingerprint,
      }),
    );
    if (!updated) throw notFound();
    if ('keyInUseBy' in updated) throw keyInUse(updated.keyInUseBy);
    this.logger.log({ deviceId, keyFingerprint: parsed.fingerprint }, 'Kiosk key rotated');
    this.revoked({ deviceId, change: 'key_rotated' });
    return updated;
  }

  async setStatus(
    deviceId: string,
    status: KioskStatus,
    reason: string,
    principal: Principal,
  ): Promise<KioskDevice> {
    const current = await this.require(deviceId);
    if (status === 'active' && current.integrity === 'tampered') {
      // an unblock would vouch for a key nobody checked (it may be a database writer's)
      throw new KioskRegistryError(
        'kiosk_tampered',
        "This kiosk's stored key or status does not verify: rotate its key to the kiosk's genuine key first (it stays blocked), then unblock it",
      );
    }
    if (current.status === status) {
      // nothing to change, nothing written (the repository would write nothing either: a
      // repeated unblock must not revoke the kiosk's Wi-Fi QR); a repeated block still ends any
      // session the kiosk holds
      this.logger.log({ deviceId, status }, 'Kiosk status unchanged: already so');
      if (status === 'blocked') this.revoked({ deviceId, change: 'blocked' });
      return current;
    }
    const updated = await this.devices.setStatus(
      deviceId,
      status,
      this.event(
        deviceId,
        status === 'blocked' ? 'blocked' : 'unblocked',
        principal,
        this.clock.now(),
        {
          reason,
        },
      ),
    );
    if (!updated) throw notFound();
    if (updated.changed) this.logger.log({ deviceId, status }, 'Kiosk status changed');
    else {
      // another request (this replica's or another's) set it between the read above and the
      // conditional write: that one wrote the event and moved updatedAt, this one nothing
      this.logger.log({ deviceId, status }, 'Kiosk status unchanged: another request set it first');
    }
    if (status === 'blocked') this.revoked({ deviceId, change: 'blocked' });
    return updated.device;
  }

  async require(deviceId: string): Promise<KioskDevice> {
    const device = await this.devices.findByDeviceId(deviceId);
    if (!device) throw notFound();
    return device;
  }

  async find(deviceId: string): Promise<KioskDevice | undefined> {
    return this.devices.findByDeviceId(deviceId);
  }

  /** The key to check a kiosk's signatures or encrypt to it; refuses unknown and blocked kiosks. */
  async activeKey(deviceId: string): Promise<{ device: KioskDevice; key: KeyObject }> {
    const device = await this.require(deviceId);
    if (device.status === 'blocked')
      throw new KioskRegistryError('device_blocked', 'This device is blocked');
    return { device, key: parseKioskPublicKey(device.publicKeyPem).key };
  }

  /**
   * Checks a kiosk's answer to a relay challenge. Unknown, blocked and wrong signatures are
   * verdicts; a store failure throws (it is not a verdict about the kiosk).
   */
  async verifyAuth(
    deviceId: string,
    sessionId: string,
    nonce: string,
    signature: string,
  ): Promise<KioskAuthVerdict> {
    return (await this.authenticate(deviceId, sessionId, nonce, signature)).verdict;
  }

  /** verifyAuth, with the fingerprint of the key that verified (for `standing` later). */
  async authenticate(
    deviceId: string,
    sessionId: string,
    nonce: string,
    signature: string,
  ): Promise<{ verdict: KioskAuthVerdict; keyFingerprint?: string }> {
    const device = await this.devices.findByDeviceId(deviceId);
    if (!device) return { verdict: 'not_registered' };
    if (device.status === 'blocked') return { verdict: 'blocked' };
    const { key } = parseKioskPublicKey(device.publicKeyPem);
    return verifyKioskAuth(key, sessionId, nonce, signature)
      ? { verdict: 'ok', keyFingerprint: device.keyFingerprint }
      : { verdict: 'invalid_signature' };
  }

  /**
   * Whether a kiosk that authenticated with the key of `keyFingerprint` may still act (the
   * relay asks before a submission goes upstream). A store failure throws: not a verdict.
   */
  async standing(deviceId: string, keyFingerprint: string): Promise<KioskStanding> {
    const device = await this.devices.findByDeviceId(deviceId);
    if (!device) return 'not_registered';
    if (device.status === 'blocked') return 'blocked';
    return device.keyFingerprint === keyFingerprint ? 'ok' : 'key_rotated';
  }

  /**
   * Called after a kiosk is blocked or its key rotated on this instance (the relay ends the
   * kiosk's sessions, and tells the other instances). A listener must not throw.
   */
  onRevocation(listener: (revocation: KioskRevocation) => void): void {
    this.revocationListeners.push(listener);
  }

  private revoked(revocation: KioskRevocation): void {
    for (const listener of this.revocationListeners) {
      try {
        listener(revocation);
      } catch (error) {
        this.logger.error(
          { err: error, deviceId: revocation.deviceId },
          'Revocation listener failed',
        );
      }
    }
  }

  list(limit: number, afterDeviceId?: string, prefix?: string): Promise<KioskDevice[]> {
    return this.devices.list({ limit, afterDeviceId, prefix });
  }

  listEvents(deviceId: string): Promise<KioskEvent[]> {
    return this.devices.listEvents(deviceId);
  }

  /** `keys:retag`'s page of kiosks (KioskDeviceRepository.retagPage). */
  retagPage(
    afterDeviceId: string,
    limit: number,
    except: readonly string[],
  ): Promise<KioskRetagOutcome[]> {
    return this.devices.retagPage(afterDeviceId, limit, except);
  }

  /** `keys:retag` of the kiosk events' mark (KioskDeviceRepository.retagMark). */
  retagMark(except: readonly string[]): Promise<KioskMarkRetag | undefined> {
    return this.devices.retagMark(except);
  }

  private event(
    deviceId: string,
    action: KioskEventAction,
    principal: Principal,
    at: Date,
    extra: Partial<KioskEvent> = {},
  ): KioskEvent {
    return { id: newId(), deviceId, action, actor: actorOf(principal), at, ...extra };
  }
}

/**
 * One TrustZone key speaks for one board: under a second id it would let one kiosk pose as two
 * (its pairings and Wi-Fi challenges under either name), and a block of one would not stop it.
 */
function keyInUse(holder: string): KioskRegistryError {
  return new KioskRegistryError(
    'public_key_in_use',
    `This public key is registered to another kiosk (${holder}); rotate that kiosk's key first, or register this one with its own key`,
  );
}

function notFound(): KioskRegistryError {
  return new KioskRegistryError('device_not_found', 'No kiosk is registered with this device_id');
}
