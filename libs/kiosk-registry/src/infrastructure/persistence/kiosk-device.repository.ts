import { KioskDevice, KioskEvent, KioskStatus } from '../../domain/kiosk-device';

export type RegisterOutcome =
  { outcome: 'created'; device: KioskDevice } | { outcome: 'exists'; device: KioskDevice };

/** The kiosk registry port. Every change and its audit event are written together. */
export abstract class KioskDeviceRepository {
  /** Inserts the device unless its deviceId exists; then returns the existing record untouched. */
  abstract register(device: KioskDevice, event: KioskEvent): Promise<RegisterOutcome>;
  abstract findByDeviceId(deviceId: string): Promise<KioskDevice | undefined>;
  /** Replaces the key; undefined when the device is unknown. */
  abstract rotateKey(
    deviceId: string,
    key: { publicKeyPem: string; keyFingerprint: string },
    event: KioskEvent,
  ): Promise<KioskDevice | undefined>;
  abstract setStatus(
    deviceId: string,
    status: KioskStatus,
    event: KioskEvent,
  ): Promise<KioskDevice | undefined>;
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
}
