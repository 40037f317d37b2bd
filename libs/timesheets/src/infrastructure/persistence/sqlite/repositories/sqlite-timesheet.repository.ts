import { Injectable } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import { SqliteStoreHandle } from '@app/persistence';
import { TimesheetDay } from '../../../../domain/timesheet-day';
import { TimesheetEntry } from '../../../../domain/timesheet-entry';
import { DayQuery, DayReplacement, TimesheetRepository } from '../../timesheet.repository';
import { TIMESHEETS_SQLITE_MIGRATIONS } from '../timesheets.migrations';

interface EntryRow {
  site_id: string;
  seq: number;
  worker_id: string;
  packet_id: string;
  kind: string;
  punch_type: string | null;
  action: string | null;
  target_seq: number | null;
  at: number | null;
  effective_at: number | null;
  voided: number;
  corrected_by: string;
  low_trust: number;
}

function toDomain(r: EntryRow): TimesheetEntry {
  return {
    siteId: r.site_id,
    seq: r.seq,
    workerId: r.worker_id,
    packetId: r.packet_id,
    kind: r.kind as TimesheetEntry['kind'],
    ...(r.punch_type ? { punchType: r.punch_type as TimesheetEntry['punchType'] } : {}),
    ...(r.action ? { action: r.action as TimesheetEntry['action'] } : {}),
    ...(r.target_seq !== null ? { targetSeq: r.target_seq } : {}),
    ...(r.at !== null ? { at: r.at } : {}),
    ...(r.effective_at !== null ? { effectiveAt: r.effective_at } : {}),
    voided: r.voided === 1,
    correctedBy: JSON.parse(r.corrected_by) as number[],
    lowTrust: r.low_trust === 1,
  };
}

function toRow(e: TimesheetEntry): EntryRow {
  return {
    site_id: e.siteId,
    seq: e.seq,
    worker_id: e.workerId,
    packet_id: e.packetId,
    kind: e.kind,
    punch_type: e.punchType ?? null,
    action: e.action ?? null,
    target_seq: e.targetSeq ?? null,
    at: e.at ?? null,
    effective_at: e.effectiveAt ?? null,
    voided: e.voided ? 1 : 0,
    corrected_by: JSON.stringify(e.correctedBy),
    low_trust: e.lowTrust ? 1 : 0,
  };
}

/** SQLite adapter: a day's body is its JSON; replacing a worker's days is one transaction. */
@Injectable()
export class SqliteTimesheetRepository extends TimesheetRepository {
  private readonly db: Database;
  private readonly insert: Statement;
  private readonly updateState: Statement;
  private readonly insertDay: Statement;
  private readonly deleteDays: Statement;
  private readonly punches: Statement<[string, string, number, number], EntryRow>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('timesheets', TIMESHEETS_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.insert = this.db.prepare(
      `INSERT OR IGNORE INTO timesheet_entries
         (site_id, seq, worker_id, packet_id, kind, punch_type, action, target_seq, at, effective_at, voided, corrected_by, low_trust)
       VALUES (@site_id, @seq, @worker_id, @packet_id, @kind, @punch_type, @action, @target_seq, @at, @effective_at, @voided, @corrected_by, @low_trust)`,
    );
    this.updateState = this.db.prepare(
      `UPDATE timesheet_entries SET effective_at = @effective_at, voided = @voided, corrected_by = @corrected_by
       WHERE site_id = @site_id AND seq = @seq`,
    );
    this.insertDay = this.db.prepare(
      `INSERT INTO timesheet_days (site_id, worker_id, day, worked_seconds, body) VALUES (?, ?, ?, ?, ?)`,
    );
    this.deleteDays = this.db.prepare(
      'DELETE FROM timesheet_days WHERE site_id = ? AND worker_id = ? AND day >= ? AND day <= ?',
    );
    this.punches = this.db.prepare(
      `SELECT * FROM timesheet_entries
       WHERE site_id = ? AND worker_id = ? AND punch_type IS NOT NULL AND effective_at >= ? AND effective_at < ?
       ORDER BY effective_at, seq`,
    );
  }

