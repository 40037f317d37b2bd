import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ _id: false, versionKey: false })
export class SessionResultDocument {
  @Prop({ required: true }) status!: string;
  @Prop({ required: true }) statusCode!: number;
  @Prop({ required: true }) latencyMs!: number;
}
const SessionResultSchema = SchemaFactory.createForClass(SessionResultDocument);

@Schema({ collection: 'pairing_sessions', versionKey: false })
export class PairingSessionDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true, enum: ['pairing', 'legacy'] }) protocol!: string;
  @Prop() userId?: string;
  @Prop() platformIdSealed?: string;
  @Prop() platformAlias?: string;
  @Prop({ required: true, enum: ['open', 'submitting', 'completed'] }) status!: string;
  @Prop() deviceId?: string;
  @Prop() imageFileId?: string;
  @Prop({ type: SessionResultSchema }) result?: SessionResultDocument;
  /** Added with SQLite's migration 2; documents without it hold no outcome (nothing to migrate). */
  @Prop() outcomeSealed?: string;
  @Prop({ required: true }) createdAt!: Date;
  @Prop({ required: true, index: true }) expiresAt!: Date;
  @Prop() completedAt?: Date;
  /** A legacy session's one app use, when the relay spent it (`spendAppUse`). */
  @Prop() appUsedAt?: Date;
}
export const PairingSessionSchema = SchemaFactory.createForClass(PairingSessionDocument);
