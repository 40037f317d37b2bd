import { Injectable, Logger } from '@nestjs/common';
import { LegacyTaggedSeal } from '@app/fraud';
import { LegacyTaggingRefusal } from '@app/persistence';
import { WorkerDevice, WorkerDeviceEvent, WorkerDeviceIntegrity } from '../../domain/worker-device';

/**
 * The fields of a device its state tag covers besides the block state, as stored: those every
 * decision reads and the server never changes after the registration.
 */
export type WorkerDeviceBound = Pick<
  WorkerDevice,
  'deviceId' | 'user' | 'siteIds' | 'fingerprint' | 'trustScore' | 'createdAt'
>;

/** The forms of a state tag: `v1` (before the owner fields were covered) and `v2`. */
type StateForm = 'v1' | 'v2';

/**
 * The store-MAC tags of worker devices (StoreMac, purposes 'worker-device-state' and
 * 'worker-device-event'), made the way FraudSeal makes the fraud tags: written by the stores in
 * the same write as the row, checked at every read.
 *
 * - A device's state is tagged over (deviceId, isBlocked, the id of the event that set it: its
 *   registration, block or unblock) and every field of the device a decision reads, none of
 *   which the server changes after the registration (form `"v2"`): the owner (user kind and
 *   id: whose token a refresh issues, whose correction a thekedar phone signs), its sites, its
 *   fingerprint (os, model: the user-agent factor; simHash: the shared-device rule), its trust
 *   score at registration and its creation time (the age factor). A state that does not verify
 *   reads as blocked (`blockIntegrity: 'tampered'`): `is_blocked` set to 0, or `user_id` moved
 *   to another worker, in the database does not let the phone sync. An admin's block or unblock
 *   writes a new tag over the row as stored (the repair: the admin vouches for the device as
 *   the console shows it). Not covered: `last_seen` and `last_ip`, written by every sync (a
 *   tag there would be an HMAC per sync; `last_ip` only spares the request's IP factor), and
 *   `sealed_secret`, which the Vault keyring seals under the device's own context (another
 *   device's sealed secret does not open as this one's) and re-seals at a key rotation.
 * - A state tagged before the form `"v2"` (over deviceId, isBlocked and the event id alone) is
 *   re-tagged once, at the first start with the form, as a `v2` legacy state over its fields as
 *   stored (`v1RetirementTag`, behind the store's marker); from then on (`retireV1`) a `v1` tag
 *   reads as tampered. Until then it verifies as what it is, and `keys:retag` keeps its form.
 * - An event is tagged over its every field (id, device, action, actor, reason, time): an
 *   `unblocked` row inserted or edited in the database reads as `tampered`, and the trust floor
 *   does not start from it.
 * - Rows stored before the tags are tagged once, at the first start with them, over the same
 *   data prefixed with `"legacy"` (the fraud tags' rule and switch: only on a store with no
 *   tagged row, and with no marker only with FRAUD_LEGACY_TAGGING on). A legacy state holds as
 *   stored until its next change, which tags it as the server's: put back after that change
 *   (the device's newest event then no longer legacy), it reads as tampered.
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
export class WorkerDeviceSeal extends LegacyTaggedSeal {
  // legacyTaggingForced (LegacyTaggedSeal): the untagged devices are tagged as legacy even where
  // tagged ones exist (an upgrade first started without the switch, during which a device was
  // enrolled or unblocked: refusing then would leave every older phone blocked).

  /**
   * The form `v1` retired (the store's `worker_device_seal` marker says so, `retireV1`): a state
   * tag of that form, legacy or not, then reads as tampered.
   */
  private v1Retired = false;

  /** A state's tag in the current form (`v2`), `legacy` for a row from before the tags. */
  stateTag(
    device: WorkerDeviceBound,
    blocked: boolean,
    eventId: string | null,
    legacy = false,
  ): string {
    return this.mac.mac('worker-device-state', stateData('v2', device, blocked, eventId, legacy));
  }

  stateIntegrity(
    device: WorkerDeviceBound,
    blocked: boolean,
    eventId: unknown,
    tag: unknown,
  ): WorkerDeviceIntegrity {
    return this.stateForm(device, blocked, eventId, tag)?.integrity ?? 'tampered';
  }

  /** The form and integrity a stored state's tag verifies in (undefined: in none, tampered). */
  private stateForm(
    device: WorkerDeviceBound,
    blocked: boolean,
    eventId: unknown,
    tag: unknown,
  ): { form: StateForm; integrity: 'verified' | 'legacy' } | undefined {
    const id = typeof eventId === 'string' ? eventId : null;
    for (const form of this.v1Retired ? (['v2'] as const) : (['v2', 'v1'] as const)) {
      const data = (legacy: boolean) => stateData(form, device, blocked, id, legacy);
      const integrity = this.formIntegrity('worker-device-state', data, tag);
      if (integrity !== 'tampered') return { form, integrity };
    }
    return undefined;
  }

  /**
   * The store has re-tagged every state of the form `v1` (`v1RetirementTag`) and recorded it in
   * its marker: from now on a `v1` tag (one put back, or written by a server of an earlier
   * version) reads as tampered.
   */
  retireV1(): void {
    this.v1Retired = true;
  }

  /**
   * A stored state's new tag at the retirement of the form `v1`, before the marker says so: a
   * state whose tag verifies in `v1` (legacy or not) and that a read does not find tampered
   * (`integrity`, from `checked`: a `v1` state put back over a later change stays tampered) is
   * tagged in the form `v2` as legacy over the device's fields as stored: the owner, sites,
   * fingerprint, score and creation time `v1` never covered are taken on the operator's word at
   * the upgrade, as the legacy tagging takes a row from before the tags. Undefined: left as it
   * is (a `v2` state, or one no form vouches for).
   */
  v1RetirementTag(state: WorkerDeviceStoredState): string | undefined {
    if (state.integrity === 'tampered') return undefined;
    const id = typeof state.eventId === 'string' ? state.eventId : null;
    if (this.stateForm(state.device, state.blocked, id, state.tag)?.form !== 'v1') return undefined;
    return this.stateTag(state.device, state.blocked, id, true);
  }

  eventTag(e: WorkerDeviceEvent, legacy = false): string {
    return this.mac.mac('worker-device-event', eventData(e, legacy));
  }

  eventIntegrity(e: WorkerDeviceEvent, tag: unknown): WorkerDeviceIntegrity {
    return this.formIntegrity('worker-device-event', (legacy) => eventData(e, legacy), tag);
  }

  /**
   * What `keys:retag` makes of one device, its block state and its events as stored and as a
   * read checked them (`state.integrity` from `checked`, each event's `integrity` from
   * `eventIntegrity`): the same for both stores, which only read the rows and write what it
   * returns. Each row is re-tagged under the current key in the form it verifies in (legacy
   * stays legacy) when a held key other than the current one vouches for it; a row no held key
   * vouches for is `tampered` (counted, never re-tagged: that would launder it), and one that
   * verifies only under a key of `except` (`--except`, a leaked key, whose tags anyone holding
   * it could have made) is `suspect` (named, never re-tagged: it reads tampered once that key
   * is dropped). The device's other rows are re-tagged all the same.
   */
  retagPlan(
    state: WorkerDeviceStoredState,
    events: readonly WorkerDeviceStoredEvent[],
    except: readonly string[] = [],
  ): WorkerDeviceRetagPlan {
    const from = new Set<string>();
    const plan: WorkerDeviceRetagPlan = { eventTags: [], from: [], tampered: 0, suspect: [] };
    /** A row's new tag (undefined: left as it is), a tampered or suspect one counted. */
    const retag = (
      purpose: 'worker-device-state' | 'worker-device-event',
      integrity: WorkerDeviceIntegrity | undefined,
      data: (legacy: boolean) => string,
      tag: unknown,
      suspect: (kid: string) => WorkerDeviceSuspectRow,
    ): string | undefined => {
      // only a row a read vouches for, in the form it verifies in (legacy stays legacy)
      const found =
        integrity === 'verified' || integrity === 'legacy'
          ? this.vouchedIn(purpose, data(integrity === 'legacy'), tag)
          : undefined;
      const row = this.retagRow(purpose, found, except);
      if (row.result === 'tampered') plan.tampered++;
      else if (row.result === 'suspect') plan.suspect.push(suspect(row.from!));
      else if (row.result === 'retagged') from.add(row.from!);
      return row.tag;
    };
    const id = typeof state.eventId === 'string' ? state.eventId : null;
    // in the form it verifies in (a `v1` state stays `v1` until the device's next change)
    const form = this.stateForm(state.device, state.blocked, id, state.tag)?.form ?? 'v2';
    plan.stateTag = retag(
      'worker-device-state',
      state.integrity,
      (legacy) => stateData(form, state.device, state.blocked, id, legacy),
      state.tag,
      (kid) => ({ row: 'state', kid }),
    );
    for (const { event, tag } of events) {
      plan.eventTags.push(
        retag(
          'worker-device-event',
          event.integrity,
          (legacy) => eventData(event, legacy),
          tag,
          (kid) => ({ row: 'event', eventId: event.id, action: event.action, kid }),
        ),
      );
    }
    plan.from = [...from];
    return plan;
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
    let integrity = this.stateIntegrity(device, device.isBlocked, eventId, tag);
    // a state the server tagged must be the one its newest event set: an older tagged state put
    // back (a saved unblocked state over a later block) is no state of now. A legacy state with
    // an event id (a `v1` state re-tagged at its retirement) is held to its event as well. A
    // legacy state from before the tags names none: it holds as stored only while the device's
    // newest event is legacy too (or it has none). Every change since the upgrade writes a new
    // state with a server-tagged event, so a newer event (verified, or one no key vouches for,
    // which could hide a verified one behind it) says this state was put back over a later one.
    const named =
      integrity === 'verified' || (integrity === 'legacy' && typeof eventId === 'string');
    if (named && !setByNewest(device.isBlocked, eventId, newest)) integrity = 'tampered';
    else if (integrity === 'legacy' && !named && newest && newest.integrity !== 'legacy')
      integrity = 'tampered';
    device.blockIntegrity = integrity;
    if (integrity === 'tampered') device.isBlocked = true;
    return device;
  }
}

