import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import type { Model, PipelineStage } from 'mongoose';
import { CommonError, jcs, KeyedTurns } from '@app/common';
import {
  canonicalMongoJson,
  canonicalMongoTime,
  isDuplicateKeyError,
  isDuplicateKeyOn,
  MongoStoreHandle,
} from '@app/persistence';
import { appendWithRetry } from '@app/tlog';
import { StoreMac } from '@app/tlog/store-mac';
import {
  AttendanceLog,
  EMPTY_HEAD,
  entryKeyText,
  isPacketData,
  LedgerEntryData,
  LedgerEntryKey,
  ledgerDeviceOf,
  linkAfter,
  NO_DEVICE,
  PendingLogEntry,
  StoredLinkText,
} from '../../../../domain/attendance-log';
import {
  AppendAtHeadResult,
  AppendResult,
  AttendanceLogRepository,
  BatchLease,
  confirmKey,
  KEY_COPIES_DISAGREE_TEXT,
  PENDING_BATCH_INSERTS_MS,
  PENDING_BATCH_LEASE_MS,
  PendingBatch,
  PreviousKey,
  SiteHead,
  TaggedLink,
  TaggedLinkText,
} from '../../attendance-log.repository';
import { AttendanceLogMongoMapper as Mapper } from '../mappers/attendance-log.mapper';
import { AttendanceLogDocument, AttendanceLogSchema } from '../schemas/attendance-log.schema';
import { PendingBatchDocument, PendingBatchSchema } from '../schemas/pending-batch.schema';

/**
 * MongoDB adapter. The unique (siteId, seq) index is the chain lock: two writers that read
 * the same head build the same seq, one insert wins, the other gets a duplicate-key error,
 * re-reads the head and tries again (or, for a conditional append, finds the head moved). The
 * unique (packetId, deviceId) index makes a replay a duplicate (an entry no device made has no
 * deviceId: null in the index, one space of ids).
 */
@Injectable()
export class MongoAttendanceLogRepository extends AttendanceLogRepository implements OnModuleInit {
  private readonly logs: Model<AttendanceLogDocument>;
  private readonly batches: Model<PendingBatchDocument>;
  private readonly logger = new Logger(MongoAttendanceLogRepository.name);
  private appClockLogged = false;
  /**
   * This process's inserts into a site's chain, one at a time (the head read and the insert):
   * without them, n syncs to one site race for every seq, each loss a failed insert and two more
   * reads (20 phones at a shift's start: ~20 tries a link). Another replica's writers still race
   * (the unique index decides); a turn stalled past SITE_TURN_WAIT_MS is not waited on further.
   */
  private readonly siteTurns = new KeyedTurns(SITE_TURN_WAIT_MS);

  constructor(
    store: MongoStoreHandle,
    @Optional() private readonly storeMac?: StoreMac,
  ) {
    super();
    this.logs = store.connection.model(AttendanceLogDocument.name, AttendanceLogSchema);
    this.batches = store.connection.model(PendingBatchDocument.name, PendingBatchSchema);
  }

  /**
   * Per marker this replica wrote (its `batch` lease), the keys its call appended: what the
   * caller screens with it, pulled from the other markers naming them when it settles.
   */
  private readonly appendedUnder = new WeakMap<BatchLease, LedgerEntryKey[]>();

  async onModuleInit(): Promise<void> {
    await this.batches.init();
    // a packet's key needs its device: links from before the copies existed get them first
    await copyPacketFields(this.logs);
    // the new unique key first, then the old one dropped: the packetIds are never without one
    await this.logs.init();
    await dropGlobalPacketIdIndex(this.logs);
  }

