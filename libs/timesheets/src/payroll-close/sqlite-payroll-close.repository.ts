import { Injectable } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import {
  retagSqliteRow,
  SqliteMigration,
  SqliteStoreHandle,
  SqliteWriteTurns,
} from '@app/persistence';
import {
  closeIdOf,
  closeKeyOf,
  CloseResult,
  CloseRetagOutcome,
  closeRetagOutcome,
  CloseRetagPlan,
  PayrollClose,
  PayrollCloseRepository,
  parseWorkers,
} from './payroll-close.repository';

const PAYROLL_CLOSE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'payroll closes: the totals per worker a closed period was paid on',
    up: `
      CREATE TABLE payroll_closes (
        site_id TEXT NOT NULL,
        from_day TEXT NOT NULL,
        to_day TEXT NOT NULL,
        closed_at INTEGER NOT NULL,
        closed_by TEXT NOT NULL,
        workers TEXT NOT NULL,
        tag TEXT NOT NULL,
        PRIMARY KEY (site_id, from_day)
      ) WITHOUT ROWID;
    `,
  },
];

/**
 * The closes of a site overlapping a period: a range of the primary key (the site's closes
 * starting on or before its end), each kept if it ends on or after its start. Exported for the
 * query-plan spec.
 */
export const PAYROLL_CLOSES_OVERLAPPING_SQL = `SELECT * FROM payroll_closes
  WHERE site_id = ? AND from_day <= ? AND to_day >= ? ORDER BY from_day`;

/** A page of the site's closes, newest period first (the primary key, backwards). */
export const PAYROLL_CLOSES_PAGE_SQL = `SELECT * FROM payroll_closes
  WHERE site_id = ? AND from_day < ? ORDER BY from_day DESC LIMIT ?`;

/** `keys:retag`'s page: every site's closes after a (site, first day), by the primary key. */
export const PAYROLL_CLOSES_RETAG_PAGE_SQL = `SELECT site_id, from_day FROM payroll_closes
  WHERE (site_id, from_day) > (?, ?) ORDER BY site_id, from_day LIMIT ?`;

interface Row {
  site_id: string;
  from_day: string;
  to_day: string;
  closed_at: number;
  closed_by: string;
  workers: string;
  tag: string;
}

@Injectable()
export class SqlitePayrollCloseRepository extends PayrollCloseRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('timesheets.payroll_closes', PAYROLL_CLOSE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
  }

  async record(close: PayrollClose): Promise<CloseResult> {
    const overlapping = this.db.prepare<[string, string, string], Row>(
      PAYROLL_CLOSES_OVERLAPPING_SQL,
    );
    const insert = this.db.prepare(
      `INSERT INTO payroll_closes (site_id, from_day, to_day, closed_at, closed_by, workers, tag)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    // the check and the insert in one write turn: no other write of the store between them
    return this.turns.write((): CloseResult => {
      const [found] = overlapping.all(close.siteId, close.to, close.from);
      if (found) {
        const stored = fromRow(found);
        const same = stored.from === close.from && stored.to === close.to;
        return { status: same ? 'exists' : 'overlaps', close: stored };
      }
      insert.run(
        close.siteId,
        close.from,
        close.to,
        close.at,
        close.by,
        JSON.stringify(close.workers),
        close.tag,
      );
      return { status: 'closed', close };
    });
  }

  async overlapping(siteId: string, from: string, to: string): Promise<PayrollClose[]> {
    return this.db
      .prepare<[string, string, string], Row>(PAYROLL_CLOSES_OVERLAPPING_SQL)
      .all(siteId, to, from)
      .map(fromRow);
  }

  async list(siteId: string, limit: number, before?: string): Promise<PayrollClose[]> {
    return this.db
      .prepare<[string, string, number], Row>(PAYROLL_CLOSES_PAGE_SQL)
      .all(siteId, before ?? '\uffff', limit)
      .map(fromRow);
  }

  async retagIds(afterId: string, limit: number): Promise<string[]> {
    const after = afterId === '' ? { siteId: '', from: '' } : closeKeyOf(afterId);
    return this.db
      .prepare<[string, string, number], { site_id: string; from_day: string }>(
        PAYROLL_CLOSES_RETAG_PAGE_SQL,
      )
      .all(after.siteId, after.from, limit)
      .map((r) => closeIdOf(r.site_id, r.from_day));
  }

  async retag(
    id: string,
    plan: (close: PayrollClose) => CloseRetagPlan,
  ): Promise<CloseRetagOutcome> {
    const { siteId, from } = closeKeyOf(id);
    const read = this.db.prepare<[string, string], Row>(
      'SELECT * FROM payroll_closes WHERE site_id = ? AND from_day = ?',
    );
    const write = this.db.prepare(
      'UPDATE payroll_closes SET tag = ? WHERE site_id = ? AND from_day = ?',
    );
    const outcome = await retagSqliteRow(
      { db: this.db, turns: this.turns },
      {
        read: () => read.get(siteId, from),
        retag: (row) => {
          const made = plan(fromRow(row));
          return { outcome: closeRetagOutcome(id, made), tag: made.tag };
        },
        write: (tag) => write.run(tag, siteId, from),
      },
    );
    return outcome ?? { id, result: 'deleted' };
  }
}

function fromRow(r: Row): PayrollClose {
  return {
    siteId: r.site_id,
    from: r.from_day,
    to: r.to_day,
    at: r.closed_at,
    by: r.closed_by,
    workers: parseWorkers(r.workers),
    tag: r.tag,
  };
}
