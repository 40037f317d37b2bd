import { SealedValueRepository } from '@app/vault/keyring/sealed-values';
import { IssuedToken } from './issued-token.repository';
import type { WorkerDeviceLegacyRefusal, WorkerDeviceRetagOutcome } from './worker-device-seal';
import {
  WorkerDevice,
  WorkerDeviceEvent,
  WorkerDeviceEventAction,
} from '../../domain/worker-device';

/** WorkerDeviceRepository.lastEventAt's answer. */
export interface LastWorkerDeviceEvent {
  at?: Date;
  ignored: WorkerDeviceEvent[];
}

/** The legacy tagging of the devices from before the tags (`/health`, as the fraud store's). */
export interface WorkerDeviceLegacySeal {
  /** When the untagged devices were tagged as legacy, and how many (absent until then). */
  sealedAt?: Date;
  count?: number;
  /** This start refused to tag them: the untagged devices read as tampered (blocked). */
  refused: boolean;
  refusedReason?: WorkerDeviceLegacyRefusal;
  /**
   * This start refused the retirement of the form `v1` (its marker gone while `v2` states are
   * stored, FRAUD_LEGACY_TAGGING=1 not set explicitly): the `v1` states read as tampered
   * (blocked). Absent otherwise.
   */
  v1RetirementRefused?: true;
}

export interface WorkerDevicePage {
  limit: number;
  afterDeviceId?: string;
  workerId?: string;
}

/**
 * A registration's device write failed in a way that may have stored the device anyway (a
 * network error or timeout: MongoDB may have applied the insert, or apply it still): its token's
 * record is kept and its enrollment code must not be given back (a second registration with it
 * would make a second device). `cause` is the store's error (a 503 when the store is unreachable).
 */
export class DeviceWriteUncertainError extends Error {
  constructor(override readonly cause: unknown) {
    super('The device may have been stored despite the error');
    this.name = 'DeviceWriteUncertainError';
  }
}

/** Registered worker phones and the audited changes to their standing; the sealed values are the device secrets. */
export abstract class WorkerDeviceRepository extends SealedValueRepository {
  /** Why this start refused the legacy tagging (undefined when it did not). */
  legacyRefused?: WorkerDeviceLegacyRefusal;
  /** This start refused the retirement of the form `v1` (WorkerDeviceSeal.v1Retirement). */
  v1RetirementRefused = false;
  /** The legacy tagging's state (`/health`); `refused: false` and nothing else without tags. */
  abstract legacySeal(): Promise<WorkerDeviceLegacySeal>;
  /**
   * Inserts a new device with its `registered` event and, when given, the record of the first
   * offline token it is handed (IssuedTokenRepository's record): all of it or nothing, so a
   * registration that fails leaves neither a device nor a record behind, except when the store
   * cannot tell whether the device was stored (`DeviceWriteUncertainError`: the record stays).
   */
  abstract register(
    device: WorkerDevice,
    event: WorkerDeviceEvent,
    firstToken?: IssuedToken,
  ): Promise<void>;
  abstract findByDeviceId(deviceId: string): Promise<WorkerDevice | undefined>;
  /**
   * Devices ordered by deviceId, after the given one (keyset pagination); with `workerId`, only
   * the phones registered for that worker.
   */
  abstract list(options: WorkerDevicePage): Promise<WorkerDevice[]>;
  /** Sets isBlocked and records who/when/why; undefined when the device is unknown. */
  abstract setBlocked(
    deviceId: string,
    blocked: boolean,
    event: WorkerDeviceEvent,
  ): Promise<WorkerDevice | undefined>;
  /**
   * Blocks the device only if it is not blocked, recording the event with that change (one
   * conditional write: two processes deciding it at once block it once). true: blocked by this
   * call; false: it was blocked already (no event); undefined: unknown device.
   */
  abstract blockIfUnblocked(
    deviceId: string,
    event: WorkerDeviceEvent,
  ): Promise<boolean | undefined>;
  /** Moves lastSeen forward to `at` (never back) and, when given, records the address seen then. */
  abstract touchLastSeen(deviceId: string, at: Date, ip?: string): Promise<void>;
  /** deviceIds of every device registered with this SIM hash (one physical phone), sorted. */
  abstract listDeviceIdsBySimHash(simHash: string): Promise<string[]>;
  /** Events of one device, oldest first. */
  abstract listEvents(deviceId: string): Promise<WorkerDeviceEvent[]>;
  /**
   * The time of the device's latest event of `action` the server vouches for (`at`: undefined
   * if it has none, or no such device), and the later ones of that action passed over
   * (`ignored`): an event whose tag does not verify (`tampered`), or, with `notAfter`, one dated
   * after it. Newest first from one indexed read, stopping at the event it returns.
   */
  /**
   * `keys:retag`: the devices after `afterDeviceId` (deviceId order, `limit` of them), each one's
   * block state and events that verify under a held key other than the current one tagged again
   * under the current one (in the form they verify in), each device written only as read.
   * A row that verifies only under a key id of `except` (a leaked key) is never re-tagged:
   * named in the outcome's `suspect`. Needs the store's tags (WorkerDeviceSeal).
   */
  abstract retagPage(
    afterDeviceId: string,
    limit: number,
    except?: readonly string[],
  ): Promise<WorkerDeviceRetagOutcome[]>;
  abstract lastEventAt(
    deviceId: string,
    action: WorkerDeviceEventAction,
    notAfter?: Date,
  ): Promise<LastWorkerDeviceEvent>;
}