  /**
   * The batch's stored keys are read first, in one query, each confirmed against its link's data
   * (`findByKeys`): a key copy changed in the store refuses the call before its first insert. A
   * key found is a duplicate; one not found is inserted without being looked up again (the unique
   * key refuses it if it was stored meanwhile: looked up then), unless an earlier entry of the
   * call has it. The inserts go one at a time, with no transaction to roll back: before the
   * first, a pending marker naming the keys to insert is written (`ledger_pending_batches`, under
   * this call's owner token), which the caller settles once it has screened and projected them
   * (each appended result names it: `batch`). A call cut short after some inserts (the store
   * lost, the process killed, or stalled past its lease) leaves the marker: a duplicate found
   * here that a marker names, with the marker's lease run out (or released by the failed call),
   * is taken over and answered with it (`pendingBatch`, its first entry in the call only), to be
   * screened as fresh; the sweep takes those never sent again (`staleBatches`).
   */
  async appendToChains(entries: PendingLogEntry[]): Promise<AppendResult[]> {
    if (entries.length === 0) return [];
    const keys = entries.map(keyOf);
    const [stored, markers] = await Promise.all([this.findByKeys(keys), this.markersNaming(keys)]);
    const fresh = keys.filter((_, i) => !stored[i]);
    const pending = await this.takePending(keys, markers);
    // the inserts' deadline, counted from before the marker is sent (its lease starts later)
    const deadline = performance.now() + PENDING_BATCH_INSERTS_MS;
    const batch = fresh.length > 0 ? await this.markPending(entries, fresh) : undefined;
    // every marker taken, before the loop below deletes its keys from `pending` as it goes
    const taken = new Set<BatchLease>(pending.values());
    const results: AppendResult[] = [];
    const appended = new Set<string>();
    // an insert failed in a way that may have sent it (it may still land): see `endBatch`
    const inserts: InsertsSent = { unsure: false };
    // per taken marker, the keys it names that this call screens (what its settle removes)
    const screens = new Map<BatchLease, LedgerEntryKey[]>();
    const screensKey = (lease: BatchLease, key: LedgerEntryKey) => pushUnder(screens, lease, key);
    try {
      for (let i = 0; i < entries.length; i++) {
        const log = stored[i];
        const key = entryKeyText(keys[i]);
        // a packet listed twice is fresh once: the later copy is the duplicate it is
        const pendingBatch = pending.get(key);
        pending.delete(key);
        if (log) {
          if (pendingBatch) screensKey(pendingBatch, keys[i]);
          results.push(
            pendingBatch
              ? { status: 'duplicate', log, pendingBatch }
              : { status: 'duplicate', log },
          );
          continue;
        }
        const result = await this.appendOne(
          entries[i],
          undefined,
          !appended.has(key),
          deadline,
          inserts,
        );
        appended.add(key);
        if (result.status !== 'appended') {
          results.push(result);
          continue;
        }
        // appended here, screened with this call's batch: no longer the taken marker's to screen
        if (pendingBatch) screensKey(pendingBatch, keys[i]);
        if (batch) pushUnder(this.appendedUnder, batch, keys[i]);
        results.push({
          ...result,
          ...(batch ? { batch } : {}),
          ...(pendingBatch ? { pendingBatch } : {}),
        });
      }
    } catch (error) {
      // what this call took or wrote is screened by a retry at once, not after the lease; its
      // own marker's inserts are over (a key it names not stored now never will be by it) only
      // when no failed insert may have been sent: else the 4-minute rule drops such a key
      const own = batch && !inserts.unsure ? batch : undefined;
      await Promise.all([
        own ? this.endBatch(own) : undefined,
        this.releaseBatches([...taken, ...(batch && !own ? [batch] : [])]),
      ]).catch(() => undefined);
      throw error;
    }
    // a taken marker naming none of this call's screened keys (each was found appended by
    // another meanwhile) is released: the sweep screens what it names at once
    const idle = [...taken].filter((lease) => !screens.has(lease));
    if (idle.length > 0) await this.releaseBatches(idle);
    for (const [lease, screened] of screens) lease.keys = screened;
    return results;
  }

  /**
   * The pending markers naming a packetId of `keys` (an index read of `keys.p`; on a first
   * sync, none): the ones written for the same packets by a sync cut short, or still running.
   */
  private markersNaming(keys: LedgerEntryKey[]): Promise<LeaseState[]> {
    return this.batches
      .find(
        { 'keys.p': { $in: [...new Set(keys.map((k) => k.packetId))] } },
        { keys: 1, owner: 1, leased: 1, until: 1 },
      )
      .lean<LeaseState[]>()
      .exec();
  }

  /**
   * Writes the pending marker of a batch's keys to insert, its times by the store's clock
   * (`$currentDate`: replicas whose clocks disagree judge one lease alike); returns its lease.
   */
  private async markPending(
    entries: PendingLogEntry[],
    keys: LedgerEntryKey[],
  ): Promise<BatchLease> {
    const lease = { id: randomUUID(), owner: randomUUID() };
    await this.batches.collection.updateOne(
      { _id: lease.id as never },
      {
        $setOnInsert: {
          owner: lease.owner,
          siteIds: [...new Set(entries.map((e) => e.siteId))].sort(),
          keys: keys.map((k) => ({ p: k.packetId, d: k.deviceId })),
          until: appUntil(),
        },
        $currentDate: { at: true, leased: true },
      },
      { upsert: true },
    );
    return lease;
  }

  /**
   * Of `markers` (naming some of `keys`), each taken over if its lease ran out: by key text, the
   * lease taken of the marker that names it (its `keys` set by the caller to the ones it
   * screens). The store's clock is read only when a marker is found.
   */
  private async takePending(
    keys: LedgerEntryKey[],
    markers: LeaseState[],
  ): Promise<Map<string, BatchLease>> {
    const named = new Map<string, BatchLease>();
    if (markers.length === 0) return named;
    const wanted = new Set(keys.map(entryKeyText));
    const now = await this.storeNow();
    for (const marker of markers) {
      if (!leaseEnded(marker, now)) continue;
      const mine = marker.keys
        .map((k) => entryKeyText({ packetId: k.p, deviceId: k.d }))
        .filter((k) => wanted.has(k));
      if (mine.length === 0) continue;
      const owner = await this.takeOver(marker);
      if (!owner) continue;
      const lease: BatchLease = { id: marker._id, owner, keys: [] };
      for (const k of mine) named.set(k, lease);
    }
    return named;
  }

