import { Inject, Injectable, Logger } from '@nestjs/common';
import { actorOf, Clock, newId, Principal } from '@app/common';
import {
  FraudEvent,
  FraudEventCriteria,
  FraudIntegrity,
  FraudReview,
  FraudWeight,
  FraudReviewDecision,
  PACKET_FLOOD_TYPES,
} from './domain/fraud-event';
import { DistinctMinuteCount, MinuteBudget } from './domain/minute-budget';
import { DEVICE_PER_MINUTE, fraudConfig, FraudSettings } from './fraud.config';
import { FraudError, FraudEventTamperedError } from './fraud.errors';
import {
  AttendanceHistory,
  FraudFinding,
  MaybeAnswer,
  PACKET_RULES,
  PacketObservation,
  PacketRule,
  RuleContext,
  RuleHistory,
  ScreeningContext,
} from './domain/packet-rule';
import { FraudMetrics } from './fraud.metrics';
import {
  FraudEventRepository,
  FraudEventsLeftStored,
  LegacySealState,
  RetagOutcome,
  ReviewOutcome,
} from './infrastructure/persistence/fraud-event.repository';

export type { RetagOutcome };

export type FraudEventInput = Omit<FraudEvent, 'id' | 'at'> & { at?: Date };

/** A fraud event found changed outside the server (`/health` lists them). */
export interface TamperedFraudEvent {
  eventId: string;
  /** When this instance first read it so. */
  since: Date;
}

/**
 * How many events of each type a device's trust history reads (the newest). A type's penalty is
 * capped at 3 times its weight (device-trust's PER_TYPE_CAP) and each event adds at most its
 * weight times its recency (1 when new, 0 at the window's end), so the newest 100 of a type reach
 * the cap unless the 100th newest is in the oldest 3% of the window: more rows would change the
 * score by little, and cost a read each (a phone flooding garbage packets makes 1,000s).
 */
export const WEIGHING_PER_TYPE = 100;

/**
 * How many tampered events this instance lists for `/health`: the newest it found (a count the
 * metric makes once; reading them again changes nothing).
 */
const TAMPERED_KEPT = 1000;

/**
 * How many tampered event ids this instance remembers as counted (the log and
 * `mdai_fraud_events_tampered_total`): each once, however often it is read again (review F5: one read of more than
 * TAMPERED_KEPT counted those it had just let go of again at every read). About 7 MB when full
 * (100,000 ids of 24 characters); past it the oldest found is let go of, and counted again if
 * read again (after 100,000 other tampered events: the alert has long paged).
 */
const TAMPERED_COUNTED = 100_000;

/** Records fraud events and runs the pattern rules over accepted packets. */
@Injectable()
export class FraudService {
  private readonly logger = new Logger(FraudService.name);
  /** FRAUD_UNATTRIBUTED_PER_MINUTE: the events naming no device, by type. */
  private readonly unattributed: MinuteBudget;
  /** FRAUD_DEVICE_PER_MINUTE: the events naming a device, by device and type. */
  private readonly perDevice: MinuteBudget;
  /**
   * FRAUD_DEVICE_PER_MINUTE again, of distinct packets, for the PACKET_FLOOD_TYPES: when a
   * device's `packet_flood` is due (a re-sent batch counts once).
   */
  private readonly floods: DistinctMinuteCount;
  private readonly devicePerMinute: number;
  /**
   * Events read as `tampered` by this instance, in the order found (at most TAMPERED_KEPT, the
   * newest found): what `/health` lists. An event is added when first found (counted), never
   * again, so reads of events already found do not churn it.
   */
  private readonly tamperedEvents = new Map<string, Date>();
  /** Every tampered event id counted by this instance, in the order found (TAMPERED_COUNTED). */
  private readonly tamperedCounted = new Set<string>();

