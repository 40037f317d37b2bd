import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { fraudConfig, FraudSettings } from '@app/fraud';
import { LegacyTaggingRefusal } from '@app/persistence';
import { StoreMac } from '@app/tlog';
import { WorkerDevice, WorkerDeviceEvent, WorkerDeviceIntegrity } from '../../domain/worker-device';

/**
 * The store-MAC tags of worker devices (StoreMac, purposes 'worker-device-state' and
 * 'worker-device-event'), made the way FraudSeal makes the fraud tags: written by the stores in
 * the same write as the row, checked at every read.
 *
 * - A device's block state is tagged over (deviceId, isBlocked, the id of the event that set
 *   it: its registration, block or unblock). A state that does not verify reads as blocked
 *   (`blockIntegrity: 'tampered'`): `is_blocked` set to 0 in the database does not let a blocked
 *   phone sync. An admin's block or unblock writes a new tag (the repair).
 * - An event is tagged over its every field (id, device, action, actor, reason, time): an
 *   `unblocked` row inserted or edited in the database reads as `tampered`, and the trust floor
 *   does not start from it.
 * - Rows stored before the tags are tagged once, at the first start with them, over the same
 *   data prefixed with `"legacy"` (the fraud tags' rule and switch: only on a store with no
 *   tagged row, and with no marker only with FRAUD_LEGACY_TAGGING on). A legacy state holds as
 *   stored until its next change, which tags it as the server's.
 *
 * - A tagged state reads as the server's only when the event it names is the device's newest
 *   event as written (not by its date: replicas' clocks differ), of its action (`blocked` for a blocked state;
 *   `registered` or `unblocked` for an unblocked one) and verified: an earlier tagged state
 *   saved and put back over a later one reads as tampered (blocked).
 *
 * A tag cannot tell a rollback: a device row and its newest events put back whole as they were
 * at an earlier time (the later events deleted with the state) verify; only a copy kept outside
 * the database (a backup, the audit trail elsewhere) tells it.
 */
@Injectable()
export class WorkerDeviceSeal {
  /** FRAUD_LEGACY_TAGGING (on without the setting: a tool, a contract spec). */
  readonly legacyTaggingAllowed: boolean;
  /**
   * FRAUD_LEGACY_TAGGING=1 set explicitly: the untagged devices are tagged as legacy even where
   * tagged ones exist (an upgrade first started without the switch, during which a device was
   * enrolled or unblocked: refusing then would leave every older phone blocked).
   */
  readonly legacyTaggingForced: boolean;

  constructor(
    private readonly mac: StoreMac,
    @Optional()
    @Inject(fraudConfig.KEY)
    settings?: Pick<FraudSettings, 'legacyTagging' | 'legacyTaggingExplicit'>,
  ) {
    this.legacyTaggingAllowed = settings?.legacyTagging ?? true;
    this.legacyTaggingForced = settings?.legacyTaggingExplicit ?? false;
  }

  stateTag(deviceId: string, blocked: boolean, eventId: string | null, legacy = false): string {
    return this.mac.mac('worker-device-state', stateData(deviceId, blocked, eventId, legacy));
  }

  stateIntegrity(
    deviceId: string,
    blocked: boolean,
    eventId: unknown,
    tag: unknown,
  ): WorkerDeviceIntegrity {
    const id = typeof eventId === 'string' ? eventId : null;
    if (this.mac.verify('worker-device-state', stateData(deviceId, blocked, id, false), tag))
      return 'verified';
    if (this.mac.verify('worker-device-state', stateData(deviceId, blocked, id, true), tag))
      return 'legacy';
    return 'tampered';
  }

  eventTag(e: WorkerDeviceEvent, legacy = false): string {
    return this.mac.mac('worker-device-event', eventData(e, legacy));
  }

  eventIntegrity(e: WorkerDeviceEvent, tag: unknown): WorkerDeviceIntegrity {
    if (this.mac.verify('worker-device-event', eventData(e, false), tag)) return 'verified';
    if (this.mac.verify('worker-device-event', eventData(e, true), tag)) return 'legacy';
    return 'tampered';
  }

  /**
   * What `keys:retag` does with a stored tag that reads `integrity` (as a read checked it): the
   * new tag under the current key (same form: legacy stays legacy) and the id of the key it was
   * under, `current` when it is under the current key already, `tampered` (no held key
   * vouches for it: never re-tagged, that would launder it), or `suspect`: it verifies only
   * under a key of `except` (`--except`, a leaked key, whose tags anyone holding it could have
   * made): never re-tagged, left to read tampered once that key is dropped.
   */
  retagState(
    deviceId: string,
    blocked: boolean,
    eventId: unknown,
    tag: unknown,
    integrity: WorkerDeviceIntegrity,
    except: readonly string[] = [],
  ): RetagStep {
    if (integrity === 'tampered') return { kind: 'tampered' };
    const id = typeof eventId === 'string' ? eventId : null;
    const legacy = integrity === 'legacy';
    const kid = this.mac.kidOf(
      'worker-device-state',
      stateData(deviceId, blocked, id, legacy),
      tag,
    );
    if (kid === undefined) return { kind: 'tampered' };
    if (kid === this.mac.kid) return { kind: 'current' };
    if (except.includes(kid)) return { kind: 'suspect', from: kid };
    return { kind: 'retag', from: kid, tag: this.stateTag(deviceId, blocked, id, legacy) };
  }