  /**
   * The store's clock (the primary's `hello` localTime; `isMaster` on a server before 4.4.2,
   * which has no `hello`): what a lease is judged by. A server answering no `localTime` leaves
   * the app's clock (logged once).
   */
  private async storeNow(): Promise<Date> {
    const admin = this.batches.db.db!.admin();
    const hello = await admin.command({ hello: 1 }).catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== COMMAND_NOT_FOUND) throw error;
      return admin.command({ isMaster: 1 });
    });
    const localTime: unknown = hello.localTime;
    if (localTime instanceof Date) return localTime;
    if (!this.appClockLogged) {
      this.appClockLogged = true;
      this.logger.warn(
        "The MongoDB server answers no localTime: pending batch leases judged by this replica's clock",
      );
    }
    return new Date();
  }

  /**
   * Takes a marker over from the holder read (its owner and lease, compared and swapped in one
   * update): its new owner token, or undefined when another took it first.
   */
  private async takeOver(marker: LeaseState): Promise<string | undefined> {
    const owner = randomUUID();
    const taken = await this.batches.collection.updateOne(
      {
        _id: marker._id as never,
        owner: marker.owner ?? null,
        leased: marker.leased ?? null,
        until: marker.until ?? null,
      },
      { $set: { owner, until: appUntil() }, $currentDate: { leased: true } },
    );
    return taken.modifiedCount === 1 ? owner : undefined;
  }

  override async holdBatches(leases: BatchLease[]): Promise<BatchLease[]> {
    // one round trip per marker, all at once (a sync holds one, or a few taken besides)
    const unique = uniqueLeases(leases);
    const renewed = await Promise.all(
      unique.map((lease) =>
        this.batches.collection.updateOne(
          { _id: lease.id as never, owner: lease.owner },
          { $set: { until: appUntil() }, $currentDate: { leased: true } },
        ),
      ),
    );
    return unique.filter((_, i) => renewed[i].matchedCount === 1);
  }

  override async settleBatches(leases: BatchLease[]): Promise<void> {
    await Promise.all(uniqueLeases(leases).map((lease) => this.settleBatch(lease)));
  }

  private async settleBatch(lease: BatchLease): Promise<void> {
    const mine = { _id: lease.id as never, owner: lease.owner };
    if (!lease.keys) {
      await this.batches.collection.deleteOne(mine);
      await this.pullScreenedElsewhere(lease.id, this.appendedUnder.get(lease) ?? []);
      return;
    }
    // this marker first: a failure after it leaves other markers naming keys screened here (a
    // second screening of those, as before the pull), never this one held over its own keys
    const left = await this.batches.collection.findOneAndUpdate(
      mine,
      {
        $pull: { keys: { $in: lease.keys.map((k) => ({ p: k.packetId, d: k.deviceId })) } },
      } as never,
      { returnDocument: 'after', projection: { keys: 1 }, includeResultMetadata: false },
    );
    if (left) {
      if ((left.keys as unknown[]).length === 0) {
        await this.batches.collection.deleteOne({ ...mine, keys: { $size: 0 } });
      } else {
        // what it names still is another's to screen (the sweep's, a retry's): at once
        await this.releaseBatches([lease]);
      }
    }
    await this.pullScreenedElsewhere(lease.id, lease.keys);
  }

  /** `pullScreened`, best effort: this call's own marker is settled whatever it answers. */
  private async pullScreenedElsewhere(id: string, keys: LedgerEntryKey[]): Promise<void> {
    try {
      await this.pullScreened(id, keys);
    } catch (error) {
      this.logger.warn(
        { err: error as Error },
        'Screened packets not removed from other pending batches: whoever takes one screens them again',
      );
    }
  }

  /**
   * Removes keys a settling caller screened from every other marker naming them (deleting one
   * left naming none): a re-send on another replica that stored part of a batch whose first sync
   * was still inserting (its marker leased, naming them too) screened them, and whoever takes
   * that marker later finds them stored; without this, it would screen them a second time.
   */
  private async pullScreened(id: string, keys: LedgerEntryKey[]): Promise<void> {
    if (keys.length === 0) return;
    // the markers naming them, read first by `keys.p`: the emptied ones are then deleted by
    // their ids (a `keys: { $size: 0 }` filter alone uses no index: it scanned every marker)
    const named = await this.batches.collection
      .find(
        { _id: { $ne: id as never }, 'keys.p': { $in: [...new Set(keys.map((k) => k.packetId))] } },
        { projection: { _id: 1 } },
      )
      .toArray();
    if (named.length === 0) return;
    const ids = named.map((marker) => marker._id);
    const pulled = await this.batches.collection.updateMany({ _id: { $in: ids } }, {
      $pull: { keys: { $in: keys.map((k) => ({ p: k.packetId, d: k.deviceId })) } },
    } as never);
    if (pulled.modifiedCount === 0) return;
    // emptied: `keys.p` matches it no more (a marker names at least one key until settled)
    await this.batches.collection.deleteMany({ _id: { $in: ids }, keys: { $size: 0 } });
  }

  /**
   * Releases this call's own marker after a failure, marked `ended`: its inserts are over, so
   * the sweep drops the keys it names and finds unstored without waiting for them. Only for a
   * failure certain to have sent no insert that may still land (the deadline before sending,
   * a duplicate key, a validation error, a read); after any other failed insert (a network
   * error: the insert may have reached the store) the marker is only released, its unstored
   * keys dropped after `PENDING_BATCH_INSERTS_END_MS` (review R12 item 2).
   */
  private async endBatch(lease: BatchLease): Promise<void> {
    await this.batches.collection.updateOne(
      { _id: lease.id as never, owner: lease.owner },
      { $set: { leased: new Date(0), until: new Date(0), ended: true } },
    );
  }

  override async releaseBatches(leases: BatchLease[]): Promise<void> {
    await Promise.all(
      uniqueLeases(leases).map((lease) =>
        this.batches.collection.updateOne(
          { _id: lease.id as never, owner: lease.owner },
          { $set: { leased: new Date(0), until: new Date(0) } },
        ),
      ),
    );
  }

  override async staleBatches(limit: number): Promise<PendingBatch[]> {
    const now = await this.storeNow();
    const markers = await this.batches
      .find({
        $or: [
          // ended by both clocks (a replica of the release before renews `until` only)
          {
            leased: { $lte: new Date(now.getTime() - PENDING_BATCH_LEASE_MS) },
            $or: [{ until: { $exists: false } }, { until: { $lte: new Date() } }],
          },
          { leased: { $exists: false }, until: { $lte: now } },
        ],
      })
      .sort({ leased: 1, until: 1 })
      .limit(limit)
      .lean<PendingBatchDocument[]>();
    const taken: PendingBatch[] = [];
    for (const marker of markers) {
      const owner = await this.takeOver(marker);
      if (!owner) continue;
      taken.push({
        lease: { id: marker._id, owner },
        at: marker.at,
        insertsOver:
          marker.ended === true ||
          marker.at.getTime() <= now.getTime() - PENDING_BATCH_INSERTS_END_MS,
        keys: marker.keys.map((k) => ({ packetId: k.p, deviceId: k.d })),
      });
    }
    return taken;
  }

  /**
   * The insert of seq head + 1 is the condition: the unique (siteId, seq) index lets one
   * writer have it, so a link appended since `headSeq` was read (by any process) either shows
   * in the head read here or fails the insert, which reads again and finds it.
   */
  appendAtHead(entry: PendingLogEntry, headSeq: number): Promise<AppendAtHeadResult> {
    return this.appendOne(entry, headSeq);
  }

  /** `notStored`: the key was just looked up and not found (its first attempt skips the lookup). */
  private appendOne(
    entry: PendingLogEntry,
    headSeq: undefined,
    notStored: boolean,
    deadline: number,
    inserts: InsertsSent,
  ): Promise<AppendResult>;
  private appendOne(entry: PendingLogEntry, headSeq: number): Promise<AppendAtHeadResult>;
  private appendOne(
    entry: PendingLogEntry,
    headSeq?: number,
    notStored = false,
    deadline = Infinity,
    inserts: InsertsSent = { unsure: false },
  ): Promise<AppendAtHeadResult> {
    let lookUp = !notStored;
    return appendWithRetry(async (): Promise<AppendAtHeadResult> => {
      // a retry (a duplicate-key error: this seq or this key taken meanwhile) looks it up
      const existing = lookUp
        ? await this.logs.findOne(keyFilter(keyOf(entry))).lean<AttendanceLogDocument>()
        : null;
      lookUp = true;
      if (existing) {
        const log = Mapper.toDomain(existing);
        return { status: 'duplicate', log: confirmKey(log, keyOf(entry)) };
      }
      // one insert of this process at a time per site: the head it reads is the last one's
      return this.siteTurns.run(entry.siteId, async (): Promise<AppendAtHeadResult> => {
        // no insert is sent past the deadline (its marker may be the sweep's by then, which
        // drops the keys it finds unstored PENDING_BATCH_INSERTS_END_MS after the marker);
        // checked before the head read too, so a turn that waited past it holds no one up
        if (performance.now() > deadline) throw insertsPastDeadline();
        const headDoc = await this.logs
          .findOne({ siteId: entry.siteId }, { seq: 1, recordHash: 1 })
          .sort({ seq: -1 })
          .lean<Pick<AttendanceLogDocument, 'seq' | 'recordHash'>>();
        const head = headDoc ?? EMPTY_HEAD;
        if (headSeq !== undefined && head.seq !== headSeq)
          return { status: 'head_moved', headSeq: head.seq };
        const log = linkAfter(head, entry);
        // a duplicate-key error (lost the race for this seq or key) makes it read again
        const doc = Mapper.toPersistence(log);
        if (this.storeMac) {
          doc.mac = this.storeMac.mac('ledger-link', log.recordHash);
          doc.macKid = this.storeMac.kid;
        }
        if (performance.now() > deadline) throw insertsPastDeadline();
        await this.logs.create(doc).catch((error: unknown) => {
          if (!sentNothing(error)) inserts.unsure = true;
          // lost the race for this seq (the index named first: a conflict on both names it): the
          // key is usually not stored, and if it is, the next insert's key conflict looks it up
          if (isDuplicateKeyOn(error, 'seq')) lookUp = false;
          throw error;
        });
        return { status: 'appended', log };
      });
    }, `chain ${entry.siteId}`);
  }

  async readRecordHashes(siteId: string, fromSeq: number, toSeq: number): Promise<string[]> {
    const docs = await this.logs
      .find({ siteId, seq: { $gte: fromSeq, $lte: toSeq } }, { recordHash: 1, _id: 0 })
      .sort({ seq: 1 })
      .lean<Pick<AttendanceLogDocument, 'recordHash'>[]>();
    return docs.map((d) => d.recordHash);
  }

  async readTaggedTexts(siteId: string, fromSeq: number, toSeq: number): Promise<TaggedLinkText[]> {
    const docs = await this.logs
      .find({ siteId, seq: { $gte: fromSeq, $lte: toSeq } })
      .sort({ seq: 1 })
      .lean<AttendanceLogDocument[]>();
    return docs.map(taggedText);
  }

  async readTaggedChain(siteId: string, afterSeq: number, limit: number): Promise<TaggedLink[]> {
    const docs = await this.logs
      .find({ siteId, seq: { $gt: afterSeq } })
      .sort({ seq: 1 })
      .limit(limit)
      .lean<AttendanceLogDocument[]>();
    return docs.map((doc) => ({ log: Mapper.toDomain(doc), text: taggedText(doc) }));
  }

  async findByKeys(keys: LedgerEntryKey[]): Promise<(AttendanceLog | undefined)[]> {
    if (keys.length === 0) return [];
    // by packetId (the unique index's prefix), then each key picked by its device
    const docs = await this.logs
      .find({ packetId: { $in: [...new Set(keys.map((k) => k.packetId))] } })
      .lean<AttendanceLogDocument[]>();
    const byKey = new Map(
      docs.map((d) => [
        entryKeyText({ packetId: d.packetId, deviceId: d.deviceId ?? NO_DEVICE }),
        d,
      ]),
    );
    return keys.map((key) => {
      const doc = byKey.get(entryKeyText(key));
      return doc && confirmKey(Mapper.toDomain(doc), key);
    });
  }

  async headSeq(siteId: string): Promise<number> {
    const head = await this.logs
      .findOne({ siteId }, { seq: 1, _id: 0 })
      .sort({ seq: -1 })
      .lean<Pick<AttendanceLogDocument, 'seq'>>();
    return head?.seq ?? 0;
  }

  /**
   * One aggregation for the whole walk, its cursor read a page (`batchSize`) at a time: a page's
   * own `$group` (blocking, before its `$limit`) stepped over every site after the page's first,
   * n²/(2·pageSize) seeks for n sites. The cursor may be held while the caller works on a page (a
   * sweep's seals): when it is lost past a page given (an idle cursor's timeout, a failover), the
   * walk goes on after that page's last site with a new one; lost before, the error is thrown.
   */
  async *siteHeadPages(pageSize: number, afterSiteId = ''): AsyncGenerator<SiteHead[]> {
    if (pageSize < 1) return;
    for (let after = afterSiteId; ;) {
      const cursor = this.logs
        .aggregate([...siteHeadsPipeline(after)])
        .cursor<{ _id: string; seq: number }>({ batchSize: pageSize });
      let page: SiteHead[] = [];
      let given = false;
      try {
        for await (const head of cursor) {
          page.push({ siteId: head._id, seq: head.seq });
          if (page.length < pageSize) continue;
          after = head._id;
          given = true;
          yield page;
          page = [];
        }
      } catch (error) {
        if (!given) throw error;
        continue;
      }
      if (page.length > 0) yield page;
      return;
    }
  }

  async readChain(siteId: string, afterSeq: number, limit: number): Promise<AttendanceLog[]> {
    const docs = await this.logs
      .find({ siteId, seq: { $gt: afterSeq } })
      .sort({ seq: 1 })
      .limit(limit)
      .lean<AttendanceLogDocument[]>();
    return docs.map(Mapper.toDomain);
  }

  /**
   * Documents hold values: their JCS texts are serialized here (a document whose copies disagree
   * with its data gives a data text that hashes to no recordHash: `storedDataJcs`).
   */
  async readChainTexts(siteId: string, afterSeq: number, limit: number): Promise<StoredLinkText[]> {
    const docs = await this.logs
      .find({ siteId, seq: { $gt: afterSeq } }, { mac: 0, macKid: 0 })
      .sort({ seq: 1 })
      .limit(limit)
      .lean<AttendanceLogDocument[]>();
    return docs.map((doc) => ({
      siteId: doc.siteId,
      seq: doc.seq,
      prevHash: doc.prevHash,
      recordHash: doc.recordHash,
      dataJcs: storedDataJcs(doc),
      metaJcs: storedJcs(doc.meta),
    }));
  }

  /**
   * One aggregation per PREVIOUS_KEYS_PER_READ keys (one for a batch of the default
   * SYNC_MAX_PACKETS), not a query per key: each key's lookup is its own pipeline (the first at
   * the top, the others in `$unionWith` stages on the same collection), a `$match` on the worker
   * and the pair below the key, sorted as the (workerId, at, packetId) index read backwards and
   * limited to one, so mongod plans each on that index as it planned the `findOne` of one key
   * (one seek, one document), and tags its answer with the key's place (`_k`).
   */
  async findPreviousOfWorkers(keys: PreviousKey[]): Promise<(AttendanceLog | undefined)[]> {
    const answers = Array.from<AttendanceLog | undefined>({ length: keys.length });
    const reads: Promise<void>[] = [];
    for (let from = 0; from < keys.length; from += PREVIOUS_KEYS_PER_READ) {
      const chunk = keys.slice(from, from + PREVIOUS_KEYS_PER_READ);
      const pipeline = previousOfWorkersPipeline(this.logs.collection.name, chunk, from);
      reads.push(
        this.logs
          .aggregate<AttendanceLogDocument & { _k: number }>(pipeline)
          // every answer in the first batch (101 by default: a getMore more)
          .option({ batchSize: chunk.length })
          .then((docs) => {
            for (const doc of docs) answers[doc._k] = Mapper.toDomain(doc);
          }),
      );
    }
    await Promise.all(reads);
    return answers;
  }

  async listWorkersOfDevices(deviceIds: string[], from: Date, to: Date): Promise<string[]> {
    const ids = await this.logs.distinct('workerId', {
      deviceId: { $in: deviceIds },
      at: { $gte: from, $lte: to },
    });
    return ids.filter((id): id is string => typeof id === 'string').sort();
  }
}