  constructor(
    private readonly events: FraudEventRepository,
    @Inject(PACKET_RULES) private readonly rules: PacketRule[],
    private readonly clock: Clock,
    private readonly metrics: FraudMetrics,
    @Inject(fraudConfig.KEY) settings: FraudSettings,
  ) {
    this.unattributed = new MinuteBudget(settings.unattributedPerMinute);
    this.devicePerMinute = settings.devicePerMinute ?? DEVICE_PER_MINUTE;
    this.perDevice = new MinuteBudget(this.devicePerMinute);
    this.floods = new DistinctMinuteCount(this.devicePerMinute);
  }

  /**
   * `keys:retag`: a page of events (after `after` in id order) re-tagged under the current
   * store-MAC key where they verify under another held key (FraudEventRepository.retagPage).
   */
  retagPage(after: string, limit: number, except?: readonly string[]): Promise<RetagOutcome[]> {
    return this.events.retagPage(after, limit, except);
  }

  /** Records one event; undefined when it was over its minute's budget (MinuteBudget). */
  async record(input: FraudEventInput): Promise<FraudEvent | undefined> {
    const [event] = await this.recordAll([input]);
    return event;
  }

  /**
   * Stores the events within their minute's budget and returns those stored: those naming no
   * device within FRAUD_UNATTRIBUTED_PER_MINUTE of their type, those naming a device within
   * FRAUD_DEVICE_PER_MINUTE of that device and type (per instance). The rest are counted
   * (`mdai_fraud_events_unstored_total{type}`) and logged once a minute, not stored. The first
   * distinct packet past FRAUD_DEVICE_PER_MINUTE of a device's PACKET_FLOOD_TYPES type (signed
   * rejections; the same packet again in the minute counts once) adds a `packet_flood` event
   * naming the device (stored whatever the budget: one per device, type and minute), which
   * weighs on its trust score: the flood is seen by the score (and the auto-block floor) though
   * its rows are not stored.
   */
  async recordAll(inputs: FraudEventInput[]): Promise<FraudEvent[]> {
    const now = this.clock.now();
    const nowMs = now.getTime();
    const admitted: FraudEventInput[] = [];
    /** The flood keys and packet ids `floods` counted for this write (given back on failure). */
    const counted: [string, string, 'added' | 'first_over'][] = [];
    for (const input of inputs) {
      if (input.deviceId === undefined) {
        if (this.admitUnattributed(input, nowMs)) admitted.push(input);
        continue;
      }
      if (input.type === 'packet_flood') {
        admitted.push(input);
        continue;
      }
      const key = `${input.deviceId}\u0000${input.type}`;
      const verdict = this.perDevice.admit(key, nowMs);
      if (verdict === 'store') admitted.push(input);
      else {
        this.metrics.notStored(input.type);
        if (verdict === 'first_over') this.deviceOver(input);
      }
      if (PACKET_FLOOD_TYPES.has(input.type)) {
        const packetId = input.packetId ?? newId();
        const count = this.floods.count(key, packetId, nowMs);
        if (count !== 'none') counted.push([key, packetId, count]);
        if (count === 'first_over') admitted.push(this.flood(input));
      }
    }
    const all = inputs;
    inputs = admitted;
    if (inputs.length === 0) return [];
    // a literal of the event's members, not `{ ...input, id, at }`: on Node 20 a spread followed
    // by more members takes V8's slow path (~2 µs an event; a flagged batch has one per packet).
    // An input is a new event: it has no review
    const events = inputs.map((input): FraudEvent => ({
      type: input.type,
      deviceId: input.deviceId,
      workerId: input.workerId,
      siteId: input.siteId,
      packetId: input.packetId,
      detail: input.detail,
      id: newId(),
      at: input.at ?? now,
      // as the other members, only when there is one (an absent punch keeps the event's tag
      // the one it was before punches were kept)
      ...(input.punch ? { punch: input.punch } : {}),
    }));
    try {
      await this.events.recordAll(events);
    } catch (error) {
      if (error instanceof FraudEventsLeftStored) {
        // some of them may be stored (their clean-up failed, logged by the store): the budget
        // they used stays used, so a retry does not store more than it allows
        throw error.cause;
      }
      // none of them was written (all or none): what this write counted of its minute's budget
      // is given back (those over it too: a retry counts them again), and the packets `floods`
      // counted (a retry in the same minute counts them again, and records the `packet_flood`
      // this write would have)
      for (const input of all) {
        if (input.type === 'packet_flood') continue;
        if (input.deviceId === undefined) this.unattributed.giveBack(input.type, nowMs);
        else this.perDevice.giveBack(`${input.deviceId}\u0000${input.type}`, nowMs);
      }
      for (const [key, packetId, count] of counted.reverse())
        this.floods.giveBack(key, packetId, count, nowMs);
      throw error;
    }
    const byType = new Map<FraudEvent['type'], number>();
    for (const e of events) byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
    for (const [type, count] of byType) this.metrics.recorded(type, count);
    this.logger.warn(
      // as {type, count} pairs: a type as a key (`invalid_token`) would be masked as a secret
      {
        fraud: [...byType].map(([type, count]) => ({ type, count })),
        deviceId: events[0].deviceId,
      },
      'Fraud events recorded',
    );
    return events;
  }

