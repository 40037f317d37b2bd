import { Injectable, Logger } from '@nestjs/common';
import { LegacyTaggedSeal, Vouched } from '@app/fraud';
import { LegacyTaggingRefusal } from '@app/persistence';
import { KioskDevice, KioskEvent, KioskIntegrity, KioskStatus } from '../../domain/kiosk-device';

/** What a kiosk's tag covers: everything that decides whether the kiosk is trusted. */
export interface KioskTrust {
  id: string;
  deviceId: string;
  publicKeyPem: string;
  keyFingerprint: string;
  status: KioskStatus;
  updatedAt: Date;
}

/**
 * The store-MAC tags of kiosks (StoreMac, purposes 'kiosk-state', 'kiosk-event' and, on SQLite,
 * 'kiosk-event-mark'), made the way WorkerDeviceSeal tags a worker device's block state: written
 * by the stores in the same write as the row (registration, key rotation, block, unblock),
 * checked at every read.
 *
 * - The state's tag covers the row's id, the deviceId, the public key (PEM and fingerprint), the
 *   status, `updatedAt` and the event that set them (its id and its `seq`): a key swapped in the
 *   database (whose holder would then pass the kiosk's RSA challenges) or a blocked kiosk set
 *   active reads `tampered`, and a tampered kiosk reads as blocked wherever it is used (the
 *   Wi-Fi challenge, the relay's auth and pairing, the standing checks), with the codes the
 *   kiosks already know.
 * - Each event is tagged over its every field and its `seq`. A tagged state reads as the
 *   server's only when the event it names is the kiosk's newest (by `seq`, not by date:
 *   replicas' clocks differ) and verifies: a whole earlier row put back (the active row saved
 *   before a block, the row of a key rotated out) names an older event and reads `tampered`.
 * - On SQLite the events are numbered 1, 2, 3 ... across all kiosks, and a tagged mark holds the
 *   newest number (KioskEventSequence): any event after the row's deleted (the kiosk's own after
 *   another's, or the store's newest) leaves the numbers past the row's short of the
 *   mark, and reads `tampered` too (gaplessAfter). The mark deleted with it does not make the
 *   numbering whole again: the next event skips a number (a hole); a mark that does not verify
 *   refuses the kiosk writes (nextSeq). Not caught: the kiosk's later events
 *   re-attributed (their deviceId rewritten) rather than deleted, and the kiosk store put back
 *   whole; a backup or the transparency log tells that. On MongoDB a kiosk's events are embedded
 *   in its document: its fields put back read `tampered`, the whole earlier document (its events
 *   with it) verifies, as a worker device's does.
 * - The repair is an admin's key rotation with the kiosk's genuine key: it tags the new key with
 *   the kiosk blocked (the stored status is not to be trusted), and an unblock then makes it
 *   active. An unblock of a tampered kiosk is refused (it would vouch for a key nobody checked).
 * - Rows stored before the tags are tagged once, at the first start with them, over the same
 *   data prefixed with `"legacy"` (the fraud tags' rule and switch: FRAUD_LEGACY_TAGGING, the
 *   `kiosk_seal` marker; see tagLegacyRowsOnceSqlite/Mongo). Those, and the rows tagged before
 *   the events were (over the kiosk's data alone), read `legacy`: as stored until the kiosk's
 *   next change, which binds its state to that change's event; once the kiosk has a tagged
 *   event, such a row put back reads `tampered`.
 */
@Injectable()
export class KioskSeal extends LegacyTaggedSeal {
  tag(kiosk: KioskTrust, legacy = false): string {
    return this.mac.mac('kiosk-state', trustData(kiosk, legacy));
  }

  /** A state bound to the event that set it (`seq`: its number): the tag every change writes. */
  stateTag(kiosk: KioskTrust, by: KioskStateEvent): string {
    return this.mac.mac('kiosk-state', boundData(kiosk, by));
  }

  eventTag(event: KioskEvent, seq: number): string {
    return this.mac.mac('kiosk-event', eventData(event, seq));
  }