/** A device's block state as stored, with the integrity a read found (`checked`). */
export interface WorkerDeviceStoredState {
  /** The device's fields the tag covers, as stored. */
  device: WorkerDeviceBound;
  /** As stored (not as read: a tampered state reads blocked). */
  blocked: boolean;
  /** The id of the event that set it, as stored. */
  eventId: unknown;
  tag: unknown;
  integrity: WorkerDeviceIntegrity;
}

/** One of a device's events as read (its `integrity` set), with its stored tag. */
export interface WorkerDeviceStoredEvent {
  event: WorkerDeviceEvent;
  tag: unknown;
}

/** What `keys:retag` writes for one device (WorkerDeviceSeal.retagPlan), and what it leaves. */
export interface WorkerDeviceRetagPlan {
  /** The block state's new tag; absent: left as it is. */
  stateTag?: string;
  /** Each event's new tag, in the order the events were given; undefined: left as it is. */
  eventTags: (string | undefined)[];
  /** The other key ids the re-tagged rows were under (empty: nothing to write). */
  from: string[];
  /** Rows no held key vouches for (state and events), never re-tagged. */
  tampered: number;
  /** Rows that verify only under a key of `except`, never re-tagged. */
  suspect: WorkerDeviceSuspectRow[];
}

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

/**
 * A device's outcome: of its plan as written (`changed`: a server changed the device on every
 * try, the plan left unwritten), or of a device gone since its page was read (no plan).
 */