/**
 * Every site after `afterSiteId` with its head seq, in siteId order. Sorted as the unique
 * (siteId, seq) index read backwards (the sort it serves: `{ siteId: 1, seq: -1 }` is neither it
 * nor its reverse, and made mongod sort every link of those sites in memory), so that the
 * `$group` of `$first` is a distinct scan of it: one seek per site, no link read. No `$limit`:
 * the `$group` is blocking, so a limit after it still read every site after `afterSiteId` (the
 * walk is one aggregation, read in pages off its cursor: `siteHeadPages`).
 */
export function siteHeadsPipeline(afterSiteId: string) {
  return [
    { $match: { siteId: { $gt: afterSiteId } } },
    { $sort: { siteId: -1, seq: -1 } },
    { $group: { _id: '$siteId', seq: { $first: '$seq' } } },
    { $sort: { _id: 1 } },
  ] as const;
}

/**
 * Keys per aggregation of `findPreviousOfWorkers`: a stage per key (MongoDB refuses a pipeline
 * of more than MONGODB_PIPELINE_STAGES stages), the default SYNC_MAX_PACKETS in one.
 */
export const PREVIOUS_KEYS_PER_READ = 500;

/**
 * MongoDB's most stages in one pipeline (internalPipelineLengthLimit), each sub-pipeline
 * counted on its own: more is refused (code 7749501) before any of it runs.
 */
