import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'wifi_challenges', versionKey: false })
export class WifiChallengeDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) deviceId!: string;
  @Prop({ required: true }) challenge!: string;
  @Prop({ type: Buffer, required: true }) answerHash!: Buffer;
  @Prop({ required: true }) wifiSsid!: string;
  @Prop({ required: true }) wifiPasswordSealed!: string;
  @Prop({ required: true, enum: ['pending', 'used', 'locked'] }) status!: string;
  @Prop({ required: true, default: 0 }) wrongAttempts!: number;
  @Prop({ required: true }) createdBy!: string;
  @Prop() keyFingerprint?: string;
  @Prop() kioskChangedAt?: Date;
  @Prop({ required: true }) createdAt!: Date;
  @Prop({ required: true, index: true }) expiresAt!: Date;
  @Prop() usedAt?: Date;
  @Prop() tag?: string;
}
export const WifiChallengeSchema = SchemaFactory.createForClass(WifiChallengeDocument);