  retagEvent(e: WorkerDeviceEvent, tag: unknown, except: readonly string[] = []): RetagStep {
    if (e.integrity === 'tampered' || e.integrity === undefined) return { kind: 'tampered' };
    const legacy = e.integrity === 'legacy';
    const kid = this.mac.kidOf('worker-device-event', eventData(e, legacy), tag);
    if (kid === undefined) return { kind: 'tampered' };
    if (kid === this.mac.kid) return { kind: 'current' };
    if (except.includes(kid)) return { kind: 'suspect', from: kid };
    return { kind: 'retag', from: kid, tag: this.eventTag(e, legacy) };
  }

  /**
   * The device as read with its state checked: a state that does not verify fails closed
   * (blocked).
   */
  checked(
    device: WorkerDevice,
    eventId: unknown,
    tag: unknown,
    newest: WorkerDeviceEvent | undefined,
  ): WorkerDevice {
    let integrity = this.stateIntegrity(device.deviceId, device.isBlocked, eventId, tag);
    // a state the server tagged must be the one its newest event set: an older tagged state put
    // back (a saved unblocked state over a later block) is no state of now. A legacy state has
    // no event id: it holds as stored until its next change.
    if (integrity === 'verified' && !setByNewest(device.isBlocked, eventId, newest))
      integrity = 'tampered';
    device.blockIntegrity = integrity;
    if (integrity === 'tampered') device.isBlocked = true;
    return device;
  }
}

/** One stored tag's re-tagging (WorkerDeviceSeal.retagState / retagEvent). */
export type RetagStep =
  | { kind: 'tampered' }
  | { kind: 'current' }
  | { kind: 'suspect'; from: string }
  | { kind: 'retag'; from: string; tag: string };

/**
 * A row of a device that verifies only under a key given to `--except` (`kid`), left as it is:
 * its block state, or one of its events.
 */
export type WorkerDeviceSuspectRow =
  { row: 'state'; kid: string } | { row: 'event'; eventId: string; action: string; kid: string };

/** What `keys:retag` did with one device (its block state and its events). */
export interface WorkerDeviceRetagOutcome {
  deviceId: string;
  /** `changed`: a server changed it on every try (left; run again). */
  result: 'retagged' | 'current' | 'changed';
  /** The other key ids its re-tagged (or left, when changed) rows were under. */
  from: string[];
  /** Its rows no held key vouches for (state and events), never re-tagged. */
  tampered: number;
  /**
   * Its rows that verify only under a key of `except` (a leaked key), never re-tagged: they
   * read tampered once that key is dropped (a suspect state then reads blocked).
   */
  suspect: WorkerDeviceSuspectRow[];
}

/** Why a start refused the legacy tagging of worker devices (as the fraud store's). */
export type WorkerDeviceLegacyRefusal = LegacyTaggingRefusal;

export const WORKER_DEVICE_LEGACY_REFUSALS: Record<WorkerDeviceLegacyRefusal, string> = {
  tagged_rows:
    'ALARM: no worker_device_seal marker but worker devices already carry tags: the legacy tagging was not run (it would mark rows written outside the server as legacy); untagged devices read as tampered (blocked). If this is an upgrade first started without FRAUD_LEGACY_TAGGING=1 (devices enrolled or unblocked since), restart once with FRAUD_LEGACY_TAGGING=1 set explicitly: it tags the untagged devices as legacy whatever else is tagged; otherwise restore worker_device_seal from a backup, or block/unblock each device as an admin',
  not_allowed:
    'ALARM: untagged worker devices, no worker_device_seal marker and no tagged row, and FRAUD_LEGACY_TAGGING is off: the legacy tagging was not run; untagged devices read as tampered (blocked). If this start upgrades a store from a version without device tags, restart once with FRAUD_LEGACY_TAGGING=1',
};

export function alarmWorkerDeviceLegacyRefused(
  logger: Logger,
  reason: WorkerDeviceLegacyRefusal,
): void {
  logger.error(WORKER_DEVICE_LEGACY_REFUSALS[reason]);
}

/**
 * Whether `newest` (the device's newest event as written) is the event `eventId`
 * that set the state, of the state's action, and vouched for by its own tag.
 */
function setByNewest(
  blocked: boolean,
  eventId: unknown,
  newest: WorkerDeviceEvent | undefined,
): boolean {
  if (!newest || newest.id !== eventId || newest.integrity === 'tampered') return false;
  return blocked ? newest.action === 'blocked' : newest.action !== 'blocked';
}

function iso(at: Date): string {
  return Number.isNaN(at.getTime()) ? 'invalid' : at.toISOString();
}

function stateData(
  deviceId: string,
  blocked: boolean,
  eventId: string | null,
  legacy: boolean,
): string {
  const data = [deviceId, blocked, eventId];
  return JSON.stringify(legacy ? ['legacy', ...data] : data);
}

function eventData(e: WorkerDeviceEvent, legacy: boolean): string {
  const data = [e.id, e.deviceId, e.action, e.actor, e.reason ?? null, iso(e.at)];
  return JSON.stringify(legacy ? ['legacy', ...data] : data);
}