export const MONGODB_PIPELINE_STAGES = 1000;

/**
 * The aggregation of `findPreviousOfWorkers` for `keys` (at most PREVIOUS_KEYS_PER_READ), the
 * first of them at place `from`: the first key's pipeline at the top, each other key's in a
 * `$unionWith` of `collection`.
 */
export function previousOfWorkersPipeline(
  collection: string,
  keys: PreviousKey[],
  from: number,
): PipelineStage[] {
  const [first, ...others] = keys.map((key, i) => previousPipeline(key, from + i));
  return [
    ...first,
    ...others.map((pipeline) => ({ $unionWith: { coll: collection, pipeline } })),
  ] as PipelineStage[];
}

// a PREVIOUS_KEYS_PER_READ whose aggregation is longer than a pipeline MongoDB takes would pass
// no MongoDB: refused when this module loads, not on the first large sync
const PREVIOUS_STAGES_PER_READ = previousOfWorkersPipeline(
  'attendance_logs',
  Array.from({ length: PREVIOUS_KEYS_PER_READ }, () => ({
    workerId: '',
    at: new Date(0),
    packetId: '',
  })),
  0,
).length;
if (PREVIOUS_STAGES_PER_READ > MONGODB_PIPELINE_STAGES) {
  throw new Error(
    `PREVIOUS_KEYS_PER_READ ${PREVIOUS_KEYS_PER_READ} makes a pipeline of ${PREVIOUS_STAGES_PER_READ} stages (MongoDB takes ${MONGODB_PIPELINE_STAGES})`,
  );
}