  /** The SQLite store's mark: the newest event number written. */
  markTag(seq: number): string {
    return this.mac.mac('kiosk-event-mark', markData(seq));
  }

  eventVerifies(stored: KioskStoredEvent): boolean {
    return this.mac.verify('kiosk-event', eventData(stored.event, stored.seq), stored.tag);
  }

  /**
   * Whether a stored state is the server's (see the class comment): `newest` is the kiosk's
   * newest event carrying a number (undefined: none), `sequence` the store-wide numbering
   * (SQLite; undefined on MongoDB).
   */
  stateIntegrity(
    state: KioskStoredState,
    newest: KioskStoredEvent | undefined,
    sequence?: KioskEventSequence,
  ): KioskIntegrity {
    const by = boundEvent(state);
    if (by && this.mac.verify('kiosk-state', boundData(state.kiosk, by), state.tag)) {
      return this.setByNewest(by, newest) && this.gaplessAfter(by.seq, sequence)
        ? 'verified'
        : 'tampered';
    }
    // a tag from before the events were tagged: as stored until the kiosk's next change, and
    // only while the kiosk has had none since (every event the store numbered still there)
    const unbound = this.unboundKid(state.kiosk, state.tag);
    if (!unbound || newest) return 'tampered';
    return this.gaplessAfter(0, sequence) ? 'legacy' : 'tampered';
  }

  /** The kiosk as read with its tag checked: one that does not verify fails closed (blocked). */
  checked(
    kiosk: KioskDevice,
    stored: Omit<KioskStoredState, 'kiosk'>,
    newest: KioskStoredEvent | undefined,
    sequence?: KioskEventSequence,
    wellFormed = true,
  ): KioskDevice {
    kiosk.integrity = wellFormed
      ? this.stateIntegrity({ ...stored, kiosk }, newest, sequence)
      : 'tampered';
    if (kiosk.integrity === 'tampered') kiosk.status = 'blocked';
    return kiosk;
  }

  /**
   * What `keys:retag` makes of one kiosk, its state and its events as stored (`integrity`: the
   * state's as a read checked it): the same for both stores, which only read the rows and write
   * what it returns. A row is re-tagged under the current key, in the form it verifies in
   * (legacy stays legacy), when a held key other than the current one vouches for it; a state no
   * held key vouches for (or that a read found tampered) makes the kiosk `tampered`, never
   * re-tagged (that would launder it); a state or event that verifies only under a key of
   * `except` (a leaked key, whose tags anyone holding it could have made) makes it `suspect`,
   * left as it is. Its other rows are re-tagged all the same.
   */
  retagPlan(
    state: KioskStoredState,
    integrity: KioskIntegrity,
    events: readonly KioskStoredEvent[],
    except: readonly string[] = [],
  ): KioskRetagPlan {
    const plan: KioskRetagPlan = { eventTags: [], result: 'current' };
    const from: string[] = [];
    let suspect: string | undefined;
    const by = boundEvent(state);
    const bound = by ? boundData(state.kiosk, by) : undefined;
    const stateKid =
      integrity === 'tampered'
        ? undefined
        : ((bound && this.vouchedIn('kiosk-state', bound, state.tag)) ??
          this.unboundKid(state.kiosk, state.tag));
    if (!stateKid) plan.result = 'tampered';
    else if (except.includes(stateKid.kid)) suspect = stateKid.kid;
    else if (stateKid.kid !== this.mac.kid) {
      from.push(stateKid.kid);
      plan.stateTag = this.mac.mac('kiosk-state', stateKid.data);
    }
    for (const stored of events) {
      const data = eventData(stored.event, stored.seq);
      const row = this.retagRow(
        'kiosk-event',
        this.vouchedIn('kiosk-event', data, stored.tag),
        except,
      );
      if (row.result === 'suspect') suspect ??= row.from;
      else if (row.result === 'retagged' && !from.includes(row.from!)) from.push(row.from!);
      plan.eventTags.push(row.tag);
    }
    if (plan.result === 'tampered') return plan;
    if (suspect !== undefined) return { ...plan, result: 'suspect', from: suspect };
    return from.length > 0 ? { ...plan, result: 'retagged', from: from[0] } : plan;
  }

