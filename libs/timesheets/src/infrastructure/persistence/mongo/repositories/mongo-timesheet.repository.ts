import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Collection, FilterQuery, Model, UpdateQuery } from 'mongoose';
import { nextDay } from '@app/common';
import { bulkUpsert, MongoStoreHandle } from '@app/persistence';
import { TimesheetDay } from '../../../../domain/timesheet-day';
import { TimesheetEntry } from '../../../../domain/timesheet-entry';
import {
  DayPage,
  DayQuery,
  DayReplacement,
  keyIds,
  PendingDays,
  RebuildMark,
  SeqRange,
  TimesheetRepository,
} from '../../timesheet.repository';
import {
  TimesheetDayDocument,
  TimesheetDaySchema,
  TimesheetEntryDocument,
  TimesheetEntrySchema,
  PendingWrite,
  TimesheetPendingDocument,
  TimesheetPendingSchema,
  TIMESHEET_DAY_KEY,
  TIMESHEET_DAY_KEY_INDEX,
  TimesheetWorkerVersionDocument,
  TimesheetWorkerVersionSchema,
  TimesheetRebuildDocument,
  TimesheetRebuildSchema,
} from '../schemas/timesheet.schema';
import { TimesheetMongoMapper } from '../mappers/timesheet.mapper';
import { dayFromBody, dayToBody } from '../../timesheet-stored';
import { TamperedRow, TimesheetSeal, TimesheetsTamperedError } from '../../timesheet-seal';

/** A stored day as a page reads it (no tombstone). */
type DayDoc = Pick<
  TimesheetDayDocument,
  'workerId' | 'day' | 'workedSeconds' | 'body' | 'tag' | 'basis'
>;

/** Name of the unique (siteId, seq) index of the entries. */
const ENTRY_KEY_INDEX = 'siteId_1_seq_1';
/** Name of the unique (siteId, workerId) index of the worker versions and of the pending marks. */
const WORKER_KEY_INDEX = 'siteId_1_workerId_1';

/** Matches a stored day that a replacement of `basis` may overwrite (not written from a newer basis). */
function notNewerThan(basis: number) {
  return { basis: { $not: { $gt: basis } } };
}

/**
 * The seqs links have only (whole numbers): a row between two seqs (1.5, written outside the
 * server) neither hides a deleted row from the count nor is taken for one (review L3). A whole
 * number stored as a double (a shell's `2`) is one too.
 */
const WHOLE_SEQ = { $expr: { $eq: ['$seq', { $trunc: '$seq' }] } };

/**
 * MongoDB adapter, shared by replicas that project the same ledger in parallel. Entries are
 * inserted with `$setOnInsert` upserts (an entry stored twice, by two replicas too, is stored
 * once). Without a transaction, the pending marks are written before the entries they cover
 * and cleared after the days are stored, so a crash between any two writes leaves a mark.
 *
 * Days: each replica's recompute reads the worker's write version (bumped after each write of
 * its entries or states) before its punches, and writes each day of its range, with that
 * basis, as an upsert that only matches a day of no newer basis; a day the recompute found
 * empty becomes a tombstone (no body) rather than being deleted, so an older recompute landing
 * later cannot bring it back, and a reader never sees a day missing mid-replace. So two
 * replicas recomputing one worker at once leave, day by day, the newer recompute's days. A
 * replacement whose worker's version has moved past its basis is still written (each day
 * under the guard): the newer recompute only covers its own entries' days, and dropping the
 * older one whole lost the days of entries only it had read. A pending mark is settled only by
 * a recompute that read it (`pendingBasis`) before its punches, every write named in it then
 * having stored its entries, and that no write has widened since.
 */
