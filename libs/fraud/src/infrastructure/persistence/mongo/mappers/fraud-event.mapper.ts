import {
  FraudEvent,
  FraudEventType,
  FraudReview,
  FraudReviewDecision,
  RefusedPunch,
} from '../../../../domain/fraud-event';
import { FraudEventDocument, FraudReviewDocument } from '../schemas/fraud-event.schema';

export class FraudEventMongoMapper {
  static toDomain(doc: FraudEventDocument): FraudEvent {
    const event: FraudEvent = {
      id: doc._id,
      type: doc.type as FraudEventType,
      deviceId: doc.deviceId ?? undefined,
      workerId: doc.workerId ?? undefined,
      siteId: doc.siteId ?? undefined,
      packetId: doc.packetId ?? undefined,
      detail: doc.detail,
      at: new Date(doc.at),
    };
    // a punch written outside the server in another form still makes one: its tag fails
    if (doc.punch != null) {
      event.punch = {
        type: String(doc.punch.type ?? '') as RefusedPunch['type'],
        at: new Date(doc.punch.at ?? NaN),
      };
    }
    if (doc.review) event.review = FraudEventMongoMapper.reviewToDomain(doc.review);
    return event;
  }

  /** A new event's document (the sync path's insert: no review yet). */
  static toPersistence(e: FraudEvent, tag?: string): FraudEventDocument {
    return {
      ...(tag ? { tag } : {}),
      _id: e.id,
      type: e.type,
      deviceId: e.deviceId,
      workerId: e.workerId,
      siteId: e.siteId,
      packetId: e.packetId,
      detail: e.detail,
      at: e.at,
      ...(e.punch ? { punch: { type: e.punch.type, at: e.punch.at } } : {}),
    };
  }

  static reviewToDomain(doc: FraudReviewDocument): FraudReview {
    return {
      id: doc._id,
      decision: doc.decision as FraudReviewDecision,
      reason: doc.reason,
      by: doc.by,
      at: new Date(doc.at),
    };
  }

  static reviewToPersistence(r: FraudReview, tag?: string): FraudReviewDocument {
    return {
      _id: r.id,
      decision: r.decision,
      reason: r.reason,
      by: r.by,
      at: r.at,
      ...(tag ? { tag } : {}),
    };
  }
}
