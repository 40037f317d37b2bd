import { Injectable, Optional } from '@nestjs/common';
import type { Database, Statement, Transaction } from 'better-sqlite3';
import { LimitedStatement, SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { TimesheetDay } from '../../../../domain/timesheet-day';
import { TimesheetEntry } from '../../../../domain/timesheet-entry';
import {
  DAY_PAGE_MAX_WORKERS,
  DayPage,
  DayQuery,
  DayReplacement,
  keyIds,
  PendingDays,
  RebuildMark,
  SeqRange,
  TimesheetRepository,
} from '../../timesheet.repository';
import { rebuildingError } from '../../../../timesheets.errors';
import { TIMESHEETS_SQLITE_MIGRATIONS } from '../timesheets.migrations';
import {
  TIMESHEET_ENTRY_COLUMNS,
  TimesheetEntryRow,
  TimesheetSqliteMapper,
} from '../mappers/timesheet.mapper';
import { dayFromBody, dayToBody } from '../../timesheet-stored';
import { TamperedRow, TimesheetSeal, TimesheetsTamperedError } from '../../timesheet-seal';

/**
 * Rows per multi-row INSERT (15 parameters a row: 7,500 for 500, far below SQLite's 32,766): a
 * sync batch's 500 entries are one statement run.
 */
const INSERT_ROWS = [500, 100, 10, 1];

/** Parameters of an entry's row: its columns (TIMESHEET_ENTRY_COLUMNS), then its tag. */
const ROW_PARAMS = TIMESHEET_ENTRY_COLUMNS.split(',').length + 1;

/** A page of one site's entries after a seq. */
export const TIMESHEET_ENTRY_PAGE_SQL =
  'SELECT * FROM timesheet_entries WHERE site_id = ? AND seq > ? ORDER BY seq LIMIT ?';

/** The site's highest stored seq: one seek of the primary key (a correction's lag check). */
export const TIMESHEET_MAX_SEQ_SQL =
  'SELECT MAX(seq) AS maxSeq FROM timesheet_entries WHERE site_id = ?';

/**
 * A worker's punch-like entries at a site in a time range, in (effective_at, seq) order: one
 * seek of `timesheet_entries_worker_time` (the worker's punches at every site in the range,
 * which a recompute reads anyway: TIMESHEET_OTHER_SITE_PUNCHES_SQL), the site a filter. Its
 * order is the index's (effective_at, then the table's key: site_id, seq), and the site is one
 * value, so no sort; `+site_id` keeps SQLite from taking the site's term out of the ORDER BY as
 * a constant (it then sorted each run of equal times by seq). Migration 9 dropped the index
 * this read had of its own (`timesheet_entries_worker_at`): every entry stored wrote both.
 * Exported for the query-plan spec.
 */
export const TIMESHEET_PUNCHES_SQL = `SELECT * FROM timesheet_entries
  INDEXED BY timesheet_entries_worker_time
  WHERE worker_id = ? AND punch_type IS NOT NULL AND effective_at >= ? AND effective_at < ?
    AND +site_id = ?
  ORDER BY effective_at, site_id, seq`;

/**
 * TIMESHEET_PUNCHES_SQL without a range of seqs (the entries a recompute holds): seq is in the
 * index (the key of a WITHOUT ROWID table), so the rows left out are never read. Exported for
 * the query-plan spec.
 */
export const TIMESHEET_PUNCHES_EXCEPT_SQL = `SELECT * FROM timesheet_entries
  INDEXED BY timesheet_entries_worker_time
  WHERE worker_id = ? AND punch_type IS NOT NULL AND effective_at >= ? AND effective_at < ?
    AND +site_id = ? AND (seq < ? OR seq > ?)
  ORDER BY effective_at, site_id, seq`;

/**
 * A worker's punch-like entries at the other sites in a time range: one seek of
 * `timesheet_entries_worker_time` (migration 6), in its order. Exported for the query-plan spec.
 */
export const TIMESHEET_OTHER_SITE_PUNCHES_SQL = `SELECT * FROM timesheet_entries
  INDEXED BY timesheet_entries_worker_time
  WHERE worker_id = ? AND punch_type IS NOT NULL AND effective_at >= ? AND effective_at < ?
    AND site_id <> ?
  ORDER BY effective_at, site_id, seq`;

/**
 * A recompute's punches of a worker (`listRecomputePunches`): TIMESHEET_OTHER_SITE_PUNCHES_SQL
 * and TIMESHEET_PUNCHES_EXCEPT_SQL in one seek of `timesheet_entries_worker_time` over the span
 * of both ranges (@from..@to), in its order: the other sites' rows in their range, the site's own
 * rows in theirs without a range of seqs (the entries the recompute holds; an empty range,
 * @fromSeq > @toSeq, leaves none out). Every term but the worker's is on the index's columns
 * (the table's key is in it), so the rows left out are never read. Exported for the query-plan
 * spec.
 */
export const TIMESHEET_RECOMPUTE_PUNCHES_SQL = `SELECT * FROM timesheet_entries
  INDEXED BY timesheet_entries_worker_time
  WHERE worker_id = @worker AND punch_type IS NOT NULL AND effective_at >= @from AND effective_at < @to
    AND (
      (site_id <> @site AND effective_at >= @othersFrom AND effective_at < @othersTo)
      OR (site_id = @site AND effective_at >= @ownFrom AND effective_at < @ownTo
        AND (seq < @fromSeq OR seq > @toSeq))
    )
  ORDER BY effective_at, site_id, seq`;

/**
 * The corrections of entries (their seqs a JSON array): one seek of `timesheet_entries_target`
 * per seq. Written `SELECT ... WHERE target_seq IN (?, ...) ORDER BY seq`, SQLite read the
 * site's every entry in seq order (the primary key, for the ORDER BY) and filtered them: each
 * read of a correction tree, and each recompute's check of its entries' states, cost the
 * site's size. Sorted by the caller. Exported for the query-plan spec.
 */
export const TIMESHEET_CORRECTIONS_OF_SQL = `SELECT * FROM timesheet_entries
  INDEXED BY timesheet_entries_target
  WHERE site_id = ? AND target_seq IN (SELECT value FROM json_each(?))`;

/**
 * A worker's first day in the period, from the key index (NULL: none), for the join of its
 * days: `worker` is the column of the worker's id.
 */
const firstDayOf = (worker: string) =>
  `(SELECT f.day FROM timesheet_days f INDEXED BY timesheet_days_keys
        WHERE f.site_id = @site AND f.worker_id = ${worker} AND f.day >= @from AND f.day <= @to
        ORDER BY f.day LIMIT 1)`;

/**
 * The statements of a page of days: a skip-scan of the (site_id, worker_id, day) key. Each
 * row is a worker and one of its days in the period, or the worker and NULLs when it has none
 * there; in key order (the plan's nested loops: the query-plan spec holds them to it, and
 * `listDays` checks the order it reads). Exported so the query-plan spec checks them.
 *
 * The next worker and a worker's first day in the period are sought in `timesheet_days_keys`
 * (migration 3: the key without the body; why, docs/architecture.md, "Pages of worker-days"),
 * with `INDEXED BY` (fails when prepared if it cannot be used); a worker's days are then read on
 * the primary key from that first day, and a worker with none (NULL) is not sought in the table.
 * The query-plan spec holds the reads of days to the primary key (SQLite ignores `NOT INDEXED`
 * on a WITHOUT ROWID table); the page-reads spec shows an empty period reads no table page.
 */
export const TIMESHEET_DAY_SQL = {
  /** The site's workers after @worker, found one seek past the last (lazily, as read). */
  siteDays: `WITH RECURSIVE workers(id) AS (
      SELECT (SELECT worker_id FROM timesheet_days INDEXED BY timesheet_days_keys
              WHERE site_id = @site AND worker_id > @worker ORDER BY worker_id LIMIT 1)
      UNION ALL
      SELECT (SELECT worker_id FROM timesheet_days INDEXED BY timesheet_days_keys
              WHERE site_id = @site AND worker_id > workers.id ORDER BY worker_id LIMIT 1)
      FROM workers WHERE workers.id IS NOT NULL
    )
    SELECT workers.id, d.day, d.body, d.worked_seconds, d.tag FROM workers
    LEFT JOIN timesheet_days d
      ON d.site_id = @site AND d.worker_id = workers.id
        AND d.day >= ${firstDayOf('workers.id')} AND d.day <= @to
    WHERE workers.id IS NOT NULL`,
  /** The workers of @crew, a JSON array of ids in key order. */
  crewDays: `SELECT crew.value, d.day, d.body, d.worked_seconds, d.tag FROM json_each(@crew) AS crew
    LEFT JOIN timesheet_days d
      ON d.site_id = @site AND d.worker_id = crew.value
        AND d.day >= ${firstDayOf('crew.value')} AND d.day <= @to`,
  /** The cursor's worker: its days after the cursor's day (each read is returned, or the end). */
  workerDaysAfter: `SELECT worker_id, day, body, worked_seconds, tag FROM timesheet_days
    WHERE site_id = @site AND worker_id = @worker AND day > @after AND day <= @to ORDER BY day`,
} as const;

/** Parameters of TIMESHEET_RECOMPUTE_PUNCHES_SQL. */
interface RecomputePunchParams {
  worker: string;
  site: string;
  from: number;
  to: number;
  ownFrom: number;
  ownTo: number;
  othersFrom: number;
  othersTo: number;
  fromSeq: number;
  toSeq: number;
}

/** Parameters of TIMESHEET_DAY_SQL (each statement names those it uses). */
interface DayParams {
  site: string;
  from?: string;
  to: string;
  worker?: string;
  after?: string;
  crew?: string;
}

/**
 * A row of TIMESHEET_DAY_SQL: worker, then day, body, worked seconds and tag (NULL: no day in
 * the period).
 */
type DayRow = [
  workerId: string,
  day: string | null,
  body: string | null,
  workedSeconds: number | null,
  tag: string | null,
];

interface RebuildRow {
  site_id: string;
  generation: number;
  owner: string;
  expires_at: number;
}

function markOf(row: RebuildRow): RebuildMark {
  return {
    siteId: row.site_id,
    generation: row.generation,
    owner: row.owner,
    expiresAt: row.expires_at,
  };
}

/**
 * SQLite adapter: a day's body is its JSON; replacing a worker's days is one transaction. Every
 * write of a site's entries, states or days checks, inside its transaction, that no other
 * process's rebuild holds a live mark on the site (`timesheets_rebuilding`, rolled back): a
 * rebuild is another writer process, and a write of this one between its clear and its refill
 * would be unconditional days from a partial read model.
 */
@Injectable()
export class SqliteTimesheetRepository extends TimesheetRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;
  /**
   * Multi-row INSERT OR IGNOREs, one for each count of INSERT_ROWS, each prepared on its first
   * use (`insertOf`): compiling the 500-row one (7,500 parameters) took ~8 ms of every boot
   * that writes no entry (docs/benchmarks.md, "bootcpu"). The 1-row one is prepared here, so a
   * table without these columns still fails the boot.
   */
  private readonly inserts: Array<Statement | undefined>;
  private readonly updateState: Statement;
  private readonly insertDay: Statement;
  private readonly deleteDays: Statement;
  private readonly punches: Statement<[string, number, number, string], TimesheetEntryRow>;
  private readonly punchesExcept: Statement<
    [string, number, number, string, number, number],
    TimesheetEntryRow
  >;
  private readonly otherSitePunches: Statement<[string, number, number, string], TimesheetEntryRow>;
  private readonly recomputePunches: Statement<[RecomputePunchParams], TimesheetEntryRow>;
  private readonly correctionsOf: Statement<[string, string], TimesheetEntryRow>;
  private readonly markPending: Statement<[string, string, number, number]>;
  private readonly settlePending: Statement<[string, string, number, number]>;
  /** The listing of entries, prepared per page size with the limit written in (`LimitedStatement`). */
  private readonly entryPage: LimitedStatement<[string, number], TimesheetEntryRow>;
  /** The skip-scan of a page of days (TIMESHEET_DAY_SQL), rows as arrays. */
  private readonly siteDays: Statement<[DayParams], DayRow>;
  private readonly crewDays: Statement<[DayParams], DayRow>;
  private readonly workerDaysAfter: Statement<[DayParams], DayRow>;
  private readonly rebuildRow: Statement<[string], RebuildRow>;
  /** insertEntries' statements in one BEGIN IMMEDIATE transaction. */
  private readonly insertWrite: Transaction<
    (
      entries: TimesheetEntry[],
      pending: PendingDays[],
      states: TimesheetEntry[],
      runs: { statement: Statement; args: unknown[] }[],
      stateRows: (TimesheetEntryRow & { tag: string | null })[],
    ) => number
  >['immediate'];
  /** The rebuild marks this repository holds: siteId → generation (`startRebuild`). */
  private readonly held = new Map<string, number>();

  /**
   * Tags the rows it writes and checks those it reads (absent, in a spec or bench that builds
   * the repository alone: rows are written untagged and read unchecked).
   */
  private readonly seal?: TimesheetSeal;

  constructor(store: SqliteStoreHandle, @Optional() seal?: TimesheetSeal) {
    super();
    this.seal = seal;
    store.migrate('timesheets', TIMESHEETS_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.entryPage = new LimitedStatement(this.db, TIMESHEET_ENTRY_PAGE_SQL);
    const days = (sql: string) => this.db.prepare<[DayParams], DayRow>(sql).raw(true);
    this.siteDays = days(TIMESHEET_DAY_SQL.siteDays);
    this.crewDays = days(TIMESHEET_DAY_SQL.crewDays);
    this.workerDaysAfter = days(TIMESHEET_DAY_SQL.workerDaysAfter);
    // one statement per row count (INSERT_ROWS): a 500-entry batch is one statement run, not 500
    this.inserts = INSERT_ROWS.map((rows) => (rows === 1 ? this.prepareInsert(rows) : undefined));
    this.updateState = this.db.prepare(
      `UPDATE timesheet_entries SET effective_at = @effective_at, voided = @voided, corrected_by = @corrected_by,
         tag = @tag
       WHERE site_id = @site_id AND seq = @seq`,
    );
    this.insertDay = this.db.prepare(
      `INSERT INTO timesheet_days (site_id, worker_id, day, worked_seconds, body, tag) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.deleteDays = this.db.prepare(
      'DELETE FROM timesheet_days WHERE site_id = ? AND worker_id = ? AND day >= ? AND day <= ?',
    );
    this.punches = this.db.prepare(TIMESHEET_PUNCHES_SQL);
    this.punchesExcept = this.db.prepare(TIMESHEET_PUNCHES_EXCEPT_SQL);
    this.otherSitePunches = this.db.prepare(TIMESHEET_OTHER_SITE_PUNCHES_SQL);
    this.recomputePunches = this.db.prepare(TIMESHEET_RECOMPUTE_PUNCHES_SQL);
    this.correctionsOf = this.db.prepare(TIMESHEET_CORRECTIONS_OF_SQL);
    this.markPending = this.db.prepare(
      `INSERT INTO timesheet_pending_days (site_id, worker_id, min_at, max_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (site_id, worker_id) DO UPDATE
       SET min_at = MIN(min_at, excluded.min_at), max_at = MAX(max_at, excluded.max_at)`,
    );
    this.rebuildRow = this.db.prepare('SELECT * FROM timesheet_rebuilds WHERE site_id = ?');
    // BEGIN IMMEDIATE; the wrapper made once, not per batch
    this.insertWrite = this.db.transaction(
      (
        entries: TimesheetEntry[],
        pending: PendingDays[],
        states: TimesheetEntry[],
        runs: { statement: Statement; args: unknown[] }[],
        stateRows: (TimesheetEntryRow & { tag: string | null })[],
      ): number => {
        this.mark(pending);
        let stored = 0;
        for (const { statement, args } of runs) stored += statement.run(args).changes;
        for (const row of stateRows) this.updateState.run(row);
        this.refuseIfRebuilt(entries, states, pending);
        return stored;
      },
    ).immediate;
    this.settlePending = this.db.prepare(
      `DELETE FROM timesheet_pending_days
       WHERE site_id = ? AND worker_id = ? AND min_at >= ? AND max_at <= ?`,
    );
  }

  async insertEntries(
    entries: TimesheetEntry[],
    pending: PendingDays[] = [],
    states: TimesheetEntry[] = [],
  ): Promise<number> {
    // the rows and their tags (an HMAC each) made before the write turn: the turn is the
    // process's one writer at a time (the ledger's append thread waits for it), so it holds only
    // the statements
    const runs = this.insertRuns(entries);
    const stateRows = states.map((e) => this.stateRow(e));
    return this.turns.write(() => this.insertWrite(entries, pending, states, runs, stateRows));
  }

  /**
   * The INSERT OR IGNOREs of the entries, each with its rows' parameters (tags included), as
   * few statement runs as INSERT_ROWS allows.
   */
  private insertRuns(entries: TimesheetEntry[]): { statement: Statement; args: unknown[] }[] {
    const runs: { statement: Statement; args: unknown[] }[] = [];
    let i = 0;
    INSERT_ROWS.forEach((rows, k) => {
      for (; entries.length - i >= rows; i += rows) {
        // the run's parameters in one array of its final length, written in place
        const args = new Array<unknown>(rows * ROW_PARAMS);
        for (let j = 0; j < rows; j++) {
          const e = entries[i + j];
          const at = TimesheetSqliteMapper.writeColumns(args, j * ROW_PARAMS, e);
          args[at] = this.seal ? this.seal.entryTag(e) : null;
        }
        runs.push({ statement: (this.inserts[k] ??= this.prepareInsert(rows)), args });
      }
    });
    return runs;
  }

  /** The INSERT OR IGNORE of `rows` entries' rows. */
  private prepareInsert(rows: number): Statement {
    const row = `(${Array(ROW_PARAMS).fill('?').join(', ')})`;
    return this.db.prepare(
      `INSERT OR IGNORE INTO timesheet_entries (${TIMESHEET_ENTRY_COLUMNS}, tag) VALUES ${Array(rows).fill(row).join(', ')}`,
    );
  }

  /** An entry's row for `updateState`, with its tag. */
  private stateRow(e: TimesheetEntry): TimesheetEntryRow & { tag: string | null } {
    return {
      ...TimesheetSqliteMapper.toPersistence(e),
      tag: this.seal ? this.seal.entryTag(e) : null,
    };
  }

  /** Entries of rows read, each row's tag checked (`timesheets_tampered` when one fails). */
  private entriesOf(siteId: string, rows: TimesheetEntryRow[]): TimesheetEntry[] {
    const entries = rows.map(TimesheetSqliteMapper.toDomain);
    if (!this.seal) return entries;
    return this.seal.checkEntries(
      siteId,
      entries,
      rows.map((r) => (r as TimesheetEntryRow & { tag: unknown }).tag),
    );
  }

  private mark(pending: PendingDays[]): void {
    for (const p of pending) this.markPending.run(p.siteId, p.workerId, p.min, p.max);
  }

  async updateEntryStates(entries: TimesheetEntry[], pending: PendingDays[] = []): Promise<void> {
    const rows = entries.map((e) => this.stateRow(e));
    await this.turns.write(() =>
      this.db
        .transaction(() => {
          this.mark(pending);
          rows.forEach((row) => this.updateState.run(row));
          this.refuseIfRebuilt(entries, pending);
        })
        .immediate(),
    );
  }

  async listPending(
    limit: number,
    after?: { siteId: string; workerId: string },
    siteId?: string,
  ): Promise<PendingDays[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (siteId !== undefined) {
      where.push('site_id = ?');
      args.push(siteId);
    }
    if (after) {
      where.push('(site_id > ? OR (site_id = ? AND worker_id > ?))');
      args.push(after.siteId, after.siteId, after.workerId);
    }
    // the projector's walk, not a request; LIMIT stays bound: EXPLAIN shows this keyset (an OR
    // on the primary key) as two index ranges and a sort with the limit written in, as a scan
    // in key order with it bound, and which one runs today is not known (see docs/benchmarks.md)
    return this.db
      .prepare<unknown[], PendingDays>(
        `SELECT site_id AS siteId, worker_id AS workerId, min_at AS min, max_at AS max
         FROM timesheet_pending_days ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY site_id, worker_id LIMIT ?`,
      )
      .all(...args, limit);
  }

  async findEntries(siteId: string, seqs: number[]): Promise<TimesheetEntry[]> {
    return this.inChunks(siteId, seqs, (chunk) =>
      this.db
        .prepare<unknown[], TimesheetEntryRow>(
          `SELECT * FROM timesheet_entries WHERE site_id = ? AND seq IN (${chunk.map(() => '?').join(',')}) ORDER BY seq`,
        )
        .all(siteId, ...chunk),
    );
  }

  async findCorrectionsOf(siteId: string, seqs: number[]): Promise<TimesheetEntry[]> {
    if (seqs.length === 0) return [];
    const rows = this.correctionsOf.all(siteId, JSON.stringify([...new Set(seqs)]));
    return this.entriesOf(siteId, rows).sort((a, b) => a.seq - b.seq);
  }

  async listPunches(
    siteId: string,
    workerId: string,
    fromMs: number,
    toMs: number,
    except?: SeqRange,
  ): Promise<TimesheetEntry[]> {
    const rows = except
      ? this.punchesExcept.all(workerId, fromMs, toMs, siteId, except.fromSeq, except.toSeq)
      : this.punches.all(workerId, fromMs, toMs, siteId);
    return this.entriesOf(siteId, rows);
  }

  async listOtherSitePunches(
    siteId: string,
    workerId: string,
    fromMs: number,
    toMs: number,
  ): Promise<TimesheetEntry[]> {
    const rows = this.otherSitePunches.all(workerId, fromMs, toMs, siteId);
    if (!this.seal) return rows.map(TimesheetSqliteMapper.toDomain);
    // each row is checked under its own site (a tampered row names its site)
    return rows.map((r) => this.entriesOf(r.site_id, [r])[0]);
  }

  async listRecomputePunches(
    siteId: string,
    workerId: string,
    own: { fromMs: number; toMs: number },
    others: { fromMs: number; toMs: number },
    except?: SeqRange,
  ): Promise<{ own: TimesheetEntry[]; others: TimesheetEntry[] }> {
    const rows = this.recomputePunches.all({
      worker: workerId,
      site: siteId,
      from: Math.min(own.fromMs, others.fromMs),
      to: Math.max(own.toMs, others.toMs),
      ownFrom: own.fromMs,
      ownTo: own.toMs,
      othersFrom: others.fromMs,
      othersTo: others.toMs,
      // no range left out: an empty one (every seq is below it or above it)
      fromSeq: except ? except.fromSeq : 1,
      toSeq: except ? except.toSeq : 0,
    });
    const ownRows: TimesheetEntryRow[] = [];
    const otherRows: TimesheetEntryRow[] = [];
    for (const row of rows) (row.site_id === siteId ? ownRows : otherRows).push(row);
    const ownEntries = this.entriesOf(siteId, ownRows);
    // each other site's row is checked under its own site (a tampered row names its site)
    const otherEntries = this.seal
      ? otherRows.map((r) => this.entriesOf(r.site_id, [r])[0])
      : otherRows.map(TimesheetSqliteMapper.toDomain);
    return { own: ownEntries, others: otherEntries };
  }

  async listEntries(siteId: string, afterSeq: number, limit: number): Promise<TimesheetEntry[]> {
    return this.entriesOf(siteId, this.entryPage.all([siteId, afterSeq], limit));
  }

  async maxSeq(siteId: string): Promise<number> {
    const row = this.db
      .prepare<[string], { maxSeq: number | null }>(TIMESHEET_MAX_SEQ_SQL)
      .get(siteId)!;
    return row.maxSeq ?? 0;
  }

  async progress(siteId: string): Promise<{ maxSeq: number; count: number }> {
    const row = this.db
      .prepare<[string], { maxSeq: number | null; count: number }>(
        // the seqs links have only (integers from 1): a row at 0, below or between two seqs
        // (1.5, a REAL in the INTEGER column) neither hides a deleted row nor makes a hole
        "SELECT MAX(seq) AS maxSeq, COUNT(*) AS count FROM timesheet_entries WHERE site_id = ? AND seq >= 1 AND typeof(seq) = 'integer'",
      )
      .get(siteId)!;
    return { maxSeq: row.maxSeq ?? 0, count: row.count };
  }

  async countThrough(siteId: string, seq: number): Promise<{ count: number; between: number }> {
    const row = this.db
      .prepare<[string, number], { count: number | null; others: number | null }>(
        // a REAL in the INTEGER column is a seq between two (1.5); 2.0 is stored as 2
        "SELECT SUM(typeof(seq) = 'integer') AS count, SUM(typeof(seq) <> 'integer') AS others FROM timesheet_entries WHERE site_id = ? AND seq >= 1 AND seq <= ?",
      )
      .get(siteId, seq)!;
    return { count: row.count ?? 0, between: row.others ?? 0 };
  }

  async listSeqs(
    siteId: string,
    afterSeq: number,
    throughSeq: number,
    limit: number,
  ): Promise<number[]> {
    return this.db
      .prepare<[string, number, number, number], { seq: number }>(
        "SELECT seq FROM timesheet_entries WHERE site_id = ? AND seq > ? AND seq <= ? AND typeof(seq) = 'integer' ORDER BY seq LIMIT ?",
      )
      .all(siteId, afterSeq, throughSeq, limit)
      .map((r) => r.seq);
  }

  async replaceDays(replacements: DayReplacement[]): Promise<void> {
    // each day's body and tag made before the write turn (as insertEntries' rows)
    const rows = replacements.map((r) =>
      r.days.map((d) => {
        const body = dayToBody(d);
        const tag = this.seal
          ? this.seal.dayTag(r.siteId, r.workerId, d.day, d.workedSeconds, body)
          : null;
        return [r.siteId, r.workerId, d.day, d.workedSeconds, body, tag] as const;
      }),
    );
    await this.turns.write(() =>
      this.db
        .transaction(() => {
          replacements.forEach((r, i) => {
            this.deleteDays.run(r.siteId, r.workerId, r.fromDay, r.toDay);
            if (r.others) this.mark(r.others);
            if (r.settles)
              this.settlePending.run(r.siteId, r.workerId, r.settles.min, r.settles.max);
            for (const row of rows[i]) this.insertDay.run(...row);
          });
          this.refuseIfRebuilt(replacements);
        })
        .immediate(),
    );
  }

  async versionsOf(): Promise<Map<string, number>> {
    return new Map();
  }

  async pendingBasis(): Promise<Map<string, string>> {
    return new Map();
  }

  /**
   * A skip-scan: per worker one seek of its days in the period, the next worker by one seek
   * past the last (a crew's workers as given): a page reads the days it returns and, a worker
   * it visits, two seeks of the key index (and a worker with days, the row past its last),
   * whatever the site's history and however fat its days' bodies (TIMESHEET_DAY_SQL). Before visiting a worker past `maxWorkers` the page
   * stops, short, with a `next` past the last one visited (its worker and the period's last
   * day). The cursor's worker first: its days after the cursor.
   */
  async listDays(q: DayQuery): Promise<DayPage> {
    const maxWorkers = q.maxWorkers ?? DAY_PAGE_MAX_WORKERS;
    for (const [name, n] of [
      ['limit', q.limit],
      ['maxWorkers', maxWorkers],
    ] as const) {
      if (!Number.isSafeInteger(n) || n < 1) {
        throw new RangeError(`listDays: ${name} must be a positive integer, got ${n}`);
      }
    }
    const days: TimesheetDay[] = [];
    const params: DayParams = { site: q.siteId, from: q.fromDay, to: q.toDay, worker: '' };
    const after = q.after;
    // the cursor's worker, unless its day is the period's last (then it is done: a short
    // page's cursor, and the page starts at the next worker, so every page visits one more)
    let resume = after !== undefined && after.day < q.toDay;
    let crew: string[] | undefined;
    if (q.workerIds) {
      crew = crewFrom(q.workerIds, after?.workerId);
      if (after !== undefined && crew[0] === after.workerId) crew = crew.slice(1);
      else resume = false;
    }
    // read one after the other (an open iterator keeps the connection busy)
    const rows: Array<() => Iterable<DayRow>> = [];
    if (after) {
      params.worker = after.workerId;
      if (resume && after.day >= q.fromDay) {
        rows.push(() => this.workerDaysAfter.iterate({ ...params, after: after.day }));
      } else if (resume) {
        // a cursor before the period: the worker's days from its start
        rows.push(() =>
          this.crewDays.iterate({ ...params, crew: JSON.stringify([after.workerId]) }),
        );
      }
    }
    if (!crew) {
      rows.push(() => this.siteDays.iterate(params));
    } else if (crew.length > 0) {
      // one worker more than a page visits: whether there is one after the last visited
      const visit = crew.slice(0, maxWorkers + 1);
      rows.push(() => this.crewDays.iterate({ ...params, crew: JSON.stringify(visit) }));
    }
    let visited = 0;
    let worker: string | undefined;
    let day = '';
    // rows whose tag fails: the page is refused whole (`timesheets_tampered`), naming them all
    const bad: TamperedRow[] = [];
    const done = (page: DayPage): DayPage => {
      if (bad.length > 0) throw new TimesheetsTamperedError(q.siteId, 'day', bad);
      return page;
    };
    for (const read of rows) {
      for (const [id, d, body, worked, tag] of read()) {
        if (id !== worker) {
          if (worker !== undefined && id <= worker) throw outOfOrder(worker, id);
          // a worker more than the page visits: the iterator is closed by the return
          if (visited === maxWorkers) {
            return done({ days, next: { workerId: worker!, day: q.toDay } });
          }
          visited += 1;
          worker = id;
          day = '';
        }
        if (body === null || d === null) continue;
        if (d <= day) throw outOfOrder(`${id} ${day}`, `${id} ${d}`);
        day = d;
        if (this.seal && !this.seal.dayOk(q.siteId, id, d, worked, body, tag)) {
          bad.push({ workerId: id, day: d });
        } else {
          days.push(dayFromBody(body, `${q.siteId}/${id}/${d}`));
        }
        if (days.length + bad.length === q.limit) {
          return done({ days, next: { workerId: id, day: d } });
        }
      }
    }
    return done({ days });
  }

  async sealKids(): Promise<string[] | 'malformed' | undefined> {
    const row = this.db
      .prepare<[], { kid: unknown; kids: unknown }>(
        'SELECT kid, kids FROM timesheet_seal WHERE id = 1',
      )
      .get();
    if (!row) return undefined;
    if (row.kids === null) return keyIds([row.kid]);
    if (typeof row.kids !== 'string') return 'malformed';
    try {
      return keyIds(JSON.parse(row.kids));
    } catch {
      return 'malformed';
    }
  }

  async addSealKid(kid: string): Promise<void> {
    // one statement (atomic across processes): the kid appended unless the list holds it; a
    // list from before migration 8 (NULL) is its one kid. No row: a reset stores one (a start
    // that found none resets first)
    await this.turns.write(() =>
      this.db
        .prepare(
          `UPDATE timesheet_seal SET kids = json_insert(COALESCE(kids, json_array(kid)), '$[#]', ?)
           WHERE id = 1 AND NOT EXISTS (
             SELECT 1 FROM json_each(COALESCE(timesheet_seal.kids, json_array(timesheet_seal.kid)))
             WHERE value = ?)`,
        )
        .run(kid, kid),
    );
  }

  async isEmpty(): Promise<boolean> {
    const any = this.db
      .prepare<[], { one: number }>(
        'SELECT 1 AS one FROM timesheet_entries UNION ALL SELECT 1 FROM timesheet_days UNION ALL SELECT 1 FROM timesheet_pending_days LIMIT 1',
      )
      .get();
    return any === undefined;
  }

  async resetAll(kid: string): Promise<void> {
    await this.turns.write(() =>
      this.db
        .transaction(() => {
          this.db.prepare('DELETE FROM timesheet_entries').run();
          this.db.prepare('DELETE FROM timesheet_days').run();
          this.db.prepare('DELETE FROM timesheet_pending_days').run();
          this.db
            .prepare(
              'INSERT INTO timesheet_seal (id, kid, kids) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET kid = excluded.kid, kids = excluded.kids',
            )
            .run(kid, JSON.stringify([kid]));
        })
        .immediate(),
    );
  }

  async clearSite(siteId: string): Promise<void> {
    await this.turns.write(() =>
      this.db
        .transaction(() => {
          this.db.prepare('DELETE FROM timesheet_entries WHERE site_id = ?').run(siteId);
          this.db.prepare('DELETE FROM timesheet_days WHERE site_id = ?').run(siteId);
          this.db.prepare('DELETE FROM timesheet_pending_days WHERE site_id = ?').run(siteId);
        })
        .immediate(),
    );
  }

  /**
   * Throws `timesheets_rebuilding` (in a write transaction, after its writes: they roll back)
   * when a site written is under another holder's live rebuild mark. Read in the transaction
   * that holds the write lock, so a mark committed before it is seen and one committed after
   * it comes before the rebuild's clear, which then removes this write's rows.
   */
  private refuseIfRebuilt(...written: { siteId: string }[][]): void {
    const sites = new Set<string>();
    for (const rows of written) for (const w of rows) sites.add(w.siteId);
    const now = Date.now();
    for (const siteId of sites) {
      const row = this.rebuildRow.get(siteId);
      if (row && row.expires_at > now && this.held.get(siteId) !== row.generation) {
        throw rebuildingError(row.expires_at, now);
      }
    }
  }

  async startRebuild(
    siteId: string,
    owner: string,
    expiresAt: number,
    now: number,
  ): Promise<RebuildMark | undefined> {
    const mark = await this.turns.write(() =>
      this.db
        .transaction((): RebuildMark | undefined => {
          const row = this.rebuildRow.get(siteId);
          if (row && row.expires_at > now) return undefined;
          this.db
            .prepare(
              `INSERT INTO timesheet_rebuilds (site_id, generation, owner, expires_at) VALUES (?, 1, ?, ?)
               ON CONFLICT (site_id) DO UPDATE
               SET generation = generation + 1, owner = excluded.owner, expires_at = excluded.expires_at`,
            )
            .run(siteId, owner, expiresAt);
          return markOf(this.rebuildRow.get(siteId)!);
        })
        // the read decides the write: the write lock first, so no other process is between
        .immediate(),
    );
    if (mark) this.held.set(siteId, mark.generation);
    return mark;
  }

  async renewRebuild(
    siteId: string,
    owner: string,
    generation: number,
    expiresAt: number,
  ): Promise<boolean> {
    const { changes } = await this.turns.write(() =>
      this.db
        .prepare(
          'UPDATE timesheet_rebuilds SET expires_at = ? WHERE site_id = ? AND owner = ? AND generation = ?',
        )
        .run(expiresAt, siteId, owner, generation),
    );
    return changes === 1;
  }

  async endRebuild(siteId: string, owner: string, generation: number): Promise<void> {
    await this.turns.write(() =>
      this.db
        .prepare(
          'UPDATE timesheet_rebuilds SET expires_at = 0 WHERE site_id = ? AND owner = ? AND generation = ?',
        )
        .run(siteId, owner, generation),
    );
    if (this.held.get(siteId) === generation) this.held.delete(siteId);
  }

  async rebuildMark(siteId: string): Promise<RebuildMark | undefined> {
    const row = this.rebuildRow.get(siteId);
    return row && markOf(row);
  }

  private inChunks(
    siteId: string,
    seqs: number[],
    query: (chunk: number[]) => TimesheetEntryRow[],
  ): TimesheetEntry[] {
    const out: TimesheetEntry[] = [];
    const unique = [...new Set(seqs)];
    for (let i = 0; i < unique.length; i += 500)
      out.push(...this.entriesOf(siteId, query(unique.slice(i, i + 500))));
    return out.sort((a, b) => a.seq - b.seq);
  }
}

/**
 * The crew's workers from `from` on (inclusive), in key order, once each. Worker ids are
 * ASCII (24-hex), so JavaScript's string order is SQLite's BINARY order.
 */
function crewFrom(workerIds: string[], from: string | undefined): string[] {
  let sorted = true;
  for (let k = 1; k < workerIds.length && sorted; k++) sorted = workerIds[k - 1] < workerIds[k];
  const ids = sorted ? workerIds : [...new Set(workerIds)].sort();
  if (from === undefined) return ids;
  // the first at or after `from` (binary search)
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid] < from) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? ids : ids.slice(lo);
}

/** A skip-scan row out of key order: the plan is not the one the statements were written for. */
function outOfOrder(before: string, then: string): Error {
  return new Error(`timesheet days: the page read ${then} after ${before} (not in key order)`);
}
