import { Injectable, OnModuleInit } from '@nestjs/common';
import type { FilterQuery, Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { TimesheetDay } from '../../../../domain/timesheet-day';
import { TimesheetEntry } from '../../../../domain/timesheet-entry';
import {
  DayQuery,
  DayReplacement,
  PendingDays,
  SeqRange,
  TimesheetRepository,
} from '../../timesheet.repository';
import {
  TimesheetDayDocument,
  TimesheetDaySchema,
  TimesheetEntryDocument,
  TimesheetEntrySchema,
  TimesheetPendingDocument,
  TimesheetPendingSchema,
} from '../schemas/timesheet.schema';

function toDomain(d: TimesheetEntryDocument): TimesheetEntry {
  return {
    siteId: d.siteId,
    seq: d.seq,
    workerId: d.workerId,
    packetId: d.packetId,
    kind: d.kind as TimesheetEntry['kind'],
    ...(d.punchType ? { punchType: d.punchType as TimesheetEntry['punchType'] } : {}),
    ...(d.action ? { action: d.action as TimesheetEntry['action'] } : {}),
    ...(d.targetSeq !== undefined && d.targetSeq !== null ? { targetSeq: d.targetSeq } : {}),
    ...(d.at !== undefined && d.at !== null ? { at: d.at } : {}),
    ...(d.effectiveAt !== undefined && d.effectiveAt !== null
      ? { effectiveAt: d.effectiveAt }
      : {}),
    voided: d.voided,
    correctedBy: [...d.correctedBy],
    lowTrust: d.lowTrust,
  };
}

/**
 * MongoDB adapter. Entries are inserted with `$setOnInsert` upserts (an entry stored twice is
 * stored once); a worker's days are replaced by a delete and an insert of the range (the
 * projector serializes work per process, and a rebuild repairs any interleaving). Without a
 * transaction, the pending marks are written before the entries they cover and cleared after
 * the days are stored, so a crash between any two writes leaves a mark behind.
 */
@Injectable()
export class MongoTimesheetRepository extends TimesheetRepository implements OnModuleInit {
  private readonly entries: Model<TimesheetEntryDocument>;
  private readonly days: Model<TimesheetDayDocument>;
  private readonly pending: Model<TimesheetPendingDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.entries = store.connection.model(TimesheetEntryDocument.name, TimesheetEntrySchema);
    this.days = store.connection.model(TimesheetDayDocument.name, TimesheetDaySchema);
    this.pending = store.connection.model(TimesheetPendingDocument.name, TimesheetPendingSchema);
  }

  async onModuleInit(): Promise<void> {
    await Promise.all([this.entries.init(), this.days.init(), this.pending.init()]);
  }

  private async mark(pending: PendingDays[]): Promise<void> {
    if (pending.length === 0) return;
    await this.pending.bulkWrite(
      pending.map((p) => ({
        updateOne: {
          filter: { siteId: p.siteId, workerId: p.workerId },
          update: { $min: { minAt: p.min }, $max: { maxAt: p.max } },
          upsert: true,
        },
      })),
    );
  }

  async insertEntries(
    entries: TimesheetEntry[],
    pending: PendingDays[] = [],
    states: TimesheetEntry[] = [],
  ): Promise<number> {
    // a crash after the states and before the entries: the entries are taken again (the
    // read model's progress has not moved), and resolving their trees again gives these states
    await this.updateEntryStates(states, pending);
    if (entries.length === 0) return 0;
    const result = await this.entries.bulkWrite(
      entries.map((e) => ({
        updateOne: {
          filter: { siteId: e.siteId, seq: e.seq },
          update: { $setOnInsert: { ...e, correctedBy: [...e.correctedBy] } },
          upsert: true,
        },
      })),
      { ordered: true },
    );
    return result.upsertedCount;
  }

  async updateEntryStates(entries: TimesheetEntry[], pending: PendingDays[] = []): Promise<void> {
    await this.mark(pending);
    if (entries.length === 0) return;
    await this.entries.bulkWrite(
      entries.map((e) => ({
        updateOne: {
          filter: { siteId: e.siteId, seq: e.seq },
          update:
            e.effectiveAt === undefined
              ? {
                  $set: { voided: e.voided, correctedBy: e.correctedBy },
                  $unset: { effectiveAt: 1 },
                }
              : {
                  $set: {
                    voided: e.voided,
                    correctedBy: e.correctedBy,
                    effectiveAt: e.effectiveAt,
                  },
                },
        },
      })),
    );
  }

  async findEntries(siteId: string, seqs: number[]): Promise<TimesheetEntry[]> {
    const docs = await this.entries
      .find({ siteId, seq: { $in: [...new Set(seqs)] } })
      .sort({ seq: 1 })
      .lean<TimesheetEntryDocument[]>();
    return docs.map(toDomain);
  }

  async findCorrectionsOf(siteId: string, seqs: number[]): Promise<TimesheetEntry[]> {
    const docs = await this.entries
      .find({ siteId, targetSeq: { $in: [...new Set(seqs)] } })
      .sort({ seq: 1 })
      .lean<TimesheetEntryDocument[]>();
    return docs.map(toDomain);
  }

  async listPending(
    limit: number,
    after?: { siteId: string; workerId: string },
    siteId?: string,
  ): Promise<PendingDays[]> {
    const filter: FilterQuery<TimesheetPendingDocument> = {};
    if (siteId !== undefined) filter.siteId = siteId;
    if (after) {
      filter.$or = [
        { siteId: { $gt: after.siteId } },
        { siteId: after.siteId, workerId: { $gt: after.workerId } },
      ];
    }
    const docs = await this.pending
      .find(filter)
      .sort({ siteId: 1, workerId: 1 })
      .limit(limit)
      .lean<TimesheetPendingDocument[]>();
    return docs.map((d) => ({
      siteId: d.siteId,
      workerId: d.workerId,
      min: d.minAt,
      max: d.maxAt,
    }));
  }

  async listPunches(
    siteId: string,
    workerId: string,
    fromMs: number,
    toMs: number,
    except?: SeqRange,
  ): Promise<TimesheetEntry[]> {
    const docs = await this.entries
      .find({
        siteId,
        workerId,
        punchType: { $exists: true },
        effectiveAt: { $gte: fromMs, $lt: toMs },
        ...(except
          ? { $or: [{ seq: { $lt: except.fromSeq } }, { seq: { $gt: except.toSeq } }] }
          : {}),
      })
      .sort({ effectiveAt: 1, seq: 1 })
      .lean<TimesheetEntryDocument[]>();
    return docs.map(toDomain);
  }

  async listEntries(siteId: string, afterSeq: number, limit: number): Promise<TimesheetEntry[]> {
    const docs = await this.entries
      .find({ siteId, seq: { $gt: afterSeq } })
      .sort({ seq: 1 })
      .limit(limit)
      .lean<TimesheetEntryDocument[]>();
    return docs.map(toDomain);
  }

  async progress(siteId: string): Promise<{ maxSeq: number; count: number }> {
    const [top, count] = await Promise.all([
      this.entries.findOne({ siteId }, { seq: 1 }).sort({ seq: -1 }).lean<{ seq: number }>(),
      this.entries.countDocuments({ siteId }),
    ]);
    return { maxSeq: top?.seq ?? 0, count };
  }

  async replaceDays(replacements: DayReplacement[]): Promise<void> {
    for (const r of replacements) {
      await this.days.deleteMany({
        siteId: r.siteId,
        workerId: r.workerId,
        day: { $gte: r.fromDay, $lte: r.toDay },
      });
      if (r.days.length > 0) await this.insertDays(r);
      if (r.settles) {
        await this.pending.deleteOne({
          siteId: r.siteId,
          workerId: r.workerId,
          minAt: { $gte: r.settles.min },
          maxAt: { $lte: r.settles.max },
        });
      }
    }
  }

  private async insertDays(r: DayReplacement): Promise<void> {
    await this.days.insertMany(
      r.days.map((d) => ({
        siteId: r.siteId,
        workerId: r.workerId,
        day: d.day,
        workedSeconds: d.workedSeconds,
        body: JSON.stringify(d),
      })),
    );
  }

  async listDays(q: DayQuery): Promise<TimesheetDay[]> {
    if (q.workerIds && q.workerIds.length === 0) return [];
    const filter: FilterQuery<TimesheetDayDocument> = {
      siteId: q.siteId,
      day: { $gte: q.fromDay, $lte: q.toDay },
    };
    if (q.workerIds) filter.workerId = { $in: q.workerIds };
    if (q.after) {
      filter.$or = [
        { workerId: { $gt: q.after.workerId } },
        { workerId: q.after.workerId, day: { $gt: q.after.day } },
      ];
    }
    const docs = await this.days
      .find(filter, { body: 1 })
      .sort({ workerId: 1, day: 1 })
      .limit(q.limit)
      .lean<Pick<TimesheetDayDocument, 'body'>[]>();
    return docs.map((d) => JSON.parse(d.body) as TimesheetDay);
  }

  async clearSite(siteId: string): Promise<void> {
    await Promise.all([
      this.entries.deleteMany({ siteId }),
      this.days.deleteMany({ siteId }),
      this.pending.deleteMany({ siteId }),
    ]);
  }
}