export function workerDeviceRetagOutcome(
  deviceId: string,
  plan: WorkerDeviceRetagPlan | undefined,
  changed = false,
): WorkerDeviceRetagOutcome {
  if (!plan) return { deviceId, result: 'current', from: [], tampered: 0, suspect: [] };
  const { from, tampered, suspect } = plan;
  const result = changed ? 'changed' : from.length > 0 ? 'retagged' : 'current';
  return { deviceId, result, from, tampered, suspect };
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

/**
 * What a state tag is made over: `v1` (deviceId, isBlocked, the event id; before the owner fields
 * were covered, verified only) and `v2` (the same, form-prefixed, and every WorkerDeviceBound
 * field); `"legacy"`-prefixed for a row the server tagged once at the upgrade to the tags.
 */
function stateData(
  form: StateForm,
  device: WorkerDeviceBound,
  blocked: boolean,
  eventId: string | null,
  legacy: boolean,
): string {
  const { deviceId, user, siteIds, fingerprint: f, trustScore, createdAt } = device;
  const data =
    form === 'v1'
      ? [deviceId, blocked, eventId]
      : [
          'v2',
          deviceId,
          blocked,
          eventId,
          user.kind,
          user.id,
          siteIds,
          [f.os, f.model, f.simHash],
          trustScore,
          iso(createdAt),
        ];
  return JSON.stringify(legacy ? ['legacy', ...data] : data);
}

function eventData(e: WorkerDeviceEvent, legacy: boolean): string {
  const data = [e.id, e.deviceId, e.action, e.actor, e.reason ?? null, iso(e.at)];
  return JSON.stringify(legacy ? ['legacy', ...data] : data);
}
