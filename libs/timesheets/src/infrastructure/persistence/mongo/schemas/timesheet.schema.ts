import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'timesheet_entries', versionKey: false })
export class TimesheetEntryDocument {
  @Prop({ required: true }) siteId!: string;
  @Prop({ required: true }) seq!: number;
  @Prop({ required: true }) workerId!: string;
  @Prop({ required: true }) packetId!: string;
  @Prop({ required: true }) kind!: string;
  @Prop() punchType?: string;
  @Prop() action?: string;
  @Prop() targetSeq?: number;
  @Prop() at?: number;
  @Prop() effectiveAt?: number;
  /** An added shift's check-out (add_shift only). */
  @Prop() outAt?: number;
  @Prop({ required: true }) voided!: boolean;
  @Prop({ type: [Number], required: true }) correctedBy!: number[];
  @Prop({ required: true }) lowTrust!: boolean;
  /** The server's tag over the entry (TimesheetSeal; absent: written without one). */
  @Prop() tag?: string;
  /** The seq up to which the correction tree that set this state was resolved (absent: 0). */
  @Prop() stateBasis?: number;
}
export const TimesheetEntrySchema = SchemaFactory.createForClass(TimesheetEntryDocument);
TimesheetEntrySchema.index({ siteId: 1, seq: 1 }, { unique: true });
TimesheetEntrySchema.index({ siteId: 1, workerId: 1, effectiveAt: 1 });
TimesheetEntrySchema.index({ siteId: 1, targetSeq: 1 }, { sparse: true });
/** A worker's punches by time across sites (`listOtherSitePunches`: overlaps_other_site). */
TimesheetEntrySchema.index({ workerId: 1, effectiveAt: 1, siteId: 1, seq: 1 });

@Schema({ collection: 'timesheet_days', versionKey: false })
export class TimesheetDayDocument {
  @Prop({ required: true }) siteId!: string;
  @Prop({ required: true }) workerId!: string;
  @Prop({ required: true }) day!: string;
  /** Absent on a tombstone. */
  @Prop() workedSeconds?: number;
  /**
   * The day as JSON text (its packets as [packetId, seq] pairs). Absent: a tombstone, a day
   * a recompute found empty, kept with its `basis` so an older recompute cannot bring it back.
   */
  @Prop() body?: string;
  /** The server's tag over the day's keys, worked seconds and body (TimesheetSeal). */
  @Prop() tag?: string;
  /** The worker's write version the recompute that wrote this day read (absent: 0). */
  @Prop() basis?: number;
}
export const TimesheetDaySchema = SchemaFactory.createForClass(TimesheetDayDocument);
/** The unique key of the days: a page of days is read in its order, bounded on each field. */
export const TIMESHEET_DAY_KEY = { siteId: 1, workerId: 1, day: 1 } as const;
TimesheetDaySchema.index(TIMESHEET_DAY_KEY, { unique: true });

/** Name of the unique (siteId, workerId, day) index: a duplicate key on it is a lost race. */
export const TIMESHEET_DAY_KEY_INDEX = 'siteId_1_workerId_1_day_1';

/**
 * A worker's write version: incremented after every write of its entries or entry states, so
 * replicas recomputing its days in parallel can tell the newer recompute (never deleted).
 */
@Schema({ collection: 'timesheet_worker_versions', versionKey: false })
export class TimesheetWorkerVersionDocument {
  @Prop({ required: true }) siteId!: string;
  @Prop({ required: true }) workerId!: string;
  @Prop({ required: true }) v!: number;
}
export const TimesheetWorkerVersionSchema = SchemaFactory.createForClass(
  TimesheetWorkerVersionDocument,
);
TimesheetWorkerVersionSchema.index({ siteId: 1, workerId: 1 }, { unique: true });

/**
 * A write that marked a worker and may not have stored its entries yet: its id, and its `n`
 * entries (of every worker), the seqs in [from, to], or `seqs` when they do not fill that
 * range (then another write's entries could).
 */
export interface PendingWrite {
  id: string;
  from: number;
  to: number;
  n: number;
  seqs?: number[];
}

/** Days pending recompute: a worker's stored entries at times in [minAt, maxAt] (epoch ms). */
@Schema({ collection: 'timesheet_pending_days', versionKey: false })
export class TimesheetPendingDocument {
  @Prop({ required: true }) siteId!: string;
  @Prop({ required: true }) workerId!: string;
  @Prop({ required: true }) minAt!: number;
  @Prop({ required: true }) maxAt!: number;
  /** The id of the last write that widened the mark (absent on a mark of an older version). */
  @Prop() w?: string;
  /**
   * The writes that marked it and have not yet said their entries are stored: each write's id,
   * the seq range of its entries (of every worker) and how many there are.
   */
  @Prop({
    type: [
      {
        _id: false,
        id: String,
        from: Number,
        to: Number,
        n: Number,
        seqs: { type: [Number], default: undefined },
      },
    ],
    default: undefined,
  })
  open?: PendingWrite[];
}
export const TimesheetPendingSchema = SchemaFactory.createForClass(TimesheetPendingDocument);
TimesheetPendingSchema.index({ siteId: 1, workerId: 1 }, { unique: true });

/**
 * A site's rebuild mark (`RebuildMark`): one document per site ever rebuilt, never deleted; its
 * generation grows with each rebuild, `expiresAt` (epoch ms, wall clock) is 0 once it ended.
 */
@Schema({ collection: 'timesheet_rebuilds', versionKey: false })
export class TimesheetRebuildDocument {
  @Prop({ required: true }) siteId!: string;
  @Prop({ required: true }) generation!: number;
  @Prop({ required: true }) owner!: string;
  @Prop({ required: true }) expiresAt!: number;
}
export const TimesheetRebuildSchema = SchemaFactory.createForClass(TimesheetRebuildDocument);
TimesheetRebuildSchema.index({ siteId: 1 }, { unique: true });
