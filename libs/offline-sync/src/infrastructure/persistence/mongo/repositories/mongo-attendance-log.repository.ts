import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { jcs } from '@app/common';
import { MongoStoreHandle } from '@app/persistence';
import { appendWithRetry } from '@app/tlog';
import {
  AttendanceLog,
  EMPTY_HEAD,
  linkAfter,
  PendingLogEntry,
  StoredLinkText,
} from '../../../../domain/attendance-log';
import {
  AppendAtHeadResult,
  AppendResult,
  AttendanceLogRepository,
  PreviousKey,
} from '../../attendance-log.repository';
import { AttendanceLogMongoMapper as Mapper } from '../mappers/attendance-log.mapper';
import { AttendanceLogDocument, AttendanceLogSchema } from '../schemas/attendance-log.schema';

/**
 * MongoDB adapter. The unique (siteId, seq) index is the chain lock: two writers that read
 * the same head build the same seq, one insert wins, the other gets a duplicate-key error,
 * re-reads the head and tries again (or, for a conditional append, finds the head moved). The
 * unique packetId index makes a replay a duplicate.
 */
@Injectable()
export class MongoAttendanceLogRepository extends AttendanceLogRepository implements OnModuleInit {
  private readonly logs: Model<AttendanceLogDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.logs = store.connection.model(AttendanceLogDocument.name, AttendanceLogSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.logs.init();
  }

  async appendToChains(entries: PendingLogEntry[]): Promise<AppendResult[]> {
    const results: AppendResult[] = [];
    for (const entry of entries) results.push(await this.appendOne(entry));
    return results;
  }

  /**
   * The insert of seq head + 1 is the condition: the unique (siteId, seq) index lets one
   * writer have it, so a link appended since `headSeq` was read (by any process) either shows
   * in the head read here or fails the insert, which reads again and finds it.
   */
  appendAtHead(entry: PendingLogEntry, headSeq: number): Promise<AppendAtHeadResult> {
    return this.appendOne(entry, headSeq);
  }

  private appendOne(entry: PendingLogEntry): Promise<AppendResult>;
  private appendOne(entry: PendingLogEntry, headSeq: number): Promise<AppendAtHeadResult>;
  private appendOne(entry: PendingLogEntry, headSeq?: number): Promise<AppendAtHeadResult> {
    return appendWithRetry(async (): Promise<AppendAtHeadResult> => {
      const existing = await this.logs
        .findOne({ packetId: entry.packetId })
        .lean<AttendanceLogDocument>();
      if (existing) return { status: 'duplicate', log: Mapper.toDomain(existing) };
      const headDoc = await this.logs
        .findOne({ siteId: entry.siteId }, { seq: 1, recordHash: 1 })
        .sort({ seq: -1 })
        .lean<Pick<AttendanceLogDocument, 'seq' | 'recordHash'>>();
      const head = headDoc ?? EMPTY_HEAD;
      if (headSeq !== undefined && head.seq !== headSeq)
        return { status: 'head_moved', headSeq: head.seq };
      const log = linkAfter(head, entry);
      // a duplicate-key error (lost the race for this seq or packetId) makes it read again
      await this.logs.create(Mapper.toPersistence(log));
      return { status: 'appended', log };
    }, `chain ${entry.siteId}`);
  }

  async readRecordHashes(siteId: string, fromSeq: number, toSeq: number): Promise<string[]> {
    const docs = await this.logs
      .find({ siteId, seq: { $gte: fromSeq, $lte: toSeq } }, { recordHash: 1, _id: 0 })
      .sort({ seq: 1 })
      .lean<Pick<AttendanceLogDocument, 'recordHash'>[]>();
    return docs.map((d) => d.recordHash);
  }

  async findByPacketIds(packetIds: string[]): Promise<Map<string, AttendanceLog>> {
    const docs = await this.logs
      .find({ packetId: { $in: [...new Set(packetIds)] } })
      .lean<AttendanceLogDocument[]>();
    return new Map(docs.map((d) => [d.packetId, Mapper.toDomain(d)]));
  }

  async readChain(siteId: string, afterSeq: number, limit: number): Promise<AttendanceLog[]> {
    const docs = await this.logs
      .find({ siteId, seq: { $gt: afterSeq } })
      .sort({ seq: 1 })
      .limit(limit)
      .lean<AttendanceLogDocument[]>();
    return docs.map(Mapper.toDomain);
  }

  /** Documents hold values: their JCS texts are serialized here. */
  async readChainTexts(siteId: string, afterSeq: number, limit: number): Promise<StoredLinkText[]> {
    return (await this.readChain(siteId, afterSeq, limit)).map((log) => ({
      siteId: log.siteId,
      seq: log.seq,
      prevHash: log.prevHash,
      recordHash: log.recordHash,
      dataJcs: jcs(log.data),
      metaJcs: jcs(log.meta),
    }));
  }

  async findPreviousOfWorkers(keys: PreviousKey[]): Promise<(AttendanceLog | undefined)[]> {
    return Promise.all(keys.map((key) => this.previousOfWorker(key)));
  }

  private async previousOfWorker({
    workerId,
    ...before
  }: PreviousKey): Promise<AttendanceLog | undefined> {
    const doc = await this.logs
      .findOne({
        workerId,
        $or: [{ at: { $lt: before.at } }, { at: before.at, packetId: { $lt: before.packetId } }],
      })
      .sort({ at: -1, packetId: -1 })
      .lean<AttendanceLogDocument>();
    return doc ? Mapper.toDomain(doc) : undefined;
  }

  async listWorkersOfDevices(deviceIds: string[], from: Date, to: Date): Promise<string[]> {
    const ids = await this.logs.distinct('workerId', {
      deviceId: { $in: deviceIds },
      at: { $gte: from, $lte: to },
    });
    return ids.filter((id): id is string => typeof id === 'string').sort();
  }
}
