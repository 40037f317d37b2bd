import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'sites', versionKey: false })
export class SiteDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) name!: string;
  @Prop({ type: Object, required: true }) geo!: { lat: number; lng: number };
  @Prop({ required: true }) radiusM!: number;
  @Prop() timeZone?: string;
  @Prop({ required: true }) createdAt!: Date;
}
export const SiteSchema = SchemaFactory.createForClass(SiteDocument);

@Schema({ collection: 'thekedars', versionKey: false })
export class ThekedarDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) name!: string;
  @Prop({ required: true }) phone!: string;
  @Prop({ required: true }) trustScore!: number;
  @Prop({ required: true }) createdAt!: Date;
}
export const ThekedarSchema = SchemaFactory.createForClass(ThekedarDocument);

@Schema({ collection: 'workers', versionKey: false })
export class WorkerDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) name!: string;
  @Prop({ required: true }) phone!: string;
  @Prop({ type: [String], required: true }) siteIds!: string[];
  @Prop({ required: true }) trustScore!: number;
  @Prop({ type: Object, required: true }) sponsor!: Record<string, string>;
  @Prop() trustInheritedUntil?: Date;
  @Prop({ required: true }) createdAt!: Date;
}
export const WorkerSchema = SchemaFactory.createForClass(WorkerDocument);
WorkerSchema.index({ 'sponsor.thekedarId': 1 });

@Schema({ collection: 'enrollment_codes', versionKey: false })
export class EnrollmentCodeDocument {
  /** The code's SHA-256: unique by construction. */
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) personKind!: string;
  @Prop({ required: true }) personId!: string;
  @Prop({ required: true }) expiresAt!: Date;
  @Prop() usedAt?: Date;
  @Prop() usedByDeviceId?: string;
}
export const EnrollmentCodeSchema = SchemaFactory.createForClass(EnrollmentCodeDocument);