  /**
   * `keys:retag` of the SQLite store's mark (undefined: none stored). Under a held key other than
   * the current one: re-tagged under the current one (`tag`). Under a key of `except` (a leaked
   * key): `suspect`, left as it is, whether or not the numbering confirms its number
   * (`confirmed`: as many numbered events as it says, the newest that number): whoever holds
   * that key could have written it after deleting the newest kiosk events, a number the
   * numbering then confirms. Left under that key it stops verifying once the key is dropped
   * (every kiosk then reads tampered and the kiosk writes are refused): any kiosk change before
   * that writes it under the current key, once the kiosks were checked. Under no held key:
   * `tampered` (the kiosk writes are refused already).
   */
  retagMark(
    mark: KioskStoredMark | undefined,
    numbered: { count: number; newest: number | undefined },
    except: readonly string[] = [],
  ): KioskMarkRetag | undefined {
    if (!mark) return undefined;
    if (typeof mark.seq !== 'number') return { result: 'tampered', seq: Number.NaN };
    const seq = mark.seq;
    const kid = this.mac.kidOf('kiosk-event-mark', markData(seq), mark.tag);
    if (kid === undefined) return { result: 'tampered', seq };
    if (kid === this.mac.kid) return { result: 'current', seq };
    if (except.includes(kid)) {
      const confirmed = numbered.count === seq && numbered.newest === seq;
      return { result: 'suspect', seq, from: kid, confirmed };
    }
    return { result: 'retagged', seq, from: kid, tag: this.markTag(seq) };
  }

  /**
   * The SQLite store's next event number: past the newest event and the mark when the mark
   * verifies (or, none stored, when no event is numbered yet). None while events are numbered
   * was deleted outside the server, perhaps with the newest events: the number skips one past the
   * newest stored (`skipped`), a hole that every state numbered before it reads `tampered` by
   * (gaplessAfter), as it did while the mark was missing; never the newest stored plus one,
   * which could be a deleted event's, and the mark written with it would make the numbering
   * whole again. A mark that does not verify: 'unverified', the write is refused (a forged mark,
   * or one under a key this server does not hold yet: a replica of a rolling store-MAC rotation
   * without `--stage`); it must never be advanced from nor overwritten.
   */
  nextSeq(
    mark: KioskStoredMark | undefined,
    newest: number | undefined,
  ): { seq: number; skipped: boolean } | 'unverified' {
    if (mark === undefined) {
      return newest === undefined ? { seq: 1, skipped: false } : { seq: newest + 2, skipped: true };
    }
    const marked = this.markSeq(mark);
    if (Number.isNaN(marked)) return 'unverified';
    return { seq: Math.max(newest ?? 0, marked) + 1, skipped: false };
  }

  /** The newest event is the one the state names, with its number, and the server's. */
  private setByNewest(by: KioskStateEvent, newest: KioskStoredEvent | undefined): boolean {
    return (
      newest !== undefined &&
      newest.event.id === by.eventId &&
      newest.seq === by.seq &&
      this.eventVerifies(newest)
    );
  }

  /**
   * Every number after `seq` that the mark says was written is there, and none past the mark
   * (the numbers are unique: as many past `seq` as the mark is past it is seq + 1 ... mark): an
   * event deleted after the row's, the kiosk's own or anyone's, leaves the store short. With the
   * kiosk's newest numbered event being the one its row names (setByNewest), no event of the
   * kiosk after that one is left as the kiosk's. A hole before `seq` is not this kiosk's
   * concern: a kiosk repaired (a rotation numbers its event past the mark) verifies again.
   * Not caught: an event's deviceId rewritten (its tag no longer verifies, but it is no longer
   * the kiosk's and no read of the kiosk reads it); see docs/architecture.md.
   */
  private gaplessAfter(seq: number, sequence: KioskEventSequence | undefined): boolean {
    if (!sequence) return true;
    const mark = sequence.mark();
    const marked = mark === undefined ? 0 : this.markSeq(mark);
    const { count, newest } = sequence.numbered(seq);
    return count === marked - seq && (newest ?? 0) === marked;
  }