/**
 * The worker's link just before `key` (the greatest (at, packetId) below it), tagged with the
 * key's place `k`: the (workerId, at -1, packetId -1) index read from the key down, one
 * document.
 */
export function previousPipeline({ workerId, at, packetId }: PreviousKey, k: number) {
  return [
    { $match: { workerId, $or: [{ at: { $lt: at } }, { at, packetId: { $lt: packetId } }] } },
    { $sort: { at: -1, packetId: -1 } },
    { $limit: 1 },
    { $set: { _k: k } },
  ];
}

/** Documents hold values: a link's texts are their JCS (what `readChainTexts` gives), with its tag. */
function taggedText(doc: AttendanceLogDocument): TaggedLinkText {
  return {
    siteId: doc.siteId,
    seq: doc.seq,
    prevHash: doc.prevHash,
    recordHash: doc.recordHash,
    dataJcs: storedDataJcs(doc),
    metaJcs: storedJcs(doc.meta),
    mac: doc.mac ?? null,
    kid: doc.macKid ?? null,
  };
}

/**
 * How long after its marker (`at`, the store's clock) a writer's inserts may still land: none is
 * sent PENDING_BATCH_INSERTS_MS after the marker was sent, and one sent by then lands well within
 * the rest. Past it, a key the marker names that is not stored never will be by its writer.
 */
