import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/** One admin review, embedded in its event: a review and the event's current one are one write. */
@Schema({ versionKey: false })
export class FraudReviewDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) decision!: string;
  @Prop({ required: true }) reason!: string;
  @Prop({ required: true }) by!: string;
  @Prop({ required: true }) at!: Date;
  /** The server's tag (FraudSeal), chained to the review before it; its seq is its place + 1. */
  @Prop() tag?: string;
}
export const FraudReviewSchema = SchemaFactory.createForClass(FraudReviewDocument);

/** The punch an authentic refusal names (PUNCH_REFUSAL_TYPES): its type and claimed time. */
@Schema({ _id: false, versionKey: false })
export class RefusedPunchDocument {
  @Prop({ type: String, required: true }) type!: string;
  @Prop({ required: true }) at!: Date;
}
export const RefusedPunchSchema = SchemaFactory.createForClass(RefusedPunchDocument);

@Schema({ collection: 'fraud_events', versionKey: false })
export class FraudEventDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) type!: string;
  @Prop() deviceId?: string;
  @Prop() workerId?: string;
  @Prop() siteId?: string;
  @Prop() packetId?: string;
  @Prop({ required: true }) detail!: string;
  @Prop({ required: true }) at!: Date;
  /** The refused punch (absent on other events and on those recorded before it was kept). */
  @Prop({ type: RefusedPunchSchema }) punch?: RefusedPunchDocument;
  /** The latest of `reviews` (absent while unreviewed): what the listing filters on. */
  @Prop({ type: FraudReviewSchema }) review?: FraudReviewDocument;
  /**
   * Every review, oldest first (rare admin actions); absent until the first. Listings leave it
   * out. `default: undefined`: mongoose would give every new event an empty array.
   */
  @Prop({ type: [FraudReviewSchema], default: undefined }) reviews?: FraudReviewDocument[];
  /** The server's tag over the event and its current review (FraudSeal); absent: written without one. */
  @Prop() tag?: string;
}
export const FraudEventSchema = SchemaFactory.createForClass(FraudEventDocument);
/** The listing's sort (newest first, id as tie-breaker): served from this index, not in memory. */
FraudEventSchema.index({ at: -1, _id: -1 });
// each listing filter seeks (field, at, _id): the filter and the keyset cursor in one index
FraudEventSchema.index({ type: 1, at: -1, _id: -1 });
FraudEventSchema.index({ deviceId: 1, at: -1, _id: -1 });
FraudEventSchema.index({ workerId: 1, at: -1, _id: -1 });
FraudEventSchema.index({ siteId: 1, at: -1, _id: -1 });
// ?review=: unreviewed is a missing review (null in the index), the others its decision
FraudEventSchema.index({ 'review.decision': 1, at: -1, _id: -1 });
FraudEventSchema.index({ packetId: 1 }, { sparse: true });
/** A worker's events of one type (its refused punches), by time: SQLite's fraud migration 11. */
FraudEventSchema.index({ workerId: 1, type: 1, at: -1, _id: -1 });
/**
 * A site's refused punches by claimed time (the payroll's `refusedPunches`), of those events
 * only: SQLite's `fraud_events_site_punch` (fraud migration 11). `listRefusedPunches` queries
 * with `punch.at: { $exists: true, ... }`, which lets the planner take the partial index.
 */
FraudEventSchema.index(
  { siteId: 1, 'punch.at': 1 },
  { name: 'fraud_events_site_punch', partialFilterExpression: { 'punch.at': { $exists: true } } },
);
/** A device's events of given packets (a signed refusal's dedupe): SQLite's fraud migration 10. */
FraudEventSchema.index({ deviceId: 1, packetId: 1, type: 1 });
/**
 * The events that weigh on a device's trust score by their type: all but `device_blocked` (a
 * sync refused while blocked weighs nothing). MongoDB takes no `$ne` in a partial index's
 * filter, so "not device_blocked" is written as the two ranges either side of it (`$or` in a
 * partial filter: MongoDB 6.0+; compose pins 7): it holds for any type, added ones too, as
 * SQLite's `type <> 'device_blocked'` does. `weighingHistories` queries with this very
 * expression, which is what lets the planner take the partial index below.
 */
export const WEIGHING_TYPES = {
  $or: [{ type: { $lt: 'device_blocked' } }, { type: { $gt: 'device_blocked' } }],
};
/**
 * A device's events of one type that weigh, newest first, with what the score reads: SQLite's
 * fraud migration 9 (`fraud_events_weighing_type`). The score reads the newest rows of each
 * weighing type (every type in one query, one scan per type merged; per type when that one
 * fills: MongoFraudEventRepository's `weighing`), so a flood of one type (a phone's garbage
 * packets, each a `malformed_packet`; untagged rows a database writer adds) cannot push another
 * type's events out of the read. A blocked phone's app retrying its queue leaves a `device_blocked` event per
 * try: none is in the index. Dismissed events are filtered on the index's `review.decision` (a
 * partial filter cannot say "missing or not dismissed": no `$ne`, no `$exists: false`).
 * Replaces `fraud_events_weighing` ({deviceId, at, _id, type, review.decision}), which the
 * repository drops at start (SUPERSEDED_FRAUD_EVENT_INDEXES).
 */
FraudEventSchema.index(
  { deviceId: 1, type: 1, at: -1, _id: -1, 'review.decision': 1 },
  { name: 'fraud_events_weighing_type', partialFilterExpression: WEIGHING_TYPES },
);

/**
 * Indexes an older release declared on `fraud_events` and none queries now: the repository
 * drops them at start (`init` builds the declared ones but drops none). `fraud_events_weighing`
 * ({deviceId, at, _id, type, review.decision}, partial as `fraud_events_weighing_type`): the
 * trust history's read before it was bounded per type, replaced by `fraud_events_weighing_type`
 * (SQLite's fraud migration 9 drops its own the same way).
 */
export const SUPERSEDED_FRAUD_EVENT_INDEXES: readonly string[] = ['fraud_events_weighing'];

/**
 * `fraud_seal`, one document (`_id: 'legacy'`): when the events stored before the tags were
 * tagged as legacy (SQLite: fraud migration 7's `fraud_seal` row).
 */
export const FRAUD_SEAL_COLLECTION = 'fraud_seal';
