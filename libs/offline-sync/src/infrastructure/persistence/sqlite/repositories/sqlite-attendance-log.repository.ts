import { Injectable } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import { SqliteStoreHandle } from '@app/persistence';
import { appendImmediate } from '@app/tlog';
import {
  AttendanceLog,
  canonicalLinkAfter,
  EMPTY_HEAD,
  PendingLogEntry,
  StoredLinkText,
} from '../../../../domain/attendance-log';
import {
  AppendResult,
  AttendanceLogRepository,
  PreviousKey,
} from '../../attendance-log.repository';
import {
  AttendanceLogRow,
  AttendanceLogSqliteMapper as Mapper,
  StoredTextColumns,
} from '../mappers/attendance-log.mapper';
import {
  LEDGER_SQLITE_MIGRATIONS,
  PACKET_AT_MS,
  PACKET_DEVICE,
  PACKET_WORKER,
} from '../sqlite-ledger.migrations';

/**
 * One `BEGIN IMMEDIATE` transaction per call (`appendImmediate`): it takes the write lock before reading the
 * heads, so no other connection (or process) can append between the read and the writes.
 * UNIQUE(packet_id) is the duplicate check (looked up once per entry, by the insert itself),
 * and PRIMARY KEY(site_id, seq) backs the chain order up in the schema.
 */
@Injectable()
export class SqliteAttendanceLogRepository extends AttendanceLogRepository {
  private readonly db: Database;
  private readonly insert: Statement;
  private readonly head: Statement<[string], { seq: number; record_hash: string }>;
  private readonly byPacketId: Statement<[string], AttendanceLogRow>;
  private readonly chainPage: Statement<[string, number, number], AttendanceLogRow>;
  /** The columns a link's hashed text is made of, as arrays (`raw`): verify and export read every link. */
  private readonly chainTextPage: Statement<[string, number, number], StoredTextColumns>;
  /**
   * Prepared on first use, then reused: one statement for a batch of keys (a JSON array of
   * [workerId, atMs, packetId]), each key one seek of the (worker, time, packetId) index.
   * `at <= ?` is the index range (a row-value comparison would not seek on the second
   * column); the OR only breaks ties at the same instant.
   */
  private previousOfWorkers?: Statement<[string], AttendanceLogRow & { k: number }>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('offline-sync.ledger', LEDGER_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.insert = this.db.prepare(
      `INSERT INTO attendance_logs (site_id, seq, packet_id, prev_hash, record_hash, data, meta)
       VALUES (@site_id, @seq, @packet_id, @prev_hash, @record_hash, @data, @meta)
       ON CONFLICT (packet_id) DO NOTHING`,
    );
    this.head = this.db.prepare(
      'SELECT seq, record_hash FROM attendance_logs WHERE site_id = ? ORDER BY seq DESC LIMIT 1',
    );
    this.byPacketId = this.db.prepare('SELECT * FROM attendance_logs WHERE packet_id = ?');
    this.chainPage = this.db.prepare(
      'SELECT * FROM attendance_logs WHERE site_id = ? AND seq > ? ORDER BY seq LIMIT ?',
    );
    this.chainTextPage = this.db
      .prepare<[string, number, number], StoredTextColumns>(
        `SELECT site_id, seq, prev_hash, record_hash, data, meta FROM attendance_logs
         WHERE site_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
      )
      .raw(true);
  }

  async appendToChains(entries: PendingLogEntry[]): Promise<AppendResult[]> {
    if (entries.length === 0) return [];
    return appendImmediate(this.db, (): AppendResult[] => {
      const heads = new Map<string, { seq: number; recordHash: string }>();
      return entries.map((entry): AppendResult => {
        let head = heads.get(entry.siteId);
        if (!head) {
          const row = this.head.get(entry.siteId);
          head = row ? { seq: row.seq, recordHash: row.record_hash } : EMPTY_HEAD;
        }
        const link = canonicalLinkAfter(head, entry);
        if (this.insert.run(Mapper.fromCanonical(link)).changes === 0) {
          // the packetId is stored already (earlier, or earlier in this call)
          const existing = this.byPacketId.get(entry.packetId)!;
          return { status: 'duplicate', log: Mapper.toDomain(existing) };
        }
        heads.set(entry.siteId, { seq: link.log.seq, recordHash: link.log.recordHash });
        return { status: 'appended', log: link.log };
      });
    });
  }

  async findByPacketIds(packetIds: string[]): Promise<Map<string, AttendanceLog>> {
    const found = new Map<string, AttendanceLog>();
    for (const id of new Set(packetIds)) {
      const row = this.byPacketId.get(id);
      if (row) found.set(id, Mapper.toDomain(row));
    }
    return found;
  }

  async readRecordHashes(siteId: string, fromSeq: number, toSeq: number): Promise<string[]> {
    return this.db
      .prepare<[string, number, number], { record_hash: string }>(
        'SELECT record_hash FROM attendance_logs WHERE site_id = ? AND seq BETWEEN ? AND ? ORDER BY seq',
      )
      .all(siteId, fromSeq, toSeq)
      .map((r) => r.record_hash);
  }

  async readChain(siteId: string, afterSeq: number, limit: number): Promise<AttendanceLog[]> {
    return this.chainPage.all(siteId, afterSeq, limit).map(Mapper.toDomain);
  }

  /** The data and meta columns hold the JCS texts that were hashed: handed over as stored. */
  async readChainTexts(siteId: string, afterSeq: number, limit: number): Promise<StoredLinkText[]> {
    return this.chainTextPage.all(siteId, afterSeq, limit).map(Mapper.fromTextColumns);
  }

  async findPreviousOfWorkers(keys: PreviousKey[]): Promise<(AttendanceLog | undefined)[]> {
    const found: (AttendanceLog | undefined)[] = keys.map(() => undefined);
    if (keys.length === 0) return found;
    const rows = (this.previousOfWorkers ??= this.db.prepare<
      [string],
      AttendanceLogRow & { k: number }
    >(
      `WITH q (k, worker_id, at, packet_id) AS (
         SELECT key, value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)
       )
       SELECT q.k AS k, l.* FROM q JOIN attendance_logs l ON l.packet_id = (
         SELECT p.packet_id FROM attendance_logs p
         WHERE ${PACKET_WORKER.replace('data', 'p.data')} = q.worker_id
           AND ${PACKET_AT_MS.replace('data', 'p.data')} <= q.at
           AND (${PACKET_AT_MS.replace('data', 'p.data')} < q.at OR p.packet_id < q.packet_id)
         ORDER BY ${PACKET_AT_MS.replace('data', 'p.data')} DESC, p.packet_id DESC LIMIT 1
       )`,
    )).all(JSON.stringify(keys.map((k) => [k.workerId, k.at.getTime(), k.packetId])));
    for (const row of rows) found[row.k] = Mapper.toDomain(row);
    return found;
  }

  async listWorkersOfDevices(deviceIds: string[], from: Date, to: Date): Promise<string[]> {
    const workers = new Set<string>();
    const query = this.db.prepare<[string, number, number], { worker_id: string }>(
      `SELECT DISTINCT ${PACKET_WORKER} AS worker_id FROM attendance_logs
       WHERE ${PACKET_DEVICE} = ? AND ${PACKET_AT_MS} BETWEEN ? AND ?`,
    );
    for (const deviceId of new Set(deviceIds)) {
      for (const row of query.all(deviceId, from.getTime(), to.getTime()))
        workers.add(row.worker_id);
    }
    return [...workers].sort();
  }
}
