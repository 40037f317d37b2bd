import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'vault_files', versionKey: false })
export class VaultFileDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) contentType!: string;
  @Prop({ required: true }) size!: number;
  @Prop({ required: true }) sha256!: string;
  @Prop({ type: String, default: null }) wrappedKey!: string | null;
  @Prop({ required: true }) keyVersion!: string;
  @Prop({ required: true }) createdBy!: string;
  @Prop({ required: true }) createdAt!: Date;
  @Prop({ type: Date, default: null }) shreddedAt!: Date | null;
  @Prop({ type: String, default: null }) shredReason!: string | null;
}
export const VaultFileSchema = SchemaFactory.createForClass(VaultFileDocument);
VaultFileSchema.index({ createdAt: 1, _id: 1 });
VaultFileSchema.index({ keyVersion: 1 });