const PENDING_BATCH_INSERTS_END_MS = 2 * PENDING_BATCH_LEASE_MS;

/**
 * How long an insert waits for the site's earlier insert of this process before racing it (the
 * unique index keeps the chain whole either way): a stalled insert slows the others this much.
 */
const SITE_TURN_WAIT_MS = 2_000;

/** Whether an insert failed in a way that may have sent it (`unsure`: it may still land). */
interface InsertsSent {
  unsure: boolean;
}

/**
 * Whether an insert's failure is certain to have stored nothing: refused by a unique index, or
 * by mongoose's validation (before sending). A network error or a timeout may have sent it.
 */
function sentNothing(error: unknown): boolean {
  return (
    isDuplicateKeyError(error) || (error as { name?: unknown } | null)?.name === 'ValidationError'
  );
}

/** MongoDB's CommandNotFound (`hello` on a server before 4.4.2). */
const COMMAND_NOT_FOUND = 59;

/**
 * A lease's end by this replica's clock, written beside `leased` for a replica of a release
 * before it (2026-12-07), which judges a marker by `until` only; `leased` is what this one reads.
 */
function appUntil(): Date {
  return new Date(Date.now() + PENDING_BATCH_LEASE_MS);
}

/** The error of an insert not sent: its batch's deadline passed (a stall: retried by the phone). */
function insertsPastDeadline(): CommonError {
  return new CommonError(
    'store_unavailable',
    'The database did not take the whole batch in time: some packets may be stored; send the batch again: stored ones come back accepted or duplicate.',
  );
}

/** What a takeover compares and swaps of a marker: its holder and lease. */
type LeaseState = Pick<PendingBatchDocument, '_id' | 'keys' | 'owner' | 'leased' | 'until'>;

/**
 * Whether a marker's lease ran out at `now` (the store's clock): renewed longer than
 * PENDING_BATCH_LEASE_MS ago (epoch: released) and past its `until` by this replica's clock, or,
 * written before `leased`, past its `until`.
 */
function leaseEnded(marker: LeaseState, now: Date): boolean {
  // both clocks: a replica of the release before takes and renews a marker by `until` alone
  // (its app clock), leaving `leased` as it was (review R12 item 4)
  if (marker.leased)
    return (
      marker.leased.getTime() <= now.getTime() - PENDING_BATCH_LEASE_MS &&
      (marker.until === undefined || marker.until.getTime() <= Date.now())
    );
  return marker.until !== undefined && marker.until.getTime() <= now.getTime();
}

/**
 * Leases once each (a call's results name the same one many times). A marker has one lease
 * object per holder: the call that wrote it, or the one that took it over under a new owner
 * token (one take per lease run), so the same object is the same lease.
 */
function uniqueLeases(leases: BatchLease[]): BatchLease[] {
  return [...new Set(leases)];
}

/** Appends `value` to the list `map` holds under `key` (a list begun for a key it has none). */
function pushUnder<K extends object, V>(
  map: Map<K, V[]> | WeakMap<K, V[]>,
  key: K,
  value: V,
): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** The key an entry is stored under. */
function keyOf(entry: PendingLogEntry): LedgerEntryKey {
  return { packetId: entry.packetId, deviceId: ledgerDeviceOf(entry.data) };
}

/** A key as a filter: an entry no device made has no deviceId (null matches a missing field). */
function keyFilter(key: LedgerEntryKey): { packetId: string; deviceId: string | null } {
  return { packetId: key.packetId, deviceId: key.deviceId === NO_DEVICE ? null : key.deviceId };
}