@Injectable()
export class MongoTimesheetRepository
  extends TimesheetRepository
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger(MongoTimesheetRepository.name);
  /** Settles when the start's look for days tagged before the basis is done (`closeLegacyWindow`). */
  legacyLook: Promise<void> = Promise.resolve();
  private readonly entries: Model<TimesheetEntryDocument>;
  private readonly days: Model<TimesheetDayDocument>;
  private readonly pending: Model<TimesheetPendingDocument>;
  private readonly versions: Model<TimesheetWorkerVersionDocument>;
  private readonly rebuilds: Model<TimesheetRebuildDocument>;

  /**
   * The one document `{ _id: 'kid', kid, kids, basisTagged? }`: the key at the last reset,
   * every key the rows have been tagged under since (`sealKids`; a document from before has no
   * `kids`), and whether every stored day's tag binds its basis (`basisTagged`: no day tagged by
   * a server from before that is left, review LV #10).
   */
  private readonly sealDoc: Collection<{
    _id: string;
    kid: string;
    kids?: string[] | null; // null as an absent one (written outside the server)
    basisTagged?: boolean;
  }>;
  /** Tags rows written and checks rows read (absent when a spec builds the repository alone). */
  private readonly seal?: TimesheetSeal;

  constructor(store: MongoStoreHandle, @Optional() seal?: TimesheetSeal) {
    super();
    this.seal = seal;
    this.sealDoc = store.connection.collection('timesheet_seal');
    this.rebuilds = store.connection.model(TimesheetRebuildDocument.name, TimesheetRebuildSchema);
    this.versions = store.connection.model(
      TimesheetWorkerVersionDocument.name,
      TimesheetWorkerVersionSchema,
    );
    this.entries = store.connection.model(TimesheetEntryDocument.name, TimesheetEntrySchema);
    this.days = store.connection.model(TimesheetDayDocument.name, TimesheetDaySchema);
    this.pending = store.connection.model(TimesheetPendingDocument.name, TimesheetPendingSchema);
  }

  async onModuleInit(): Promise<void> {
    await Promise.all([
      this.entries.init(),
      this.days.init(),
      this.pending.init(),
      this.versions.init(),
      this.rebuilds.init(),
    ]);
  }

  /** Ends the exemption of days tagged before their tags bound the basis, once none is left. */
  onApplicationBootstrap(): void {
    this.legacyLook = this.closeLegacyWindow().catch((error: unknown) => {
      this.logger.warn(
        { err: error as Error },
        'Timesheet days tagged before the basis not looked for',
      );
    });
  }

  /** The start's look for days tagged before the basis ends before the store closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.legacyLook;
  }

  /**
   * Review LV #10: a day tagged by a server from before its tag bound the basis (basis above 0,
   * the tag verifying only without it) is recomputed and counted as `day_legacy`, not as a
   * changed day, but only while the store may still hold such days (`basisTagged` absent): a
   * database writer who raises the basis of a day of basis 0 makes the same row. The mark is
   * set by `resetAll` (a new store, or one whose key was dropped: every day is then tagged by
   * this server) and here, at a start that finds no such day left (one pass over the days of
   * basis above 0, outside the projection's queue; each start looks again until none is left).
   * The store's key may be a retired one this server still holds (STORE_MAC_KEY rotated, the
   * old one in STORE_MAC_RETIRED_KEYS: no reset), so the look runs under any key it knows
   * (review M1: under the active one only, the window never closed after a rotation).
   */
  private async closeLegacyWindow(): Promise<void> {
    if (!this.seal) return;
    const doc = await this.sealDoc.findOne({ _id: 'kid' });
    // a key this server does not hold (or none): the projector's start clears the store and
    // marks it (resetAll)
    if (!doc || !this.seal.knows(doc.kid) || doc.basisTagged) return;
    let legacy = 0;
    const days = this.days
      .find(
        { basis: { $gt: 0 }, body: { $type: 'string' } },
        { _id: 0, siteId: 1, workerId: 1, day: 1, workedSeconds: 1, body: 1, tag: 1, basis: 1 },
      )
      .lean<(DayDoc & { siteId: string })[]>()
      .cursor();
    for await (const d of days) {
      const ok = (basis: unknown) =>
        this.seal!.dayOk(d.siteId, d.workerId, d.day, d.workedSeconds, d.body!, d.tag, basis);
      if (!ok(d.basis) && ok(0)) legacy++;
    }
    if (legacy > 0) {
      this.logger.warn(
        { days: legacy },
        'Timesheet days tagged before their tags covered the basis are left: each is recomputed at its next read (counted as day_legacy); looked for again at the next start',
      );
      return;
    }
    // the mark only on the key's store looked at (a reset meanwhile set its own)
    await this.sealDoc.updateOne({ _id: 'kid', kid: doc.kid }, { $set: { basisTagged: true } });
    this.logger.log(
      'Every timesheet day tag covers its basis: a day that verifies only without it is now counted as changed outside the server',
    );
  }

  /** Whether the store may still hold days tagged before their tags bound the basis. */
  private async legacyWindowOpen(): Promise<boolean> {
    return !(await this.sealDoc.findOne({ _id: 'kid' }))?.basisTagged;
  }

  /** Bumps the write version of the workers the marks name (after their entries or states are written). */
  private async bump(pending: PendingDays[]): Promise<void> {
    if (pending.length === 0) return;
    const ops = pending.map((p) => ({
      updateOne: {
        filter: { siteId: p.siteId, workerId: p.workerId },
        update: { $inc: { v: 1 } },
        upsert: true,
      },
    }));
    await bulkUpsert(this.versions, ops, WORKER_KEY_INDEX);
  }

  async versionsOf(siteId: string, workerIds: string[]): Promise<Map<string, number>> {
    const versions = new Map<string, number>();
    for (let i = 0; i < workerIds.length; i += 1000) {
      const docs = await this.versions
        .find({ siteId, workerId: { $in: workerIds.slice(i, i + 1000) } }, { workerId: 1, v: 1 })
        .lean<Pick<TimesheetWorkerVersionDocument, 'workerId' | 'v'>[]>();
      for (const d of docs) versions.set(d.workerId, d.v);
    }
    return versions;
  }

  /** Widens the marks, naming the write (`write`) that has yet to store its entries. */
  private async mark(pending: PendingDays[], write: PendingWrite): Promise<void> {
    if (pending.length === 0) return;
    // two replicas taking one worker's entries may both create its mark
    const ops = pending.map((p) => {
      // typed here: the driver's bulk types refuse a $push of a subdocument to a typed array
      const update: UpdateQuery<TimesheetPendingDocument> = {
        $min: { minAt: p.min },
        $max: { maxAt: p.max },
        $set: { w: write.id },
        $push: { open: write },
      };
      return {
        updateOne: { filter: { siteId: p.siteId, workerId: p.workerId }, update, upsert: true },
      };
    });
    await bulkUpsert(this.pending, ops, WORKER_KEY_INDEX);
  }

  /** The write's entries are stored: its name leaves the marks (a mark cleared meanwhile stays so). */
  private async release(pending: PendingDays[], write: PendingWrite): Promise<void> {
    if (pending.length === 0) return;
    await this.pending.bulkWrite(
      pending.map((p) => ({
        updateOne: {
          filter: { siteId: p.siteId, workerId: p.workerId },
          update: { $pull: { open: { id: write.id } } },
        },
      })),
      { ordered: false },
    );
  }

  async pendingBasis(siteId: string, workerIds: string[]): Promise<Map<string, string>> {
    const basis = new Map<string, string>();
    // a write is done when its entries are all stored: by itself (it released the mark) or as
    // seen here (it failed, or crashed, after storing them; or another process stored them)
    const stored = new Map<string, Promise<boolean>>();
    const storedAll = (w: PendingWrite) => {
      const key = w.seqs ? w.seqs.join(',') : `${w.from}:${w.to}:${w.n}`;
      let found = stored.get(key);
      if (!found) {
        const seq = w.seqs ? { $in: w.seqs } : { $gte: w.from, $lte: w.to };
        found = this.entries.countDocuments({ siteId, seq }).then((count) => count >= w.n);
        stored.set(key, found);
      }
      return found;
    };
    for (let i = 0; i < workerIds.length; i += 1000) {
      const docs = await this.pending
        .find(
          { siteId, workerId: { $in: workerIds.slice(i, i + 1000) } },
          { workerId: 1, w: 1, open: 1 },
        )
        .lean<Pick<TimesheetPendingDocument, 'workerId' | 'w' | 'open'>[]>();
      for (const d of docs) {
        let done = true;
        for (const w of d.open ?? []) if (w.n > 0 && !(await storedAll(w))) done = false;
        if (done) basis.set(d.workerId, d.w ?? '');
      }
    }
    return basis;
  }

  async insertEntries(
    entries: TimesheetEntry[],
    pending: PendingDays[] = [],
    states: TimesheetEntry[] = [],
    stateBasis?: number,
  ): Promise<number> {
    // a crash after the states and before the entries: the entries are taken again (the
    // read model's progress has not moved), and resolving their trees again gives these states
    const write: PendingWrite = { id: randomUUID(), from: 0, to: 0, n: entries.length };
    if (entries.length > 0) {
      write.from = write.to = entries[0].seq;
      for (const e of entries) {
        if (e.seq < write.from) write.from = e.seq;
        if (e.seq > write.to) write.to = e.seq;
      }
      // a chain page or one append: its seqs fill the range (unless a link has no entry)
      if (write.to - write.from + 1 !== entries.length) write.seqs = entries.map((e) => e.seq);
    }
    await this.mark(pending, write);
    await this.writeStates(states, stateBasis);
    let stored = 0;
    if (entries.length > 0) {
      // an entry another replica stored first is not new here
      ({ upserted: stored } = await bulkUpsert(
        this.entries,
        entries.map((e) => ({
          updateOne: {
            filter: { siteId: e.siteId, seq: e.seq },
            update: {
              $setOnInsert: {
                ...e,
                correctedBy: [...e.correctedBy],
                ...(this.seal ? { tag: this.seal.entryTag(e) } : {}),
                ...(stateBasis !== undefined && states.length > 0 ? { stateBasis } : {}),
              },
            },
            upsert: true,
          },
        })),
        ENTRY_KEY_INDEX,
      ));
      // entries of the trees resolved here that another replica inserted meanwhile hold its
      // states, which missed this process's: written again (a newer basis's stay)
      if (stored < entries.length) await this.writeStates(states, stateBasis);
    }
    await this.bump(pending);
    await this.release(pending, write);
    return stored;
  }

  async updateEntryStates(
    entries: TimesheetEntry[],
    pending: PendingDays[] = [],
    stateBasis?: number,
  ): Promise<void> {
    const write: PendingWrite = { id: randomUUID(), from: 0, to: 0, n: 0 };
    await this.mark(pending, write);
    await this.writeStates(entries, stateBasis);
    await this.bump(pending);
    await this.release(pending, write);
  }

  /** Overwrites the states, each only over one of no higher basis (absent basis: unconditional). */
  private async writeStates(entries: TimesheetEntry[], basis?: number): Promise<void> {
    if (entries.length === 0) return;
    const guard = basis === undefined ? {} : { stateBasis: { $not: { $gt: basis } } };
    const stamp = basis === undefined ? {} : { stateBasis: basis };
    await this.entries.bulkWrite(
      entries.map((e) => {
        const tag = this.seal ? { tag: this.seal.entryTag(e) } : {};
        return {
          updateOne: {
            filter: { siteId: e.siteId, seq: e.seq, ...guard },
            update:
              e.effectiveAt === undefined
                ? {
                    $set: { voided: e.voided, correctedBy: e.correctedBy, ...stamp, ...tag },
                    $unset: { effectiveAt: 1 },
                  }
                : {
                    $set: {
                      voided: e.voided,
                      correctedBy: e.correctedBy,
                      effectiveAt: e.effectiveAt,
                      ...stamp,
                      ...tag,
                    },
                  },
          },
        };
      }),
      { ordered: false },
    );
  }

  async findEntries(siteId: string, seqs: number[]): Promise<TimesheetEntry[]> {
    const docs = await this.entries
      .find({ siteId, seq: { $in: [...new Set(seqs)] } })
      .sort({ seq: 1 })
      .lean<TimesheetEntryDocument[]>();
    return this.entriesOf(siteId, docs);
  }

  /** The entries of documents read, each one's tag checked (`timesheets_tampered` when one fails). */
  private entriesOf(siteId: string, docs: TimesheetEntryDocument[]): TimesheetEntry[] {
    const entries = docs.map(TimesheetMongoMapper.toDomain);
    if (!this.seal) return entries;
    return this.seal.checkEntries(
      siteId,
      entries,
      docs.map((d) => d.tag),
    );
  }

  async findCorrectionsOf(siteId: string, seqs: number[]): Promise<TimesheetEntry[]> {
    const docs = await this.entries
      .find({ siteId, targetSeq: { $in: [...new Set(seqs)] } })
      .sort({ seq: 1 })
      // the corrections index, not the key's (siteId, seq) order filtered: a site's every entry
      .hint({ siteId: 1, targetSeq: 1 })
      .lean<TimesheetEntryDocument[]>();
    return this.entriesOf(siteId, docs);
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
    return this.entriesOf(siteId, docs);
  }

  async listOtherSitePunches(
    siteId: string,
    workerId: string,
    fromMs: number,
    toMs: number,
  ): Promise<TimesheetEntry[]> {
    const docs = await this.entries
      .find({
        workerId,
        effectiveAt: { $gte: fromMs, $lt: toMs },
        punchType: { $exists: true },
        siteId: { $ne: siteId },
      })
      .sort({ effectiveAt: 1, siteId: 1, seq: 1 })
      // the index's own order: no blocking sort stage
      .hint({ workerId: 1, effectiveAt: 1, siteId: 1, seq: 1 })
      .lean<TimesheetEntryDocument[]>();
    // each document is checked under its own site (a tampered one names its site)
    return docs.map((d) => this.entriesOf(d.siteId, [d])[0]);
  }

  async listRecomputePunches(
    siteId: string,
    workerId: string,
    own: { fromMs: number; toMs: number },
    others: { fromMs: number; toMs: number },
    except?: SeqRange,
  ): Promise<{ own: TimesheetEntry[]; others: TimesheetEntry[] }> {
    // listOtherSitePunches' read and listPunches' in one, on the worker's index by time across
    // sites (its order: no blocking sort stage), split here by site
    const docs = await this.entries
      .find({
        workerId,
        effectiveAt: {
          $gte: Math.min(own.fromMs, others.fromMs),
          $lt: Math.max(own.toMs, others.toMs),
        },
        punchType: { $exists: true },
        $or: [
          { siteId: { $ne: siteId }, effectiveAt: { $gte: others.fromMs, $lt: others.toMs } },
          {
            siteId,
            effectiveAt: { $gte: own.fromMs, $lt: own.toMs },
            ...(except
              ? { $or: [{ seq: { $lt: except.fromSeq } }, { seq: { $gt: except.toSeq } }] }
              : {}),
          },
        ],
      })
      .sort({ effectiveAt: 1, siteId: 1, seq: 1 })
      .hint({ workerId: 1, effectiveAt: 1, siteId: 1, seq: 1 })
      .lean<TimesheetEntryDocument[]>();
    const ownDocs: TimesheetEntryDocument[] = [];
    const otherDocs: TimesheetEntryDocument[] = [];
    for (const d of docs) (d.siteId === siteId ? ownDocs : otherDocs).push(d);
    const ownEntries = this.entriesOf(siteId, ownDocs);
    // each other site's document is checked under its own site (a tampered one names its site)
    return { own: ownEntries, others: otherDocs.map((d) => this.entriesOf(d.siteId, [d])[0]) };
  }

  async listEntries(siteId: string, afterSeq: number, limit: number): Promise<TimesheetEntry[]> {
    const docs = await this.entries
      .find({ siteId, seq: { $gt: afterSeq } })
      .sort({ seq: 1 })
      .limit(limit)
      .lean<TimesheetEntryDocument[]>();
    return this.entriesOf(siteId, docs);
  }

  async maxSeq(siteId: string): Promise<number> {
    const top = await this.entries
      .findOne({ siteId }, { seq: 1 })
      .sort({ seq: -1 })
      .lean<{ seq: number }>();
    return top?.seq ?? 0;
  }

  async progress(siteId: string): Promise<{ maxSeq: number; count: number }> {
    const [top, count] = await Promise.all([
      this.entries
        .findOne({ siteId, seq: { $gte: 1 }, ...WHOLE_SEQ }, { seq: 1 })
        .sort({ seq: -1 })
        .lean<{ seq: number }>(),
      this.countWhole(siteId, { $gte: 1 }),
    ]);
    return { maxSeq: top?.seq ?? 0, count };
  }

  async countThrough(siteId: string, seq: number): Promise<{ count: number; between: number }> {
    const [count, all] = await Promise.all([
      this.countWhole(siteId, { $gte: 1, $lte: seq }),
      this.entries.countDocuments({ siteId, seq: { $gte: 1, $lte: seq } }),
    ]);
    return { count, between: all - count };
  }

  /**
   * The whole seqs of a site in `range`, counted from the (siteId, seq) index alone (review
   * MED-1): a `$expr` in the count's filter cannot be answered by the index, so it fetched every
   * entry document of the site once a minute. The pipeline reads only indexed fields (the
   * `$match` a range of the key, the `$project` only `seq`), hinted to the index: a covered
   * read, no document fetched.
   */
  private async countWhole(
    siteId: string,
    range: { $gte: number; $lte?: number },
  ): Promise<number> {
    const [row] = await this.entries
      .aggregate<{ whole: number }>([
        { $match: { siteId, seq: range } },
        { $project: { _id: 0, seq: 1 } },
        {
          $group: {
            _id: null,
            whole: { $sum: { $cond: [{ $eq: ['$seq', { $trunc: '$seq' }] }, 1, 0] } },
          },
        },
      ])
      .hint(ENTRY_KEY_INDEX);
    return row?.whole ?? 0;
  }

  async listSeqs(
    siteId: string,
    afterSeq: number,
    throughSeq: number,
    limit: number,
  ): Promise<number[]> {
    const rows = await this.entries
      .find({ siteId, seq: { $gt: afterSeq, $lte: throughSeq }, ...WHOLE_SEQ }, { _id: 0, seq: 1 })
      .sort({ seq: 1 })
      .limit(limit)
      .lean<{ seq: number }[]>();
    return rows.map((r) => r.seq);
  }

  async replaceDays(replacements: DayReplacement[]): Promise<void> {
    for (const r of replacements) {
      // Written even when the worker's version has moved past the basis: the newer recompute
      // covers the span of its own writer's entries, which need not hold these days (the
      // per-day guard keeps whatever it has already written).
      await this.writeDays(r);
      if (r.others && r.others.length > 0) {
        // the other sites' marks before this one is settled: a crash between leaves this one
        const write: PendingWrite = { id: randomUUID(), from: 0, to: 0, n: 0 };
        await this.mark(r.others, write);
        await this.bump(r.others);
        await this.release(r.others, write);
      }
      if (!r.settles) continue;
      // a mark is settled only by a recompute that read every entry it stands for: the mark
      // read before its punches, every write of which had stored its entries, and that no
      // write has widened since (each names itself in it first). A version check after the
      // days missed a writer between its mark and its version bump, and one whose whole write
      // fell between that check and the delete: failing then, it left its entries unrecomputed
      let seen = {};
      if (r.basis !== undefined) {
        if (r.mark === undefined) continue;
        seen = r.mark === '' ? { w: { $exists: false } } : { w: r.mark };
      }
      await this.pending.deleteOne({
        siteId: r.siteId,
        workerId: r.workerId,
        minAt: { $gte: r.settles.min },
        maxAt: { $lte: r.settles.max },
        ...seen,
      });
    }
  }

  /**
   * Writes each day of the replacement's range, with its basis: the replacement's days, and a
   * tombstone for every other day (so a day found empty cannot come back from an older
   * recompute landing later); each only over a day of no newer basis (absent basis:
   * unconditional, stored as 0).
   */
  /** A day's stored fields, its tag with them. */
  private dayFields(siteId: string, workerId: string, d: TimesheetDay, basis: number) {
    const body = dayToBody(d);
    const tag = this.seal
      ? this.seal.dayTag(siteId, workerId, d.day, d.workedSeconds, body, basis)
      : null;
    return { workedSeconds: d.workedSeconds, body, basis, ...(tag ? { tag } : {}) };
  }

  private async writeDays(r: DayReplacement): Promise<void> {
    const basis = r.basis ?? 0;
    const guard = r.basis === undefined ? {} : notNewerThan(basis);
    const byDay = new Map(r.days.map((d) => [d.day, d]));
    const ops = [];
    for (let day = r.fromDay; day <= r.toDay; day = nextDay(day)) {
      const d = byDay.get(day);
      ops.push({
        updateOne: {
          filter: { siteId: r.siteId, workerId: r.workerId, day, ...guard },
          update: d
            ? { $set: this.dayFields(r.siteId, r.workerId, d, basis) }
            : {
                $set: { basis },
                $unset: { body: 1 as const, workedSeconds: 1 as const, tag: 1 as const },
              },
          upsert: true,
        },
      });
    }
    if (ops.length === 0) return;
    // an upsert refused twice met a day another replica wrote from a newer basis: kept. Once
    // is not enough: two replicas creating one day at once both miss it, and the older may
    // insert first (the newer then updates it on the second run)
    await bulkUpsert(this.days, ops, TIMESHEET_DAY_KEY_INDEX);
  }

  /**
   * At most two queries, each bounded on every field of the (siteId, workerId, day) index, so
   * the server seeks from one worker's days in the period to the next's: the rest of the
   * cursor's worker (day after the cursor's), then the workers after it (or the crew's, each
   * a point of the index). No `$or` keyset: bounds, not a filter, whatever plan is chosen.
   * The server visits as many workers as the page needs (`maxWorkers` is SQLite's): its seeks
   * cost no round trip, where a skip-scan from here would cost one a worker.
   */
  async listDays(q: DayQuery): Promise<DayPage> {
    const days: DayDoc[] = [];
    const period = { $gte: q.fromDay, $lte: q.toDay };
    const after = q.after;
    // the workers after the cursor's: a crew's as points of the index, else a range
    let crew = q.workerIds;
    if (after) {
      const inScope = !crew || crew.includes(after.workerId);
      if (inScope && after.day < q.toDay) {
        const day = after.day >= q.fromDay ? { $gt: after.day, $lte: q.toDay } : period;
        days.push(...(await this.dayBodies(q.siteId, after.workerId, day, q.limit)));
      }
      crew = crew?.filter((w) => w > after.workerId);
    }
    if (days.length < q.limit && (!crew || crew.length > 0)) {
      const workers = crew ? { $in: crew } : after ? { $gt: after.workerId } : undefined;
      days.push(...(await this.dayBodies(q.siteId, workers, period, q.limit - days.length)));
    }
    // rows whose tag fails: the page is refused whole (`timesheets_tampered`), naming them all
    const bad: TamperedRow[] = [];
    if (this.seal) {
      let window: boolean | undefined;
      for (const d of days) {
        const basis = d.basis ?? 0;
        const ok = (b: unknown) =>
          this.seal!.dayOk(q.siteId, d.workerId, d.day, d.workedSeconds, d.body!, d.tag, b);
        if (ok(basis)) continue;
        // tagged before the tags bound the basis: recomputed (the basis cannot be trusted), and
        // counted apart from changed days, only while the store may hold such days (a basis
        // raised on a day of basis 0, a repaired one, looks the same: review LV #10)
        const legacy =
          typeof basis === 'number' &&
          basis > 0 &&
          ok(0) &&
          (window ??= await this.legacyWindowOpen());
        bad.push({ workerId: d.workerId, day: d.day, ...(legacy ? { legacy } : {}) });
      }
    }
    if (bad.length > 0) throw new TimesheetsTamperedError(q.siteId, 'day', bad);
    const out = days.map((d) => dayFromBody(d.body!, `${q.siteId}/${d.workerId}/${d.day}`));
    const last = days[days.length - 1];
    return days.length === q.limit
      ? { days: out, next: { workerId: last.workerId, day: last.day } }
      : { days: out };
  }

  /** Up to `limit` stored days (no tombstone) of the workers and days given, in key order. */
  private async dayBodies(
    siteId: string,
    workerId: string | { $in: string[] } | { $gt: string } | undefined,
    day: { $gte: string; $lte: string } | { $gt: string; $lte: string },
    limit: number,
  ): Promise<DayDoc[]> {
    const filter: FilterQuery<TimesheetDayDocument> = {
      siteId,
      ...(workerId !== undefined ? { workerId } : {}),
      day,
      body: { $exists: true },
    };
    return this.days
      .find(filter, { _id: 0, workerId: 1, day: 1, workedSeconds: 1, body: 1, tag: 1, basis: 1 })
      .sort({ workerId: 1, day: 1 })
      .hint(TIMESHEET_DAY_KEY)
      .limit(limit)
      .lean<DayDoc[]>();
  }

  async sealKids(): Promise<string[] | 'malformed' | undefined> {
    const doc = await this.sealDoc.findOne({ _id: 'kid' });
    if (!doc) return undefined;
    return keyIds(doc.kids === undefined || doc.kids === null ? [doc.kid] : doc.kids);
  }

  async addSealKid(kid: string): Promise<void> {
    // no read before the write (review L2): a document from before `kids` gets its one kid and
    // this one (matched only while `kids` is absent or null, as sealKids reads it: `kids: null`
    // matches both; `$addToSet` on a null throws), then one `$addToSet`, atomic on the server,
    // whatever another replica adds or a reset sets meanwhile
    const legacy = await this.sealDoc.findOne({ _id: 'kid', kids: null });
    if (legacy) {
      await this.sealDoc.updateOne(
        { _id: 'kid', kid: legacy.kid, kids: null },
        { $set: { kids: [legacy.kid] } },
      );
    }
    await this.sealDoc.updateOne({ _id: 'kid' }, { $addToSet: { kids: kid } });
  }

  async isEmpty(): Promise<boolean> {
    const found = await Promise.all([
      this.entries.exists({}),
      this.days.exists({}),
      this.pending.exists({}),
    ]);
    return found.every((doc) => doc === null);
  }

  /** The worker versions stay (as in clearSite). */
  async resetAll(kid: string): Promise<void> {
    await Promise.all([
      this.entries.deleteMany({}),
      this.days.deleteMany({}),
      this.pending.deleteMany({}),
    ]);
    // every day from now on is tagged by this server, its basis bound
    await this.sealDoc.updateOne(
      { _id: 'kid' },
      { $set: { kid, kids: [kid], basisTagged: true } },
      { upsert: true },
    );
  }

  /** The worker versions stay: they only grow, so a replica's recompute in flight stays older. */
  async clearSite(siteId: string): Promise<void> {
    await Promise.all([
      this.entries.deleteMany({ siteId }),
      this.days.deleteMany({ siteId }),
      this.pending.deleteMany({ siteId }),
    ]);
  }

  /**
   * One conditional upsert: it matches the site's mark only when it has ended or expired, and
   * when the mark is live it tries to insert a second document for the site, which the unique
   * siteId index refuses (E11000: another holder's live mark).
   */
  async startRebuild(
    siteId: string,
    owner: string,
    expiresAt: number,
    now: number,
  ): Promise<RebuildMark | undefined> {
    try {
      const doc = await this.rebuilds
        .findOneAndUpdate(
          { siteId, expiresAt: { $lte: now } },
          { $inc: { generation: 1 }, $set: { owner, expiresAt } },
          { upsert: true, new: true },
        )
        .lean<TimesheetRebuildDocument>();
      return doc ? rebuildMarkOf(doc) : undefined;
    } catch (error) {
      if ((error as { code?: unknown }).code === 11000) return undefined;
      throw error;
    }
  }

  async renewRebuild(
    siteId: string,
    owner: string,
    generation: number,
    expiresAt: number,
  ): Promise<boolean> {
    const { matchedCount } = await this.rebuilds.updateOne(
      { siteId, owner, generation },
      { $set: { expiresAt } },
    );
    return matchedCount === 1;
  }

  async endRebuild(siteId: string, owner: string, generation: number): Promise<void> {
    await this.rebuilds.updateOne({ siteId, owner, generation }, { $set: { expiresAt: 0 } });
  }

  async rebuildMark(siteId: string): Promise<RebuildMark | undefined> {
    const doc = await this.rebuilds.findOne({ siteId }).lean<TimesheetRebuildDocument>();
    return doc ? rebuildMarkOf(doc) : undefined;
  }
}

function rebuildMarkOf(doc: TimesheetRebuildDocument): RebuildMark {
  return {
    siteId: doc.siteId,
    generation: doc.generation,
    owner: doc.owner,
    expiresAt: doc.expiresAt,
  };
}
