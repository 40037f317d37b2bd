import { SealedValue } from '@app/vault/keyring/sealed-values';
import { WorkerDevice, WorkerDeviceEvent } from '../../domain/worker-device';

/** Registered worker phones and the audited changes to their standing. */
export abstract class WorkerDeviceRepository {
  /** Inserts a new device with its `registered` event. */
  abstract register(device: WorkerDevice, event: WorkerDeviceEvent): Promise<void>;
  abstract findByDeviceId(deviceId: string): Promise<WorkerDevice | undefined>;
  /** Devices ordered by deviceId, after the given one (keyset pagination). */
  abstract list(options: { limit: number; afterDeviceId?: string }): Promise<WorkerDevice[]>;
  /** Sets isBlocked and records who/when/why; undefined when the device is unknown. */
  abstract setBlocked(
    deviceId: string,
    blocked: boolean,
    event: WorkerDeviceEvent,
  ): Promise<WorkerDevice | undefined>;
  /** Moves lastSeen forward to `at` (never back) and, when given, records the address seen then. */
  abstract touchLastSeen(deviceId: string, at: Date, ip?: string): Promise<void>;
  /** deviceIds of every device registered with this SIM hash (one physical phone), sorted. */
  abstract listDeviceIdsBySimHash(simHash: string): Promise<string[]>;
  /** Events of one device, oldest first. */
  abstract listEvents(deviceId: string): Promise<WorkerDeviceEvent[]>;
  /** Sealed values not sealed under `version`, by key (for the reseal-all job). */
  abstract listSealedNotUnder(
    version: string,
    afterKey: string,
    limit: number,
  ): Promise<SealedValue[]>;
  /** Replaces a sealed value only if it is still `expected`. */
  abstract replaceSealed(key: string, expected: string, next: string): Promise<boolean>;
}
