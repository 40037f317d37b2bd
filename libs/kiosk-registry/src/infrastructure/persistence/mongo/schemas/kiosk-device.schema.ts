import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/** One audited change, embedded in its device: the change and its event are one write. */
@Schema({ versionKey: false })
export class KioskEventDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) action!: string;
  @Prop({ required: true }) actor!: string;
  @Prop() reason?: string;
  @Prop() keyFingerprint?: string;
  @Prop() previousKeyFingerprint?: string;
  @Prop({ required: true }) at!: Date;
  /** Its number among the kiosk's events and KioskSeal's tag (absent: from before the tags). */
  @Prop() seq?: number;
  @Prop() tag?: string;
}
export const KioskEventSchema = SchemaFactory.createForClass(KioskEventDocument);

@Schema({ collection: 'kiosk_devices', versionKey: false })
export class KioskDeviceDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true, unique: true }) deviceId!: string;
  @Prop({ required: true }) publicKeyPem!: string;
  @Prop({ required: true, index: true }) keyFingerprint!: string;
  @Prop({ required: true, enum: ['active', 'blocked'] }) status!: string;
  @Prop({ required: true }) createdAt!: Date;
  @Prop({ required: true }) updatedAt!: Date;
  /** KioskSeal's tag (absent: stored before the tags, or written outside the server). */
  @Prop() tag?: string;
  /** The event the tag binds the state to (absent: a tag from before, read as legacy). */
  @Prop() eventId?: string;
  @Prop() eventSeq?: number;
  /**
   * The device's audit trail, oldest first. Changes are rare admin actions (register, key
   * rotation, block/unblock), so the array stays far below the 16 MB document limit.
   */
  @Prop({ type: [KioskEventSchema], default: [] }) events!: KioskEventDocument[];
}
export const KioskDeviceSchema = SchemaFactory.createForClass(KioskDeviceDocument);

/** `kiosk_seal`: the legacy tagging's marker (`{ _id: 'legacy', at, count }`). */
export const KIOSK_SEAL_COLLECTION = 'kiosk_seal';
