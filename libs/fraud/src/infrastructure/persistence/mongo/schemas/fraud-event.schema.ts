import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/** One admin review, embedded in its event: a review and the event's current one are one write. */
@Schema({ versionKey: false })
export class FraudReviewDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) decision!: string;
  @Prop({ required: true }) reason!: string;
  @Prop({ required: true }) by!: string;
  @Prop({ required: true }) at!: Date;
}
export const FraudReviewSchema = SchemaFactory.createForClass(FraudReviewDocument);

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
  /** The latest of `reviews` (absent while unreviewed): what the listing filters on. */
  @Prop({ type: FraudReviewSchema }) review?: FraudReviewDocument;
  /**
   * Every review, oldest first (rare admin actions); absent until the first. Listings leave it
   * out. `default: undefined`: mongoose would give every new event an empty array.
   */
  @Prop({ type: [FraudReviewSchema], default: undefined }) reviews?: FraudReviewDocument[];
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
