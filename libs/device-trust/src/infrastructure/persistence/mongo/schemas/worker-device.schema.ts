import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/** One audited change, embedded in its device: the change and its event are one write. */
@Schema({ versionKey: false })
export class WorkerDeviceEventDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) action!: string;
  @Prop({ required: true }) actor!: string;
  @Prop() reason?: string;
  @Prop({ required: true }) at!: Date;
  /** WorkerDeviceSeal's tag (absent on events stored before the tags, until the upgrade). */
  @Prop() tag?: string;
}
export const WorkerDeviceEventSchema = SchemaFactory.createForClass(WorkerDeviceEventDocument);

@Schema({ collection: 'worker_devices', versionKey: false })
export class WorkerDeviceDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true, unique: true }) deviceId!: string;
  @Prop({ type: Object, required: true }) user!: { kind: string; id: string };
  @Prop({ type: [String], required: true }) siteIds!: string[];
  @Prop({ type: Object, required: true }) fingerprint!: {
    os: string;
    model: string;
    simHash: string;
  };
  @Prop({ required: true }) sealedSecret!: string;
  @Prop({ required: true, min: 0, max: 100 }) trustScore!: number;
  @Prop({ required: true }) isBlocked!: boolean;
  @Prop() lastSeen?: Date;
  @Prop() lastIp?: string;
  @Prop({ required: true }) createdAt!: Date;
  /** WorkerDeviceSeal's tag of the block state, and the id of the event that set it. */
  @Prop() blockTag?: string;
  @Prop() blockEventId?: string;
  /** The device's audit trail (registration, block/unblock: rare admin actions), oldest first. */
  @Prop({ type: [WorkerDeviceEventSchema], default: [] }) events!: WorkerDeviceEventDocument[];
}
/** The marker of the legacy tagging (`_id: 'legacy'`: when, how many devices). */
export const WORKER_DEVICE_SEAL_COLLECTION = 'worker_device_seal';
export const WorkerDeviceSchema = SchemaFactory.createForClass(WorkerDeviceDocument);
// a worker's phones in deviceId order (GET /api/v5/devices?workerId=); also every user.id lookup
WorkerDeviceSchema.index({ 'user.id': 1, deviceId: 1 });
WorkerDeviceSchema.index({ 'fingerprint.simHash': 1 });
