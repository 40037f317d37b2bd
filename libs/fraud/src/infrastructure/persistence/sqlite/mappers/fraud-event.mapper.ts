import {
  FraudEvent,
  FraudEventType,
  FraudReview,
  FraudReviewDecision,
  RefusedPunch,
} from '../../../../domain/fraud-event';

export interface FraudEventRow {
  id: string;
  type: string;
  device_id: string | null;
  worker_id: string | null;
  site_id: string | null;
  packet_id: string | null;
  detail: string;
  at: string;
  /** The refused punch's type and claimed time (fraud migration 11); NULL on other events. */
  punch_type?: string | null;
  punch_at?: string | null;
  /** The server's tag (FraudSeal); NULL when written without one. */
  tag?: string | null;
}

/** A listed row: the event and its current review (NULLs while unreviewed). */
export interface FraudEventReviewedRow extends FraudEventRow {
  review_id: string | null;
  review_decision: string | null;
  review_reason: string | null;
  review_by: string | null;
  review_at: string | null;
}

export interface FraudReviewRow {
  id: string;
  event_id: string;
  seq: number;
  decision: string;
  reason: string;
  actor: string;
  at: string;
  /** The server's tag (FraudSeal), chained to the event's review before it. */
  tag?: string | null;
}

export class FraudEventSqliteMapper {
  static toDomain(row: FraudEventReviewedRow): FraudEvent {
    const event: FraudEvent = {
      id: row.id,
      type: row.type as FraudEventType,
      deviceId: row.device_id ?? undefined,
      workerId: row.worker_id ?? undefined,
      siteId: row.site_id ?? undefined,
      packetId: row.packet_id ?? undefined,
      detail: row.detail,
      at: new Date(row.at),
    };
    // either column alone (a row changed outside the server) still makes a punch: its tag fails
    if (row.punch_type != null || row.punch_at != null) {
      event.punch = {
        type: (row.punch_type ?? '') as RefusedPunch['type'],
        at: new Date(row.punch_at ?? NaN),
      };
    }
    if (row.review_decision !== null) {
      event.review = {
        id: row.review_id!,
        decision: row.review_decision as FraudReviewDecision,
        reason: row.review_reason!,
        by: row.review_by!,
        at: new Date(row.review_at!),
      };
    }
    return event;
  }

  /** A new event's row (the sync path's insert: no review yet). */
  static toPersistence(e: FraudEvent, tag: string | null = null): FraudEventRow {
    return {
      tag,
      id: e.id,
      type: e.type,
      device_id: e.deviceId ?? null,
      worker_id: e.workerId ?? null,
      site_id: e.siteId ?? null,
      packet_id: e.packetId ?? null,
      detail: e.detail,
      at: e.at.toISOString(),
      punch_type: e.punch?.type ?? null,
      punch_at: e.punch?.at.toISOString() ?? null,
    };
  }

  static reviewToDomain(row: FraudReviewRow): FraudReview {
    return {
      id: row.id,
      decision: row.decision as FraudReviewDecision,
      reason: row.reason,
      by: row.actor,
      at: new Date(row.at),
    };
  }

  static reviewToPersistence(
    eventId: string,
    seq: number,
    r: FraudReview,
    tag: string | null = null,
  ): FraudReviewRow {
    return {
      tag,
      id: r.id,
      event_id: eventId,
      seq,
      decision: r.decision,
      reason: r.reason,
      actor: r.by,
      at: r.at.toISOString(),
    };
  }
}