/**
 * Gives packet links stored before the top-level copies existed (`workerId`, `deviceId`, `at`,
 * added 2026-11-21) their copies from `data`, as `toPersistence` writes them now: without a
 * `deviceId` such a link's key would be (packetId, none), and its device's resend would not be
 * found as its duplicate. Not hashed, so the chain verifies as before. When every link has its
 * copies there is nothing to write, but the query still reads the entries no device made (the
 * corrections: `deviceId` is absent on them too) at every start.
 */
export async function copyPacketFields(logs: Model<AttendanceLogDocument>): Promise<void> {
  const missing = logs
    .find({ deviceId: { $exists: false }, 'data.kind': { $exists: false } }, { _id: 1, data: 1 })
    .lean<Array<Pick<AttendanceLogDocument, 'data'> & { _id: unknown }>>()
    .cursor();
  let writes: Parameters<typeof logs.bulkWrite>[0] = [];
  for await (const doc of missing) {
    const { workerId, deviceId, timestamp } = doc.data;
    if (typeof deviceId !== 'string') continue;
    writes.push({
      updateOne: {
        filter: { _id: doc._id },
        update: {
          $set: {
            deviceId,
            ...(typeof workerId === 'string' ? { workerId } : {}),
            ...(typeof timestamp === 'string' ? { at: new Date(timestamp) } : {}),
          },
        },
      },
    });
    if (writes.length === 1000) {
      await logs.bulkWrite(writes);
      writes = [];
    }
  }
  if (writes.length > 0) await logs.bulkWrite(writes);
}

/** The unique index a ledger made before (packetId, deviceId) was the key (`packetId_1`). */
const GLOBAL_PACKET_ID_INDEX = 'packetId_1';

/**
 * Drops the unique `packetId_1` index of a collection made before the key became (packetId,
 * deviceId): the schema declares the new index (created by `init`), but nothing drops an index
 * no longer declared, and that one would still refuse another device's packet with a packetId
 * already used. Nothing to do on a new collection; another replica dropping it at the same
 * time (index or namespace not found) is the same outcome.
 */
export async function dropGlobalPacketIdIndex(logs: Model<AttendanceLogDocument>): Promise<void> {
  let indexes: { name?: string; unique?: boolean }[];
  try {
    indexes = (await logs.collection.listIndexes().toArray()) as typeof indexes;
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
  }
  if (!indexes.some((i) => i.name === GLOBAL_PACKET_ID_INDEX && i.unique)) return;
  try {
    await logs.collection.dropIndex(GLOBAL_PACKET_ID_INDEX);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** NamespaceNotFound (26) or IndexNotFound (27). */
function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 26 || code === 27;
}

/**
 * A stored value's JCS text, as hashed: stored text is canonical (`@app/persistence`), so a value
 * holding other than JSON values (a BSON date for the signed timestamp, whose JCS is the same
 * text) gives a text that hashes to no recordHash: the link reads record_hash_mismatch.
 */
function storedJcs(stored: unknown): string {
  return canonicalMongoJson(stored) ? jcs(stored) : '"stored value is not JSON"';
}

/**
 * A document's data as hashed (`storedJcs`), if its top-level copies (`packetId`, `workerId`,
 * `deviceId`, `at`) are the ones `toPersistence` writes for it: the fraud screen's lookups and the entry's key
 * read the copies, which no hash covers, so a copy changed in the store (a worker's packet hidden
 * from that worker's history, or moved into another's) gives a text that hashes to no
 * recordHash: the link reads record_hash_mismatch, as its data changed would (verify names it,
 * the seal refuses it past the last checkpoint, read models stop before it).
 */
function storedDataJcs(doc: AttendanceLogDocument): string {
  return copiesAgree(doc) ? storedJcs(doc.data) : KEY_COPIES_DISAGREE_TEXT;
}

/**
 * Whether a document's copies are exactly those `AttendanceLogMongoMapper.toPersistence` writes
 * for its data: its packetId (every entry's), a packet's worker, device and timestamp (a BSON date of the same instant), and
 * none on an entry that is no packet (a correction: a copy there would put it in a worker's or a
 * device's history).
 */
export function copiesAgree(doc: AttendanceLogDocument): boolean {
  const data = doc.data as unknown;
  const expected =
    typeof data === 'object' && data !== null && isPacketData(data as LedgerEntryData)
      ? (data as PacketCopies)
      : undefined;
  // the key copy the duplicate lookup reads (`packetId`, with `deviceId`): changed, a packet
  // sent again would be appended as a second link, or another would answer as its duplicate
  if (typeof data !== 'object' || data === null) return false;
  if (doc.packetId !== (data as { packetId?: unknown }).packetId) return false;
  if (!expected) return doc.workerId == null && doc.deviceId == null && doc.at == null;
  if (doc.workerId !== expected.workerId || doc.deviceId !== expected.deviceId) return false;
  const at: unknown = doc.at;
  return (
    canonicalMongoTime(at) &&
    typeof expected.timestamp === 'string' &&
    (at as Date).getTime() === new Date(expected.timestamp).getTime()
  );
}

type PacketCopies = { workerId: unknown; deviceId: unknown; timestamp: unknown };