  /** The mark's number when its tag verifies (NaN otherwise: matches no count). */
  private markSeq(mark: KioskStoredMark | undefined): number {
    if (!mark || typeof mark.seq !== 'number') return Number.NaN;
    return this.mac.verify('kiosk-event-mark', markData(mark.seq), mark.tag)
      ? mark.seq
      : Number.NaN;
  }

  /** The held key an unbound tag (plain or legacy) verifies under, with the data it covers. */
  private unboundKid(kiosk: KioskTrust, tag: unknown): Vouched | undefined {
    return this.vouched('kiosk-state', (legacy) => trustData(kiosk, legacy), tag);
  }
}

/** The event a state is bound to: its id and its number. */
export interface KioskStateEvent {
  eventId: string;
  seq: number;
}

/** A kiosk's state as stored: its trust, its tag and the event it names (absent: unbound). */
export interface KioskStoredState {
  kiosk: KioskTrust;
  tag: unknown;
  eventId: unknown;
  eventSeq: unknown;
}

/** One of a kiosk's numbered events as stored, with its tag. */
export interface KioskStoredEvent {
  event: KioskEvent;
  seq: number;
  tag: unknown;
}

/** The SQLite store's mark as stored. */
export interface KioskStoredMark {
  seq: unknown;
  tag: unknown;
}

/**
 * The SQLite store's numbering of kiosk events (1, 2, 3 ... across all kiosks, in write order,
 * unique), asked lazily: only a read of a state that verifies counts the numbered events past
 * its own (a range of the seq index) and reads the mark.
 */
export interface KioskEventSequence {
  /** How many events carry a number past `after`, and the newest number (undefined: none). */
  numbered(after: number): { count: number; newest: number | undefined };
  /** The mark; undefined when none is stored (no event numbered yet). */
  mark(): KioskStoredMark | undefined;
}

/** What `keys:retag` makes of the SQLite store's mark (KioskSeal.retagMark). */
export interface KioskMarkRetag {
  result: 'retagged' | 'current' | 'suspect' | 'tampered';
  /** Its number (NaN: not a number). */
  seq: number;
  /** The key it was under (retagged), or the excepted key it is left under (suspect). */
  from?: string;
  /** Its new tag (retagged). */
  tag?: string;
  /** Suspect: whether the numbering confirms its number. */
  confirmed?: boolean;
}

/** What `keys:retag` writes for one kiosk (KioskSeal.retagPlan), and what it makes of it. */
export interface KioskRetagPlan {
  /** The state's new tag; absent: left as it is. */
  stateTag?: string;
  /** Each event's new tag, in the order given; undefined: left as it is. */
  eventTags: (string | undefined)[];
  result: 'retagged' | 'current' | 'tampered' | 'suspect';
  /** The other key a re-tagged row was under, or the excepted key of a suspect one. */
  from?: string;
}

/** The outcome of a plan as written (`changed`: the kiosk changed on every try, left). */
export function kioskRetagOutcome(
  deviceId: string,
  plan: KioskRetagPlan,
  changed = false,
): KioskRetagOutcome {
  const result = changed ? 'changed' : plan.result;
  return { deviceId, result, ...(plan.from !== undefined ? { from: plan.from } : {}) };
}

/** Whether a plan writes anything. */
export function kioskRetagWrites(plan: KioskRetagPlan): boolean {
  return plan.stateTag !== undefined || plan.eventTags.some((t) => t !== undefined);
}

/**
 * What `keys:retag` did with one kiosk (its state and events): `from` the key it was under
 * (re-tagged; suspect: under an excepted key, left; changed: a server changed it on every try,
 * left: run again).
 */
