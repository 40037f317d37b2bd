import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'sites', versionKey: false })
export class SiteDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) name!: string;
  @Prop({ type: Object, required: true }) geo!: { lat: number; lng: number };
  @Prop({ required: true }) radiusM!: number;
  @Prop() timeZone?: string;
  @Prop({ required: true }) createdAt!: Date;
  /** SiteSeal's tag (absent: from before the tags; the boot tags those once, `site_seal`). */
  @Prop() tag?: string;
}
export const SiteSchema = SchemaFactory.createForClass(SiteDocument);

/**
 * A person's single-use enrollment code, embedded in the person: the person and its code are
 * one single-document write, so neither exists without the other.
 */
@Schema({ _id: false, versionKey: false })
export class EnrollmentCodeDocument {
  /** The code's keyed hash (unique index per collection). */
  @Prop({ required: true }) codeHash!: string;
  @Prop({ required: true }) expiresAt!: Date;
  @Prop() tag?: string;
  @Prop() usedAt?: Date;
  @Prop() usedByDeviceId?: string;
}
export const EnrollmentCodeSchema = SchemaFactory.createForClass(EnrollmentCodeDocument);

@Schema({ collection: 'thekedars', versionKey: false })
export class ThekedarDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) name!: string;
  @Prop({ required: true }) phone!: string;
  @Prop({ required: true }) trustScore!: number;
  /**
   * The sites it works on. Absent on a thekedar stored before thekedar sites: the boot gives it
   * the sites of the workers it onboarded (MongoWorkforceRepository.grantOldThekedarSites).
   */
  @Prop({ type: [String], default: undefined }) siteIds?: string[];
  @Prop({ required: true }) createdAt!: Date;
  /** ThekedarSeal's tag (absent: from before the tags; the boot tags those once, `thekedar_seal`). */
  @Prop() tag?: string;
  @Prop({ type: EnrollmentCodeSchema, required: true }) enrollment!: EnrollmentCodeDocument;
  /** The thekedar's earlier codes that were spent, kept when a new code is issued (as a worker's). */
  @Prop({ type: [EnrollmentCodeSchema], default: undefined })
  spentEnrollments?: EnrollmentCodeDocument[];
}
export const ThekedarSchema = SchemaFactory.createForClass(ThekedarDocument);
ThekedarSchema.index({ 'enrollment.codeHash': 1 }, { unique: true });
ThekedarSchema.index({ 'spentEnrollments.codeHash': 1 }, { sparse: true });

/** A worker's audited status or site change (WorkerEvent), embedded in the worker. */
@Schema({ _id: false, versionKey: false })
export class WorkerEventDocument {
  @Prop({ required: true }) id!: string;
  @Prop({ required: true }) action!: string;
  @Prop({ required: true }) actor!: string;
  @Prop() reason?: string;
  @Prop({ type: [String], default: undefined }) siteIds?: string[];
  /** Absent on a change recorded before it was kept (WorkerEvent.previousSiteIds). */
  @Prop({ type: [String], default: undefined }) previousSiteIds?: string[];
  /** phone_changed: the numbers, masked (WorkerEvent.phone). */
  @Prop() phone?: string;
  @Prop() previousPhone?: string;
  @Prop({ required: true }) at!: Date;
}
export const WorkerEventSchema = SchemaFactory.createForClass(WorkerEventDocument);

@Schema({ collection: 'workers', versionKey: false })
export class WorkerDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) name!: string;
  @Prop({ required: true }) phone!: string;
  @Prop({ type: [String], required: true }) siteIds!: string[];
  @Prop({ required: true }) trustScore!: number;
  @Prop({ type: Object, required: true }) sponsor!: Record<string, string>;
  @Prop() trustInheritedUntil?: Date;
  /** `active` or `inactive` (WorkerStatus); absent on a worker stored before statuses: active. */
  @Prop() status?: string;
  @Prop() statusChangedAt?: Date;
  @Prop({ required: true }) createdAt!: Date;
  @Prop({ type: EnrollmentCodeSchema, required: true }) enrollment!: EnrollmentCodeDocument;
  /** Its status and site changes, oldest first (rare: pushed in the write that changes it). */
  @Prop({ type: [WorkerEventSchema], default: undefined }) events?: WorkerEventDocument[];
  /**
   * The worker's earlier codes that were spent (which device each registered), kept when a new
   * code takes `enrollment`'s place, as SQLite keeps them; unused codes are dropped.
   */
  @Prop({ type: [EnrollmentCodeSchema], default: undefined })
  spentEnrollments?: EnrollmentCodeDocument[];
  /**
   * `phoneClaims` of the worker (its phone per site and per thekedar), each held by one worker
   * (unique index). Absent on a worker created before claims that shares one with an older
   * worker (kept, reported at boot); such a worker claims what is free when its phone changes.
   */
  @Prop({ type: [String] }) phoneClaims?: string[];
  /**
   * `e164` (PHONE_CLAIMS_FORM) when `phoneClaims` are keyed by the phone's E.164. Absent on a
   * worker whose claims were keyed as typed (before 2026-12, spaces and dashes aside): the boot
   * keys those again, oldest first (MongoWorkforceRepository.keyOldClaims).
   */
  @Prop() phoneClaimsForm?: string;
  /**
   * WorkerSeal's tag over the fields a decision reads and `eventId`; absent on a worker stored
   * before the tags (tagged as legacy at the first start with them, marker `worker_seal`).
   */
  @Prop() tag?: string;
  /** The id of the worker's newest event the tag is bound to (absent: none). */
  @Prop() eventId?: string;
}

/** The marker collection of the workers' legacy tagging (`{ _id: 'legacy', at, count }`). */
export const WORKER_SEAL_COLLECTION = 'worker_seal';
/** The markers of the sites' and thekedars' legacy tagging (SiteSeal, ThekedarSeal). */
export const SITE_SEAL_COLLECTION = 'site_seal';
export const THEKEDAR_SEAL_COLLECTION = 'thekedar_seal';

/** `WorkerDocument.phoneClaimsForm` of claims keyed in E.164. */
export const PHONE_CLAIMS_FORM = 'e164';
export const WorkerSchema = SchemaFactory.createForClass(WorkerDocument);
WorkerSchema.index({ 'enrollment.codeHash': 1 }, { unique: true });
WorkerSchema.index({ 'spentEnrollments.codeHash': 1 }, { sparse: true });
WorkerSchema.index({ 'sponsor.thekedarId': 1 });
// a number's claims checked against the worker documents (claims unset in the database free nothing)
WorkerSchema.index({ phone: 1 });
// multikey and unique: no claim in two workers; partial: the old duplicates, which hold none,
// are not in it (a unique index would count each as a null claim)
WorkerSchema.index(
  { phoneClaims: 1 },
  { unique: true, partialFilterExpression: { phoneClaims: { $exists: true } } },
);
