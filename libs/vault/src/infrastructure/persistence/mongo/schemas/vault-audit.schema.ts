import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'vault_audit', versionKey: false })
export class VaultAuditDocument {
  @Prop({ type: String, required: true }) _id!: string;
  /** Unique: two concurrent appends after the same head cannot both be inserted. */
  @Prop({ required: true, unique: true }) seq!: number;
  @Prop({ required: true }) fileId!: string;
  @Prop({ required: true }) actor!: string;
  @Prop({ required: true }) role!: string;
  @Prop({ type: String, default: '' }) ip!: string;
  @Prop({ required: true }) purpose!: string;
  @Prop({ required: true }) action!: string;
  @Prop({ required: true }) result!: string;
  @Prop({ type: String, default: null }) reason!: string | null;
  @Prop({ required: true }) at!: Date;
  @Prop({ required: true }) prevHash!: string;
  @Prop({ required: true }) recordHash!: string;
}
export const VaultAuditSchema = SchemaFactory.createForClass(VaultAuditDocument);
VaultAuditSchema.index({ fileId: 1, seq: 1 });
