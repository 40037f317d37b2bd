import { Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import type { Model } from 'mongoose';
import {
  canonicalMongoTime,
  logLegacyTagging,
  mongoLegacyTaggingState,
  MongoStoreHandle,
  tagLegacyRowsOnceMongo,
} from '@app/persistence';
import {
  CheckedFraudWeight,
  FraudEvent,
  FraudEventCriteria,
  FraudReview,
  WEIGHING_EVENT_TYPES,
} from '../../../../domain/fraud-event';
import { FraudError, FraudEventTamperedError } from '../../../../fraud.errors';
import { FraudMetrics } from '../../../../fraud.metrics';
import {
  FraudEventRepository,
  FraudEventsLeftStored,
  LegacySealState,
  RetagOutcome,
  ReviewOutcome,
} from '../../fraud-event.repository';
import { alarmLegacyRefused, LegacyRefusal, FraudSeal } from '../../fraud-seal';
import { FraudEventMongoMapper as Mapper } from '../mappers/fraud-event.mapper';
import {
  FRAUD_SEAL_COLLECTION,
  FraudEventDocument,
  FraudEventSchema,
  SUPERSEDED_FRAUD_EVENT_INDEXES,
  WEIGHING_TYPES,
} from '../schemas/fraud-event.schema';

/** A document carrying a tag, on the event or on a review: a store the server has written. */
const TAGGED = {
  $or: [
    { tag: { $exists: true, $ne: null } },
    { reviews: { $elemMatch: { tag: { $exists: true, $ne: null } } } },
  ],
};

/** How many times `retagPage` reads a document again whose update missed. */
const RETAG_TRIES = 5;

/** Whether a stored `reviews` is absent or a list of documents (the server writes no other). */
function reviewsWellFormed(doc: FraudEventDocument): boolean {
  const stored: unknown = doc.reviews;
  return (
    stored === undefined ||
    (Array.isArray(stored) && stored.every((r) => typeof r === 'object' && r !== null))
  );
}

/** A document the legacy tagging takes. */
const UNTAGGED = { tag: { $exists: false } };

/**
 * What a listing reads: the whole document, its review history included (a few reviews an
 * event), whose last review must be the current one (or the event was put back to an earlier
 * state). `{reviews: {$slice: -1}}` would read only the last, but the mongomock server the
 * contract suite runs on does not apply it as MongoDB does.
 */
const EVENT_FIELDS = {} as const;

/**
 * MongoDB adapter. An event embeds its reviews, so a review and the event's current review
 * are one single-document write: atomic on a standalone mongod, no transaction needed.
 */
@Injectable()
export class MongoFraudEventRepository extends FraudEventRepository implements OnModuleInit {
  private readonly events: Model<FraudEventDocument>;
  private readonly store: MongoStoreHandle;
  private readonly seal?: FraudSeal;
  private readonly logger = new Logger('FraudSeal');
  /**
   * Why this start refused the legacy tagging: rows already tagged with the marker gone, or
   * untagged rows on a store with neither while FRAUD_LEGACY_TAGGING is off.
   */
  private legacyRefused?: LegacyRefusal;

  constructor(
    store: MongoStoreHandle,
    @Optional() seal?: FraudSeal,
    @Optional() private readonly metrics?: FraudMetrics,
  ) {
    super();
    this.store = store;
    this.seal = seal;
    this.events = store.connection.model(FraudEventDocument.name, FraudEventSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.events.init();
    await this.dropSupersededIndexes();
    if (this.seal) await this.sealLegacy(this.seal);
  }

  /**
   * Drops the indexes an older release declared and this one no longer queries
   * (SUPERSEDED_FRAUD_EVENT_INDEXES): `init` builds the declared indexes but drops none, and
   * those would cost every insert a write for no read. Another replica dropping one at the same
   * time (index or namespace not found) is the same outcome; a second start finds none.
   */
  private async dropSupersededIndexes(): Promise<void> {
    let names: string[];
    try {
      const indexes = (await this.events.collection.listIndexes().toArray()) as { name?: string }[];
      names = indexes.map((i) => String(i.name));
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    for (const name of SUPERSEDED_FRAUD_EVENT_INDEXES.filter((n) => names.includes(n))) {
      try {
        await this.events.collection.dropIndex(name);
        new Logger(MongoFraudEventRepository.name).log(
          { index: name },
          'Superseded fraud_events index dropped',
        );
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }

  /**
   * Documents stored before the tags are tagged once, as legacy, by the first servers with the
   * tags, before they take requests: each untagged document once (replicas starting together
   * tag the same documents with the same tags, each update taking only an untagged one), then
   * `fraud_seal`'s `legacy` document (when, how many). An untagged document written later is
   * `tampered`. Only a store where no document carries a tag yet is tagged (SQLite's reason:
   * with the marker deleted and tagged documents present, it would launder untagged ones as
   * legacy), or one another replica is tagging now (waited for): otherwise refused, loudly.
   */
  private async sealLegacy(seal: FraudSeal): Promise<void> {
    const result = await tagLegacyRowsOnceMongo(seal, {
      marks: this.marks(),
      anyTagged: async () => (await this.events.exists(TAGGED)) !== null,
      countUntagged: () => this.events.countDocuments(UNTAGGED),
      pass: () => this.legacyPass(seal),
    });
    this.legacyRefused = logLegacyTagging(result, this.logger, {
      counted: 'events',
      tagged: 'Fraud events from before the tags tagged as legacy',
      evenNone: true,
      alarm: (logger, reason) => alarmLegacyRefused(logger, this.metrics, reason),
    });
  }

  /** One streamed pass over the untagged documents, a thousand updates a round trip. */
  private async legacyPass(seal: FraudSeal): Promise<{ tagged: number; missed: number }> {
    let tagged = 0;
    let missed = 0;
    let batch: Parameters<Model<FraudEventDocument>['bulkWrite']>[0] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const result = await this.events.bulkWrite(batch, { ordered: false });
      tagged += result.modifiedCount;
      missed += batch.length - result.matchedCount;
      batch = [];
    };
    for await (const doc of this.events.find(UNTAGGED).lean<FraudEventDocument>().cursor()) {
      const event = Mapper.toDomain(doc);
      let previous: string | null = null;
      const reviews = (doc.reviews ?? []).map((r, i) => {
        const tag =
          r.tag ?? seal.reviewTag(event.id, i + 1, Mapper.reviewToDomain(r), previous, true);
        previous = tag;
        return { ...r, tag };
      });
      batch.push({
        updateOne: {
          // the history as read: a review pushed meanwhile is not overwritten (the update
          // misses, and the next pass reads the document again)
          filter: {
            _id: doc._id,
            tag: { $exists: false },
            reviews: doc.reviews ? { $size: doc.reviews.length } : { $exists: false },
          },
          update: {
            $set: { tag: seal.eventTag(event, true), ...(doc.reviews ? { reviews } : {}) },
          },
        },
      });
      if (batch.length === 1000) await flush();
    }
    await flush();
    return { tagged, missed };
  }

  private marks() {
    return this.store.connection.collection<{ _id: string; at: Date; count?: number }>(
      FRAUD_SEAL_COLLECTION,
    );
  }

  async legacySeal(): Promise<LegacySealState> {
    const mark = await this.marks().findOne({ _id: 'legacy' });
    const { state, refused } = mongoLegacyTaggingState(mark, this.legacyRefused);
    this.legacyRefused = refused;
    return state;
  }

  /** The document's event, with its integrity when the store checks tags. */
  private toEvent(doc: FraudEventDocument): FraudEvent {
    const event = Mapper.toDomain(doc);
    if (this.seal) {
      const timesCanonical =
        canonicalMongoTime(doc.at) &&
        (!doc.review || canonicalMongoTime(doc.review.at)) &&
        (doc.punch == null || canonicalMongoTime(doc.punch.at));
      event.integrity = timesCanonical ? this.seal.eventIntegrity(event, doc.tag) : 'tampered';
      // the current review must be the history's last (a listing reads only that one)
      const last = doc.reviews?.[doc.reviews.length - 1]?._id ?? null;
      if (last !== (doc.review?._id ?? null) || !reviewsWellFormed(doc)) {
        event.integrity = 'tampered';
      }
    }
    return event;
  }

  /**
   * The event's reviews, oldest first, their history checked when the store checks tags. A
   * `reviews` that is no list of documents (written outside the server: an object, a null in
   * the list) is no history: the event reads as tampered with none, rather than a TypeError.
   */
  private historyOf(event: FraudEvent, doc: FraudEventDocument): FraudReview[] {
    if (!reviewsWellFormed(doc)) {
      if (this.seal) event.integrity = 'tampered';
      return [];
    }
    const stored = doc.reviews ?? [];
    const reviews = stored.map(Mapper.reviewToDomain);
    this.seal?.checkHistory(
      event,
      reviews,
      stored.map((_, i) => i + 1),
      stored.map((r) => r.tag),
      stored.map((r) => canonicalMongoTime(r.at)),
    );
    return reviews;
  }

  /**
   * All or none: an ordered `insertMany` that fails part way (a write error on the nth
   * document) keeps the ones before it, so they are deleted again (by the new ids, which name
   * these events only) before the failure is thrown. A batch the sync then answered 503 for
   * left some of its events stored, and its retry stored them again. A clean-up that fails too
   * (the store went away between the two) is logged and reported (FraudEventsLeftStored): some
   * of the events may then be left stored.
   */
  async recordAll(events: FraudEvent[]): Promise<void> {
    if (events.length === 0) return;
    try {
      await this.events.insertMany(
        events.map((e) => Mapper.toPersistence(e, this.seal?.eventTag(e))),
        { ordered: true },
      );
    } catch (error) {
      try {
        await this.events.deleteMany({ _id: { $in: events.map((e) => e.id) } });
      } catch (cleanUp) {
        this.logger.error(
          {
            deviceId: events[0].deviceId,
            count: events.length,
            err: cleanUp instanceof Error ? cleanUp.message : String(cleanUp),
          },
          'Fraud events of a failed write not deleted again: some of them may be left stored',
        );
        throw new FraudEventsLeftStored(error, events.length);
      }
      throw error;
    }
  }

  async weighingHistories(
    deviceIds: readonly string[],
    from: Date,
    to: Date,
    perType: number,
  ): Promise<Map<string, CheckedFraudWeight[]>> {
    const found = new Map<string, CheckedFraudWeight[]>();
    // (MongoDB reads a limit of 0 as none)
    if (perType < 1) return found;
    const ids = [...new Set(deviceIds)];
    const pages = await Promise.all(
      ids.map((deviceId) => this.weighing(deviceId, from, to, perType)),
    );
    ids.forEach((deviceId, i) => {
      if (pages[i].length === 0) return;
      found.set(
        deviceId,
        pages[i].map((doc) => {
          const e = this.toEvent(doc);
          return { id: e.id, type: e.type, at: e.at, integrity: e.integrity };
        }),
      );
    });
    return found;
  }

  /**
   * One device's weighing history, the whole documents (each tag checked by the caller as a
   * listing checks it; review M2: counting rows by type and time alone counted rows written
   * straight into the database). First the newest `perType` of every weighing type together,
   * one query: when it comes back short it held every weighing event of the device in the
   * range, so no type has more than `perType` and it is the per-type read's answer as it is
   * (most devices: one query where there were 18). When it fills, one type may have pushed
   * another's older events out: each type with fewer than `perType` rows in it is read on its
   * own (its newest `perType`), and a type that filled it keeps its rows (they are its newest),
   * so one type's flood still cannot push another's events out (review of the tag checks).
   *
   * Each query seeks the partial index `fraud_events_weighing_type` ({deviceId, type, at, _id,
   * review.decision}): the one of a type seeks its (device, type) and stops at its limit; the
   * one over every type names them (`type: {$in}`, the 18 weighing types), which MongoDB
   * answers with one index scan per type merged in (at, _id) order (its "explode for sort": the
   * types are points before the sorted fields), stopping at the limit, no in-memory sort.
   */
  private async weighing(
    deviceId: string,
    from: Date,
    to: Date,
    perType: number,
  ): Promise<FraudEventDocument[]> {
    const read = (type: string | { $in: readonly string[] }) =>
      this.events
        .find(
          {
            deviceId,
            type,
            at: { $gte: from, $lte: to },
            'review.decision': { $ne: 'dismissed' },
            // not device_blocked, as the partial index's filter says it
            ...WEIGHING_TYPES,
          },
          EVENT_FIELDS,
        )
        .sort({ at: -1, _id: -1 })
        .limit(perType)
        .lean<FraudEventDocument[]>();
    const newest = await read({ $in: WEIGHING_EVENT_TYPES });
    if (newest.length < perType) return newest;
    const ofType = new Map<string, number>();
    for (const doc of newest) ofType.set(doc.type, (ofType.get(doc.type) ?? 0) + 1);
    const full = (type: string) => (ofType.get(type) ?? 0) >= perType;
    const others = await Promise.all(
      WEIGHING_EVENT_TYPES.filter((t) => !full(t)).map((t) => read(t)),
    );
    return [...newest.filter((doc) => full(doc.type)), ...others.flat()].sort(newestFirst);
  }

  async listByPacketIds(packetIds: string[], limit: number): Promise<FraudEvent[]> {
    const docs = await this.events
      .find({ packetId: { $in: [...new Set(packetIds)] } }, EVENT_FIELDS)
      .sort({ at: 1, _id: 1 })
      .limit(limit)
      .lean<FraudEventDocument[]>();
    return docs.map((doc) => this.toEvent(doc));
  }

  async listRefusedPunches(siteId: string, from: Date, to: Date): Promise<FraudEvent[]> {
    // `$exists` as the partial index's filter says: the planner takes `fraud_events_site_punch`
    const docs = await this.events
      .find({ siteId, 'punch.at': { $exists: true, $gte: from, $lt: to } }, EVENT_FIELDS)
      .lean<FraudEventDocument[]>();
    return docs.map((doc) => this.toEvent(doc));
  }

  async listOfDevicePackets(deviceId: string, packetIds: string[]): Promise<FraudEvent[]> {
    // one seek per packet in the (deviceId, packetId, type) index
    const docs = await this.events
      .find({ deviceId, packetId: { $in: [...new Set(packetIds)] } }, EVENT_FIELDS)
      .lean<FraudEventDocument[]>();
    return docs.map((doc) => this.toEvent(doc));
  }

  async addReview(eventId: string, review: FraudReview): Promise<ReviewOutcome | undefined> {
    // read, check, then write only over the review history as read (its current review): a
    // review written meanwhile by another request or replica makes the write miss, and it is
    // read again (a bounded number of times: each miss is another review recorded)
    for (let attempt = 0; ; attempt++) {
      if (attempt === 50) {
        throw new FraudError(
          'fraud_review_contended',
          'The review history of this fraud event kept changing while the review was written; nothing was recorded, retry',
        );
      }
      const doc = await this.events.findOne({ _id: eventId }).lean<FraudEventDocument>();
      if (!doc) return undefined;
      const event = this.toEvent(doc);
      const reviews = this.historyOf(event, doc);
      // a review would chain onto the changed rows and tag the event as the server's own
      if (event.integrity === 'tampered') throw new FraudEventTamperedError(eventId);
      if (doc.review?.decision === review.decision && doc.review?.reason === review.reason) {
        return { event, recorded: false };
      }
      const previous = doc.reviews?.[doc.reviews.length - 1]?.tag ?? null;
      const stored = Mapper.reviewToPersistence(
        review,
        this.seal?.reviewTag(eventId, reviews.length + 1, review, previous),
      );
      // a legacy event stays legacy: a review vouches for nothing it held before the upgrade
      const tag = this.seal?.eventTag({ ...event, review }, event.integrity === 'legacy');
      const updated = await this.events
        .findOneAndUpdate(
          {
            _id: eventId,
            'review._id': doc.review ? doc.review._id : { $exists: false },
            reviews: doc.reviews ? { $size: doc.reviews.length } : { $exists: false },
            // the tag the new review chains onto, as read: a history re-tagged meanwhile
            // (keys:retag) makes the write miss rather than chain onto the old tag
            ...(doc.reviews?.length ? { [`reviews.${doc.reviews.length - 1}.tag`]: previous } : {}),
          },
          { $set: { review: stored, ...(tag ? { tag } : {}) }, $push: { reviews: stored } },
          { new: true, runValidators: true, projection: EVENT_FIELDS },
        )
        .lean<FraudEventDocument>();
      if (updated) return { event: this.toEvent(updated), recorded: true };
    }
  }

  async retagPage(
    after: string,
    limit: number,
    except: readonly string[] = [],
  ): Promise<RetagOutcome[]> {
    const seal = this.seal;
    if (!seal) throw new Error('retagPage needs the store tags (FraudSeal)');
    const docs = await this.events
      .find({ _id: { $gt: after } })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<FraudEventDocument[]>();
    const outcomes: RetagOutcome[] = [];
    for (const first of docs) {
      let doc: FraudEventDocument | null = first;
      let outcome: RetagOutcome | undefined;
      for (let attempt = 0; attempt < RETAG_TRIES && doc; attempt++) {
        outcome = await this.retagOne(seal, doc, except);
        if (outcome.result !== 'changed') break;
        doc = await this.events.findOne({ _id: first._id }).lean<FraudEventDocument>();
      }
      // deleted meanwhile: nothing to re-tag, but an outcome (the page goes on from its id)
      outcomes.push(doc && outcome ? outcome : { eventId: first._id, result: 'deleted', from: [] });
    }
    return outcomes;
  }

  /**
   * One document re-tagged (or not), the update filtered on every tag as read and the history's
   * length: a review pushed or a tag rewritten meanwhile makes it miss (`changed`).
   */
  private async retagOne(
    seal: FraudSeal,
    doc: FraudEventDocument,
    except: readonly string[],
  ): Promise<RetagOutcome> {
    const event = this.toEvent(doc);
    const reviews = this.historyOf(event, doc);
    // a malformed history is tampered (historyOf): never re-tagged
    if (!reviewsWellFormed(doc)) return { eventId: doc._id, result: 'tampered', from: [] };
    const stored = doc.reviews ?? [];
    const plan = seal.retagPlan(
      event,
      doc.tag,
      reviews,
      stored.map((r) => r.tag),
      except,
    );
    if (plan.kind === 'suspect') return { eventId: doc._id, result: 'suspect', from: plan.from };
    if (plan.kind !== 'retag') return { eventId: doc._id, result: plan.kind, from: [] };
    const filter: Record<string, unknown> = {
      _id: doc._id,
      tag: doc.tag,
      reviews: doc.reviews ? { $size: stored.length } : { $exists: false },
    };
    const set: Record<string, unknown> = { tag: plan.eventTag };
    stored.forEach((r, i) => {
      filter[`reviews.${i}.tag`] = r.tag;
      if (plan.reviewTags[i] !== r.tag) set[`reviews.${i}.tag`] = plan.reviewTags[i];
    });
    // the current review is a copy of the last (its tag read by nothing, kept equal)
    if (stored.length > 0 && doc.review) set['review.tag'] = plan.reviewTags[stored.length - 1];
    const result = await this.events.updateOne(filter, { $set: set });
    return {
      eventId: doc._id,
      result: result.matchedCount === 1 ? 'retagged' : 'changed',
      from: plan.from,
    };
  }

  async findWithReviews(
    eventId: string,
  ): Promise<{ event: FraudEvent; reviews: FraudReview[] } | undefined> {
    const doc = await this.events.findOne({ _id: eventId }).lean<FraudEventDocument>();
    if (!doc) return undefined;
    const event = this.toEvent(doc);
    return { event, reviews: this.historyOf(event, doc) };
  }

  async listRecent(criteria: FraudEventCriteria): Promise<FraudEvent[]> {
    const filter: Record<string, unknown> = {};
    const and: Record<string, unknown>[] = [];
    if (criteria.type) filter.type = criteria.type;
    if (criteria.deviceId) filter.deviceId = criteria.deviceId;
    if (criteria.workerId) filter.workerId = criteria.workerId;
    if (criteria.siteId) filter.siteId = criteria.siteId;
    if (criteria.from || criteria.to) {
      filter.at = {
        ...(criteria.from ? { $gte: criteria.from } : {}),
        ...(criteria.to ? { $lte: criteria.to } : {}),
      };
    }
    // unreviewed: no review (null matches a missing field, and seeks the index's nulls)
    if (criteria.review) {
      filter['review.decision'] = criteria.review === 'unreviewed' ? null : criteria.review;
    }
    if (criteria.excludeDismissed) and.push({ 'review.decision': { $ne: 'dismissed' } });
    if (criteria.before) {
      const { at, id } = criteria.before;
      and.push({ $or: [{ at: { $lt: at } }, { at, _id: { $lt: id } }] });
    }
    if (and.length > 0) filter.$and = and;
    const docs = await this.events
      .find(filter, EVENT_FIELDS)
      .sort({ at: -1, _id: -1 })
      .limit(criteria.limit)
      .lean<FraudEventDocument[]>();
    return docs.map((doc) => this.toEvent(doc));
  }
}

/** Newest first in (at, _id) order, as the index and MongoDB's sort give them. */
function newestFirst(a: FraudEventDocument, b: FraudEventDocument): number {
  return b.at.getTime() - a.at.getTime() || (a._id < b._id ? 1 : a._id > b._id ? -1 : 0);
}

/** NamespaceNotFound (26) or IndexNotFound (27). */
function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 26 || code === 27;
}
