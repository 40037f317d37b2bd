import {
  CheckedFraudWeight,
  FraudEvent,
  FraudEventCriteria,
  FraudReview,
} from '../../domain/fraud-event';

/** What `addReview` did: recorded the review, or found it was the event's current one already. */
export interface ReviewOutcome {
  event: FraudEvent;
  recorded: boolean;
}

/**
 * The legacy tagging of the rows stored before the tags: when it ran and how many events it
 * tagged (absent before it ran, and on a store from before the count was kept), and whether
 * this start refused to run it (`fraud_seal`'s marker gone while rows already carry tags: it
 * would launder untagged rows as legacy).
 */
export interface LegacySealState {
  sealedAt?: Date;
  count?: number;
  refused: boolean;
  /**
   * Why it was refused: `tagged_rows` (the marker gone while rows carry tags) or `not_allowed`
   * (untagged rows, no marker, no tagged row, and FRAUD_LEGACY_TAGGING off).
   */
  refusedReason?: 'tagged_rows' | 'not_allowed';
}

/**
 * What `retagPage` did with one event and its reviews: left them (`current`: every tag under
 * the current key), re-tagged them (`retagged`), found them `tampered` (no held key vouches for
 * them: left as they are), or found them changed by a writer on every try (`changed`: left;
 * a next run takes them again), or found the event gone between the page's read of ids and
 * its read of the rows (`deleted`: an outcome still, so a page has one per id read and its
 * last is where the next starts), or found a row that verifies only under a key of `except`
 * (`suspect`: left as it is). `from`: the other keys' ids the rows were tagged under (for
 * `suspect`, the excepted ones).
 */
export interface RetagOutcome {
  eventId: string;
  result: 'current' | 'retagged' | 'tampered' | 'suspect' | 'changed' | 'deleted';
  from: string[];
}

/**
 * A `recordAll` that failed part way and could not delete the events it had stored (some of
 * them may be stored, `count` tried): FraudService keeps their minute's budget used (a retry
 * does not store more than it allows) and throws `cause`, the write's own failure.
 */
export class FraudEventsLeftStored extends Error {
  constructor(
    override readonly cause: unknown,
    readonly count: number,
  ) {
    super('Fraud events of a failed write may be left stored (their clean-up failed)');
  }
}

/** The append-only fraud event log, and the reviews of its events. */
export abstract class FraudEventRepository {
  /**
   * Appends events (all or none; FraudEventsLeftStored when a failed write's clean-up failed
   * too, and some may be left).
   */
  abstract recordAll(events: FraudEvent[]): Promise<void>;
  /**
   * Events matching every given criterion, newest first in (at, id) order, at most `limit`;
   * with `before`, only events after that one in this order (keyset pagination).
   */
  abstract listRecent(criteria: FraudEventCriteria): Promise<FraudEvent[]>;
  /**
   * For each device, the type, time, id and integrity (its tag checked, as a listing checks it)
   * of its events in [from, to] that are not dismissed and not `device_blocked`: the newest
   * `perType` of each type (all newest first): what its trust score weighs, of which the caller
   * counts only the rows whose tag verifies (review M2: rows written straight into the database
   * must not lower a score). A device with none is absent from the map. One read for a page of
   * devices. Bounded per type, not per device: a flood of one type (a phone sending garbage
   * packets, each a `malformed_packet`, whose penalty is capped; untagged rows a database
   * writer adds) cannot push another type's events out of the read and so raise the score.
   * `device_blocked` (a sync refused while the device is blocked) weighs nothing, and is left
   * out here rather than skipped by the score.
   */
  abstract weighingHistories(
    deviceIds: readonly string[],
    from: Date,
    to: Date,
    perType: number,
  ): Promise<Map<string, CheckedFraudWeight[]>>;
  /**
   * The events of a site that name a refused punch (`punch`, PUNCH_REFUSAL_TYPES) whose claimed
   * time is in [from, to), with their tags checked, in no order: one range read of an index of
   * those events alone (the payroll's `refusedPunches`).
   */
  abstract listRefusedPunches(siteId: string, from: Date, to: Date): Promise<FraudEvent[]>;
  /** Events naming one of these packets (at most `limit`, oldest first). */
  abstract listByPacketIds(packetIds: string[], limit: number): Promise<FraudEvent[]>;
  /**
   * One device's events naming one of these packets (every type): one seek per packet in the
   * (device, packet, type) index, whatever other devices recorded under the same packet ids (a
   * signed refusal is recorded once per device, packet and type: OfflineSyncService).
   */
  abstract listOfDevicePackets(deviceId: string, packetIds: string[]): Promise<FraudEvent[]>;
  /**
   * Appends `review` to the event's review history and makes it the event's current review,
   * in one atomic write; when the current review already has the same decision and reason (a
   * retry), records nothing (`recorded: false`). Undefined when no event has this id.
   */
  abstract addReview(eventId: string, review: FraudReview): Promise<ReviewOutcome | undefined>;
  /** The legacy tagging's state (`/health`); `refused: false` and nothing else without tags. */
  abstract legacySeal(): Promise<LegacySealState>;
  /**
   * `keys:retag`: up to `limit` events after `after` in id order (`''`: from the first), each
   * checked with its review history as a read checks them; those that verify under a held key
   * other than the current one are tagged again under the current key, the reviews in history
   * order (each chained to the new tag of the one before), in the form they verified in (a
   * legacy row stays legacy). A tampered event is never re-tagged. Each event is written with a
   * compare-and-set on the tags as read (the event's and every review's, so also the history's
   * length): a review a server records meanwhile makes the write miss, and the event is read
   * again (a few times, then `changed`). Idempotent. One outcome per event id read, in id order
   (`deleted` for one gone meanwhile): fewer than `limit` only at the end of the events.
   * An event with a row that verifies only under a key id of `except` (a leaked key) is never
   * re-tagged either: `suspect`. Needs the store's tags (FraudSeal).
   */
  abstract retagPage(
    after: string,
    limit: number,
    except?: readonly string[],
  ): Promise<RetagOutcome[]>;
  /** The event and every review of it, oldest first; undefined when no event has this id. */
  abstract findWithReviews(
    eventId: string,
  ): Promise<{ event: FraudEvent; reviews: FraudReview[] } | undefined>;
}
