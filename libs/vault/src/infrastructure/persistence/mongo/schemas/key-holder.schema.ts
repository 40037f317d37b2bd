import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'vault_key_holders', versionKey: false })
export class KeyHolderDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ type: [String], required: true }) versions!: string[];
  @Prop({ type: String }) active?: string;
  @Prop({ required: true }) seenAt!: Date;
}
export const KeyHolderSchema = SchemaFactory.createForClass(KeyHolderDocument);