  async insertEntries(entries: TimesheetEntry[]): Promise<void> {
    this.db.transaction(() => entries.forEach((e) => this.insert.run(toRow(e))))();
  }

  async updateEntryStates(entries: TimesheetEntry[]): Promise<void> {
    this.db.transaction(() => entries.forEach((e) => this.updateState.run(toRow(e))))();
  }

  async findEntries(siteId: string, seqs: number[]): Promise<TimesheetEntry[]> {
    return this.inChunks(seqs, (chunk) =>
      this.db
        .prepare<unknown[], EntryRow>(
          `SELECT * FROM timesheet_entries WHERE site_id = ? AND seq IN (${chunk.map(() => '?').join(',')}) ORDER BY seq`,
        )
        .all(siteId, ...chunk),
    );
  }

  async findCorrectionsOf(siteId: string, seqs: number[]): Promise<TimesheetEntry[]> {
    return this.inChunks(seqs, (chunk) =>
      this.db
        .prepare<unknown[], EntryRow>(
          `SELECT * FROM timesheet_entries WHERE site_id = ? AND target_seq IN (${chunk.map(() => '?').join(',')}) ORDER BY seq`,
        )
        .all(siteId, ...chunk),
    );
  }

  async listPunches(siteId: string, workerId: string, fromMs: number, toMs: number) {
    return this.punches.all(siteId, workerId, fromMs, toMs).map(toDomain);
  }

  async listEntries(siteId: string, afterSeq: number, limit: number): Promise<TimesheetEntry[]> {
    return this.db
      .prepare<[string, number, number], EntryRow>(
        'SELECT * FROM timesheet_entries WHERE site_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      )
      .all(siteId, afterSeq, limit)
      .map(toDomain);
  }

  async progress(siteId: string): Promise<{ maxSeq: number; count: number }> {
    const row = this.db
      .prepare<[string], { maxSeq: number | null; count: number }>(
        'SELECT MAX(seq) AS maxSeq, COUNT(*) AS count FROM timesheet_entries WHERE site_id = ?',
      )
      .get(siteId)!;
    return { maxSeq: row.maxSeq ?? 0, count: row.count };
  }

  async replaceDays(replacements: DayReplacement[]): Promise<void> {
    this.db.transaction(() => {
      for (const r of replacements) {
        this.deleteDays.run(r.siteId, r.workerId, r.fromDay, r.toDay);
        for (const d of r.days) {
          this.insertDay.run(r.siteId, r.workerId, d.day, d.workedSeconds, JSON.stringify(d));
        }
      }
    })();
  }

  async listDays(q: DayQuery): Promise<TimesheetDay[]> {
    const where = ['site_id = ?', 'day >= ?', 'day <= ?'];
    const args: unknown[] = [q.siteId, q.fromDay, q.toDay];
    if (q.workerIds) {
      if (q.workerIds.length === 0) return [];
      where.push(`worker_id IN (${q.workerIds.map(() => '?').join(',')})`);
      args.push(...q.workerIds);
    }
    if (q.after) {
      where.push('(worker_id > ? OR (worker_id = ? AND day > ?))');
      args.push(q.after.workerId, q.after.workerId, q.after.day);
    }
    return this.db
      .prepare<unknown[], { body: string }>(
        `SELECT body FROM timesheet_days WHERE ${where.join(' AND ')} ORDER BY worker_id, day LIMIT ?`,
      )
      .all(...args, q.limit)
      .map((r) => JSON.parse(r.body) as TimesheetDay);
  }

  async clearSite(siteId: string): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM timesheet_entries WHERE site_id = ?').run(siteId);
      this.db.prepare('DELETE FROM timesheet_days WHERE site_id = ?').run(siteId);
    })();
  }

  private inChunks(seqs: number[], query: (chunk: number[]) => EntryRow[]): TimesheetEntry[] {
    const out: TimesheetEntry[] = [];
    const unique = [...new Set(seqs)];
    for (let i = 0; i < unique.length; i += 500)
      out.push(...query(unique.slice(i, i + 500)).map(toDomain));
    return out.sort((a, b) => a.seq - b.seq);
  }
}
