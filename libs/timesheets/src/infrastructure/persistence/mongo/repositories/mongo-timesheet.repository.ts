import { Injectable, OnModuleInit } from '@nestjs/common';
import type { FilterQuery, Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { TimesheetDay } from '../../../../domain/timesheet-day';
import { TimesheetEntry } from '../../../../domain/timesheet-entry';
import { DayQuery, DayReplacement, TimesheetRepository } from '../../timesheet.repository';
import {
  TimesheetDayDocument,
  TimesheetDaySchema,
  TimesheetEntryDocument,
  TimesheetEntrySchema,
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
 * projector serializes work per process, and a rebuild repairs any interleaving).
 */
@Injectable()
export class MongoTimesheetRepository extends TimesheetRepository implements OnModuleInit {
  private readonly entries: Model<TimesheetEntryDocument>;
  private readonly days: Model<TimesheetDayDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.entries = store.connection.model(TimesheetEntryDocument.name, TimesheetEntrySchema);
    this.days = store.connection.model(TimesheetDayDocument.name, TimesheetDaySchema);
  }

  async onModuleInit(): Promise<void> {
    await Promise.all([this.entries.init(), this.days.init()]);
  }

  async insertEntries(entries: TimesheetEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.entries.bulkWrite(
      entries.map((e) => ({
        updateOne: {
          filter: { siteId: e.siteId, seq: e.seq },
          update: { $setOnInsert: { ...e, correctedBy: [...e.correctedBy] } },
          upsert: true,
        },
      })),
      { ordered: true },
    );
  }

  async updateEntryStates(entries: TimesheetEntry[]): Promise<void> {
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

  async listPunches(siteId: string, workerId: string, fromMs: number, toMs: number) {
    const docs = await this.entries
      .find({
        siteId,
        workerId,
        punchType: { $exists: true },
        effectiveAt: { $gte: fromMs, $lt: toMs },
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
      if (r.days.length === 0) continue;
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
    await Promise.all([this.entries.deleteMany({ siteId }), this.days.deleteMany({ siteId })]);
  }
}
