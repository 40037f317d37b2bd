import { KioskDevice, KioskEvent, KioskStatus } from '../../domain/kiosk-device';
import type { LegacyTaggingRefusal, LegacyTaggingState } from '@app/persistence';
import type { KioskMarkRetag, KioskRetagOutcome } from './kiosk-seal';

export type RegisterOutcome =
  | { outcome: 'created'; device: KioskDevice }
  | { outcome: 'exists'; device: KioskDevice }
  /** A new deviceId, but another device has the key: `device` is that one, nothing written. */
  | { outcome: 'key_in_use'; device: KioskDevice };

/** A rotation refused because another device has the new key: that device's id. */
export interface KeyInUse {
  keyInUseBy: string;
}

/** The kiosk registry port. Every change and its audit event are written together. */
/** What a status change did: the device as it is now, and whether this call wrote it. */
export interface StatusChange {
  device: KioskDevice;
  changed: boolean;
}

export abstract class KioskDeviceRepository {
  /** Why this start refused the legacy tagging (undefined when it did not). */
  legacyRefused?: LegacyTaggingRefusal;
  /** The legacy tagging's state (`/health`); `refused: false` and nothing else without tags. */
  abstract legacySeal(): Promise<LegacyTaggingState>;
  /**
   * Inserts the device unless its deviceId exists (then returns the existing record untouched)
   * or another device has its key fingerprint (`key_in_use`). SQLite decides both in one
   * transaction; MongoDB reads the key's holder first (a unique index could not be built over
   * the duplicates stored before), so two registrations of one key racing on two replicas
   * may both pass.
   */
  abstract register(device: KioskDevice, event: KioskEvent): Promise<RegisterOutcome>;
  abstract findByDeviceId(deviceId: string): Promise<KioskDevice | undefined>;
  /** Replaces the key; undefined when the device is unknown; KeyInUse when another has it. */
  abstract rotateKey(
    deviceId: string,
    key: { publicKeyPem: string; keyFingerprint: string },
    event: KioskEvent,
  ): Promise<KioskDevice | KeyInUse | undefined>;
  /**
   * Sets the status and appends the event, in one conditional write; a device already in that
   * status is returned as it is, nothing written (no event, `updatedAt` kept: a Wi-Fi challenge
   * is bound to it, and a second click on "unblock" must not revoke the QR a kiosk shows).
   * `changed` says which: of two blocks racing, only the one that wrote. Undefined when the
   * device is unknown.
   */
  abstract setStatus(
    deviceId: string,
    status: KioskStatus,
    event: KioskEvent,
  ): Promise<StatusChange | undefined>;
  /**
   * Devices ordered by deviceId, after the given one (keyset pagination); with `prefix`, only
   * those whose deviceId starts with it (case-sensitive, no wildcards).
   */
  abstract list(options: {
    limit: number;
    afterDeviceId?: string;
    prefix?: string;
  }): Promise<KioskDevice[]>;
  /** Events of one device, oldest first. */
  abstract listEvents(deviceId: string): Promise<KioskEvent[]>;
  /**
   * `keys:retag`: the kiosks after `afterDeviceId` (by deviceId, `limit` of them), each tag that
   * verifies under a held key other than the current one re-tagged under the current one (legacy
   * stays legacy), each only as read; never a tampered one, nor one under a key of `except`.
   */
  abstract retagPage(
    afterDeviceId: string,
    limit: number,
    except: readonly string[],
  ): Promise<KioskRetagOutcome[]>;
  /**
   * `keys:retag` of the SQLite store's mark of the kiosk events (KioskSeal.retagMark), after the
   * kiosks' pages; undefined when there is none (MongoDB: none at all).
   */
  abstract retagMark(except: readonly string[]): Promise<KioskMarkRetag | undefined>;
}
