import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'kiosk_devices', versionKey: false })
export class KioskDeviceDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true, unique: true }) deviceId!: string;
  @Prop({ required: true }) publicKeyPem!: string;
  @Prop({ required: true }) keyFingerprint!: string;
  @Prop({ required: true, enum: ['active', 'blocked'] }) status!: string;
  @Prop({ required: true }) createdAt!: Date;
  @Prop({ required: true }) updatedAt!: Date;
}
export const KioskDeviceSchema = SchemaFactory.createForClass(KioskDeviceDocument);

@Schema({ collection: 'kiosk_events', versionKey: false })
export class KioskEventDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) deviceId!: string;
  @Prop({ required: true }) action!: string;
  @Prop({ required: true }) actor!: string;
  @Prop() reason?: string;
  @Prop() keyFingerprint?: string;
  @Prop() previousKeyFingerprint?: string;
  @Prop({ required: true }) at!: Date;
}
export const KioskEventSchema = SchemaFactory.createForClass(KioskEventDocument);
KioskEventSchema.index({ deviceId: 1, at: 1, _id: 1 });
