import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

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
}
export const FraudEventSchema = SchemaFactory.createForClass(FraudEventDocument);
/** The listing's sort (newest first, id as tie-breaker): served from this index, not in memory. */
FraudEventSchema.index({ at: -1, _id: -1 });
// each listing filter seeks (field, at, _id): the filter and the keyset cursor in one index
FraudEventSchema.index({ type: 1, at: -1, _id: -1 });
FraudEventSchema.index({ deviceId: 1, at: -1, _id: -1 });
FraudEventSchema.index({ workerId: 1, at: -1, _id: -1 });
FraudEventSchema.index({ siteId: 1, at: -1, _id: -1 });
FraudEventSchema.index({ packetId: 1 }, { sparse: true });