  private admitUnattributed(input: FraudEventInput, nowMs: number): boolean {
    const verdict = this.unattributed.admit(input.type, nowMs);
    if (verdict === 'store') return true;
    this.metrics.notStored(input.type);
    if (verdict === 'first_over') {
      this.logger.warn(
        { fraud: [{ type: input.type }] },
        'Fraud events naming no device over FRAUD_UNATTRIBUTED_PER_MINUTE: the rest of this minute are counted (mdai_fraud_events_unstored_total), not stored',
      );
    }
    return false;
  }

  /** The first event of a device over its minute's budget of a type: logged (once a minute). */
  private deviceOver(input: FraudEventInput): void {
    this.logger.warn(
      { deviceId: input.deviceId, fraud: [{ type: input.type }], perMinute: this.devicePerMinute },
      'Fraud events of one device over FRAUD_DEVICE_PER_MINUTE: the rest of this minute are counted (mdai_fraud_events_unstored_total), not stored',
    );
  }

  /** The `packet_flood` event of a device past its minute's distinct packets of a type. */
  private flood(input: FraudEventInput): FraudEventInput {
    return {
      type: 'packet_flood',
      deviceId: input.deviceId,
      workerId: input.workerId,
      siteId: input.siteId,
      detail: `more than ${this.devicePerMinute} distinct signed packets refused as ${input.type} from this device in one minute (FRAUD_DEVICE_PER_MINUTE; a bug of the app or a forger holding its signing secret)`,
    };
  }

  /**
   * Runs every pattern rule over packets that were accepted (they are already in the
   * history) and returns the findings, recording nothing: a sync records them with its
   * refusals in one write (`recordAll`, all or none). The packets stay accepted.
   */
  async evaluate(packets: PacketObservation[], context: ScreeningContext): Promise<FraudFinding[]> {
    if (packets.length === 0 || this.rules.length === 0) return [];
    const shared: RuleContext = {
      sites: context.sites,
      history: await previousLookedUp(context.history, packets),
    };
    const findings: FraudFinding[] = [];
    for (const rule of this.rules) findings.push(...(await rule.evaluate(packets, shared)));
    return findings;
  }

  /** `evaluate`, then records and returns the findings (the sweep of pending batches). */
  async screen(packets: PacketObservation[], context: ScreeningContext): Promise<FraudEvent[]> {
    return this.recordAll(await this.evaluate(packets, context));
  }

  /**
   * Events matching the criteria, each with its `integrity`: one changed outside the server is
   * listed, marked `tampered` (noted for `/health` and the metric), not left out nor refused.
   */
  async list(criteria: FraudEventCriteria): Promise<FraudEvent[]> {
    return this.noted(await this.events.listRecent(criteria));
  }

