import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import {
  FraudEvent,
  FraudEventCriteria,
  FraudEventType,
  FraudReview,
  FraudWeight,
} from '../../../../domain/fraud-event';
import { FraudEventRepository, ReviewOutcome } from '../../fraud-event.repository';
import { FraudEventMongoMapper as Mapper } from '../mappers/fraud-event.mapper';
import {
  FraudEventDocument,
  FraudEventSchema,
  WEIGHING_TYPES,
} from '../schemas/fraud-event.schema';

/** Every field but the review history: what a listing needs. */
const EVENT_FIELDS = { reviews: 0 } as const;

/**
 * MongoDB adapter. An event embeds its reviews, so a review and the event's current review
 * are one single-document write: atomic on a standalone mongod, no transaction needed.
 */
@Injectable()
export class MongoFraudEventRepository extends FraudEventRepository implements OnModuleInit {
  private readonly events: Model<FraudEventDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.events = store.connection.model(FraudEventDocument.name, FraudEventSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.events.init();
  }

  async recordAll(events: FraudEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.events.insertMany(events.map(Mapper.toPersistence), { ordered: true });
  }

  async weighingHistories(
    deviceIds: readonly string[],
    from: Date,
    to: Date,
    perDevice: number,
  ): Promise<Map<string, FraudWeight[]>> {
    // one query per device (each seeks the partial index fraud_events_weighing, {deviceId, at,
    // _id}, and stops at its limit), together
    const ids = [...new Set(deviceIds)];
    const pages = await Promise.all(
      ids.map((deviceId) =>
        this.events
          .find(
            {
              deviceId,
              at: { $gte: from, $lte: to },
              'review.decision': { $ne: 'dismissed' },
              // not device_blocked, as the partial index's filter says it
              ...WEIGHING_TYPES,
            },
            { type: 1, at: 1 },
          )
          .sort({ at: -1, _id: -1 })
          .limit(perDevice)
          .lean<{ type: string; at: Date }[]>(),
      ),
    );
    const found = new Map<string, FraudWeight[]>();
    ids.forEach((deviceId, i) => {
      if (pages[i].length === 0) return;
      found.set(
        deviceId,
        pages[i].map((d) => ({ type: d.type as FraudEventType, at: new Date(d.at) })),
      );
    });
    return found;
  }

  async listByPacketIds(packetIds: string[], limit: number): Promise<FraudEvent[]> {
    const docs = await this.events
      .find({ packetId: { $in: [...new Set(packetIds)] } }, EVENT_FIELDS)
      .sort({ at: 1, _id: 1 })
      .limit(limit)
      .lean<FraudEventDocument[]>();
    return docs.map(Mapper.toDomain);
  }

  async addReview(eventId: string, review: FraudReview): Promise<ReviewOutcome | undefined> {
    const stored = Mapper.reviewToPersistence(review);
    // unless the current review is this one already (a retry): one conditional update
    const updated = await this.events
      .findOneAndUpdate(
        {
          _id: eventId,
          $or: [
            { 'review.decision': { $ne: review.decision } },
            { 'review.reason': { $ne: review.reason } },
          ],
        },
        { $set: { review: stored }, $push: { reviews: stored } },
        { new: true, runValidators: true, projection: EVENT_FIELDS },
      )
      .lean<FraudEventDocument>();
    if (updated) return { event: Mapper.toDomain(updated), recorded: true };
    const current = await this.events
      .findOne({ _id: eventId }, EVENT_FIELDS)
      .lean<FraudEventDocument>();
    return current ? { event: Mapper.toDomain(current), recorded: false } : undefined;
  }

  async findWithReviews(
    eventId: string,
  ): Promise<{ event: FraudEvent; reviews: FraudReview[] } | undefined> {
    const doc = await this.events.findOne({ _id: eventId }).lean<FraudEventDocument>();
    if (!doc) return undefined;
    return {
      event: Mapper.toDomain(doc),
      reviews: (doc.reviews ?? []).map(Mapper.reviewToDomain),
    };
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
    return docs.map(Mapper.toDomain);
  }
}