export interface KioskRetagOutcome {
  deviceId: string;
  result: 'retagged' | 'current' | 'changed' | 'tampered' | 'suspect';
  from?: string;
}

export const KIOSK_LEGACY_REFUSALS: Record<LegacyTaggingRefusal, string> = {
  tagged_rows:
    "ALARM: no kiosk_seal marker but kiosks already carry tags: the legacy tagging was not run (it would mark rows written outside the server as legacy); untagged kiosks read as tampered (blocked). If this is an upgrade first started without FRAUD_LEGACY_TAGGING=1 (kiosks registered since), restart once with FRAUD_LEGACY_TAGGING=1 set explicitly; otherwise restore kiosk_seal from a backup, or rotate each kiosk's key as an admin",
  not_allowed:
    'ALARM: untagged kiosks, no kiosk_seal marker and no tagged row, and FRAUD_LEGACY_TAGGING is off: the legacy tagging was not run; untagged kiosks read as tampered (blocked). If this start upgrades a store from a version without kiosk tags, restart once with FRAUD_LEGACY_TAGGING=1',
};

export function alarmKioskLegacyRefused(logger: Logger, reason: LegacyTaggingRefusal): void {
  logger.error(KIOSK_LEGACY_REFUSALS[reason]);
}

/** A kiosk event numbered past a deleted mark (KioskSeal.nextSeq): numbers only. */
export function alarmKioskMarkMissing(logger: Logger, seq: number): void {
  logger.error(
    `ALARM: the kiosk events' mark (kiosk_event_mark) is missing while kiosk events are numbered: the kiosk store was changed outside the server (newest kiosk events may have been deleted with it). The kiosk event written now is numbered ${seq}, leaving ${seq - 1} a hole: every kiosk whose state is older reads tampered (blocked) until an admin's key rotation to its genuine key repairs it; check the kiosks against a backup`,
  );
}

/** A kiosk write refused over a mark that does not verify (KioskSeal.nextSeq). */
export function alarmKioskMarkUnverified(logger: Logger): void {
  logger.error(
    `ALARM: the kiosk events' mark (kiosk_event_mark) does not verify under any store-MAC key held here: kiosk registrations, key rotations, blocks and unblocks are refused (503 kiosk_mark_unverified). If a replica tags under a store-MAC key this one does not hold (a rotation without keys:rotate mac --stage), restart this one with it; otherwise the mark was changed outside the server: delete the kiosk_event_mark row, and the next kiosk event is numbered past a hole (every kiosk older reads tampered until its key rotation)`,
  );
}

function iso(at: Date): string {
  return Number.isNaN(at.getTime()) ? 'invalid' : at.toISOString();
}

function trustFields(k: KioskTrust): string[] {
  return [k.id, k.deviceId, k.publicKeyPem, k.keyFingerprint, k.status, iso(k.updatedAt)];
}

/** The form before the events were tagged (plain, or the legacy tagging's). */
function trustData(k: KioskTrust, legacy: boolean): string {
  const data = trustFields(k);
  return JSON.stringify(legacy ? ['legacy', ...data] : data);
}

function boundData(k: KioskTrust, by: KioskStateEvent): string {
  return JSON.stringify([...trustFields(k), by.eventId, by.seq]);
}

function boundEvent(state: KioskStoredState): KioskStateEvent | undefined {
  const { eventId, eventSeq } = state;
  return typeof eventId === 'string' && Number.isSafeInteger(eventSeq)
    ? { eventId, seq: eventSeq as number }
    : undefined;
}

function eventData(e: KioskEvent, seq: number): string {
  return JSON.stringify([
    e.id,
    e.deviceId,
    e.action,
    e.actor,
    e.reason ?? null,
    e.keyFingerprint ?? null,
    e.previousKeyFingerprint ?? null,
    iso(e.at),
    seq,
  ]);
}

function markData(seq: number): string {
  return JSON.stringify([seq]);
}