  /**
   * A page of every event, newest first in (at, id) order (after `before`, keyset), each with its
   * `integrity`, not noted: for a count of its own (the start's report of rows under a store-MAC
   * key not held, UnheldStoreMacKeys), which reports them, rather than a listing.
   */
  unnotedPage(limit: number, before?: { at: Date; id: string }): Promise<FraudEvent[]> {
    return this.events.listRecent({ limit, before });
  }

  /** Events that name one of these packets (flags on timesheet days). */
  async ofPackets(packetIds: string[], limit = 10_000): Promise<FraudEvent[]> {
    if (packetIds.length === 0) return [];
    return this.noted(await this.events.listByPacketIds(packetIds, limit));
  }

  /**
   * The events of a site's refused punches (PUNCH_REFUSAL_TYPES) claimed in [from, to), each
   * with its `integrity` (a tampered one noted, as a listing notes it): the payroll's count.
   */
  async refusedPunches(siteId: string, from: Date, to: Date): Promise<FraudEvent[]> {
    return this.noted(await this.events.listRefusedPunches(siteId, from, to));
  }

  /** One device's events naming one of these packets (one indexed seek per packet). */
  async ofDevicePackets(deviceId: string, packetIds: string[]): Promise<FraudEvent[]> {
    if (packetIds.length === 0) return [];
    return this.noted(await this.events.listOfDevicePackets(deviceId, packetIds));
  }

  /** When the rows from before the tags were tagged as legacy, how many, or that it was refused. */
  legacySeal(): Promise<LegacySealState> {
    return this.events.legacySeal();
  }

  /** Events read as tampered by this instance, oldest first (the newest TAMPERED_KEPT found). */
  tampered(): TamperedFraudEvent[] {
    return [...this.tamperedEvents].map(([eventId, since]) => ({ eventId, since }));
  }

  /**
   * Notes the tampered events of a read: each logged, counted and listed once per instance, when
   * first found (TAMPERED_COUNTED remembers which; `/health`'s list keeps the newest
   * TAMPERED_KEPT found, and one let go of is not listed again by a later read of it).
   */
  private noted(events: FraudEvent[]): FraudEvent[] {
    const fresh: string[] = [];
    for (const e of events) {
      if (e.integrity !== 'tampered' || this.tamperedCounted.has(e.id)) continue;
      this.tamperedCounted.add(e.id);
      this.tamperedEvents.set(e.id, this.clock.now());
      fresh.push(e.id);
    }
    if (fresh.length === 0) return events;
    dropOldest(this.tamperedCounted, TAMPERED_COUNTED);
    dropOldest(this.tamperedEvents, TAMPERED_KEPT);
    this.metrics.tamperedFound(fresh.length);
    this.logger.error(
      { eventIds: fresh.slice(0, 20), count: fresh.length },
      'Fraud events changed outside the server (their tags do not verify): listed marked tampered',
    );
    return events;
  }

  /**
   * For each device, the type and time of its events in [from, to] that weigh on its trust
   * (every one but those an admin dismissed and `device_blocked`, which weighs nothing), the
   * newest `perType` of each type, read with their tags checked: `counted` are those whose
   * integrity is one of `counts`, `uncounted` how many of the read were not. A tampered row
   * (changed outside the server, or inserted without a tag) never counts, and is noted
   * (`/health`, the metric, the log); a device with none is absent.
   *
   * Bounded per type (review of the tag checks): a flood of one type, tagged or not, cannot
   * push another type's events out of the read. The device-trust callers count `verified`
   * rows only (review M2/M3: a legacy row is one the server cannot vouch for).
   */
  async weighingHistories(
    deviceIds: readonly string[],
    from: Date,
    to: Date,
    counts: ReadonlySet<FraudIntegrity>,
    perType = WEIGHING_PER_TYPE,
  ): Promise<Map<string, { counted: FraudWeight[]; uncounted: number }>> {
    const found = new Map<string, { counted: FraudWeight[]; uncounted: number }>();
    if (deviceIds.length === 0) return found;
    const read = await this.events.weighingHistories(deviceIds, from, to, perType);
    const tampered: FraudEvent[] = [];
    for (const [deviceId, weights] of read) {
      const counted: FraudWeight[] = [];
      for (const w of weights) {
        if (w.integrity === 'tampered')
          tampered.push({ id: w.id, integrity: w.integrity } as FraudEvent);
        // a store without tags gives none: nothing it holds is vouched for
        if (w.integrity !== undefined && counts.has(w.integrity)) {
          counted.push({ type: w.type, at: w.at });
        }
      }
      found.set(deviceId, { counted, uncounted: weights.length - counted.length });
    }
    this.noted(tampered);
    return found;
  }

