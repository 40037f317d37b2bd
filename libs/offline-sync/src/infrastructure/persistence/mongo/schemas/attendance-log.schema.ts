import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'attendance_logs', versionKey: false })
export class AttendanceLogDocument {
  @Prop({ required: true }) siteId!: string;
  @Prop({ required: true }) seq!: number;
  @Prop({ required: true }) packetId!: string;
  @Prop({ required: true }) prevHash!: string;
  @Prop({ required: true }) recordHash!: string;
  /** Stored as hashed: strings and numbers only (dates are ISO strings). */
  @Prop({ type: Object, required: true }) data!: Record<string, unknown>;
  @Prop({ type: Object, required: true }) meta!: Record<string, unknown>;
  /**
   * Copies of data.workerId, data.deviceId and data.timestamp (as a Date) for the fraud rules
   * (packets only); not hashed. deviceId is also the entry's key with packetId.
   */
  @Prop() workerId?: string;
  @Prop() deviceId?: string;
  @Prop() at?: Date;
  /** The server's store MAC over recordHash (`StoreMac`, 'ledger-link') and its key id; not hashed. */
  @Prop() mac?: string;
  @Prop() macKid?: string;
}
export const AttendanceLogSchema = SchemaFactory.createForClass(AttendanceLogDocument);
AttendanceLogSchema.index({ siteId: 1, seq: 1 }, { unique: true });
// an entry's key: a packetId is unique per device (entries no device made have no deviceId).
// It replaced a unique { packetId: 1 }, which `dropGlobalPacketIdIndex` drops on start
AttendanceLogSchema.index({ packetId: 1, deviceId: 1 }, { unique: true });
AttendanceLogSchema.index({ workerId: 1, at: -1, packetId: -1 });
AttendanceLogSchema.index({ deviceId: 1, at: 1 });