  /** The event and its reviews, oldest first. */
  async detail(eventId: string): Promise<{ event: FraudEvent; reviews: FraudReview[] }> {
    const found = await this.events.findWithReviews(eventId);
    if (!found) throw notFound();
    this.noted([found.event]);
    return found;
  }

  /**
   * An admin's review of an event, kept in its review history and made its current review: a
   * dismissed event no longer weighs on the device's trust score (computed from the events at
   * each read, so the next score leaves it out). The same decision and reason as the current
   * review (a retry) records nothing.
   */
  async review(
    eventId: string,
    decision: FraudReviewDecision,
    reason: string,
    principal: Principal,
  ): Promise<ReviewOutcome> {
    let outcome: ReviewOutcome | undefined;
    try {
      outcome = await this.events.addReview(eventId, {
        id: newId(),
        decision,
        reason,
        by: actorOf(principal),
        at: this.clock.now(),
      });
    } catch (error) {
      if (error instanceof FraudEventTamperedError) {
        this.noted([{ id: eventId, integrity: 'tampered' } as FraudEvent]);
      }
      throw error;
    }
    if (!outcome) throw notFound();
    if (outcome.recorded) {
      this.logger.log(
        { eventId, decision, deviceId: outcome.event.deviceId },
        'Fraud event reviewed',
      );
    }
    return outcome;
  }
}

/** Lets go of a set's or map's first-added entries past `kept`. */
function dropOldest(entries: Set<string> | Map<string, unknown>, kept: number): void {
  if (entries.size <= kept) return;
  let over = entries.size - kept;
  for (const key of entries.keys()) {
    if (over-- === 0) break;
    entries.delete(key);
  }
}

function notFound(): FraudError {
  return new FraudError('fraud_event_not_found', 'No fraud event has this id');
}

/**
 * Several rules ask for the previous packet of each screened packet: every screened packet's
 * predecessor is looked up once, in one batched lookup, before the rules run, and handed to
 * them as it is (not as a promise: two rules ask for each of up to 500 packets). A packet
 * outside the batch is looked up on its own, once (its answer is a promise, kept).
 */
async function previousLookedUp(
  history: AttendanceHistory,
  packets: PacketObservation[],
): Promise<RuleHistory> {
  const found = await history.previousOfEach(packets);
  const previous = new Map<string, MaybeAnswer<PacketObservation | undefined>>();
  for (let i = 0; i < packets.length; i++) previous.set(packets[i].packetId, found[i]);
  return {
    previousOf: (packet) => {
      // an answer may be undefined (no previous packet): `has`, not the value, says it is known
      if (previous.has(packet.packetId)) return previous.get(packet.packetId);
      const answer = history.previousOfEach([packet]).then(([p]) => p);
      previous.set(packet.packetId, answer);
      return answer;
    },
    workersOnDevice: (deviceId, from, to) => history.workersOnDevice(deviceId, from, to),
    establishedDeviceOf: (deviceId) => history.establishedDeviceOf(deviceId),
  };
}
