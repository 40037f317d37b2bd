import { Injectable } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import {
  readTransaction,
  retagSqliteRow,
  SqliteMigration,
  SqliteStoreHandle,
  SqliteWriteTurns,
} from '@app/persistence';
import {
  CloseChain,
  CloseHead,
  closeIdOf,
  ClosePlace,
  closeKeyOf,
  CloseLink,
  CloseResult,
  CloseRetagOutcome,
  closeRetagOutcome,
  CloseRetagPlan,
  CloseSeal,
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
  {
    version: 2,
    name: 'payroll closes linked per site (seq, the digest of the close before) under a tagged head',
    up: `
      ALTER TABLE payroll_closes ADD COLUMN seq INTEGER;
      ALTER TABLE payroll_closes ADD COLUMN prev TEXT;
      CREATE UNIQUE INDEX payroll_closes_seq ON payroll_closes (site_id, seq);
      CREATE TABLE payroll_close_heads (
        site_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        digest TEXT NOT NULL,
        tag TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'payroll close heads carry the digest of the periods of their closes (tagged)',
    up: `
      ALTER TABLE payroll_close_heads ADD COLUMN periods TEXT;
      ALTER TABLE payroll_close_heads ADD COLUMN periods_tag TEXT;
      CREATE INDEX payroll_closes_periods ON payroll_closes (site_id, seq, to_day);
    `,
  },
];

/** A site's chain, by seq (closes of an earlier release, seq NULL, first). */
export const PAYROLL_CLOSES_CHAIN_SQL = `SELECT * FROM payroll_closes
  WHERE site_id = ? ORDER BY seq`;

/**
 * The places and periods of a site's closes, by seq: the covering index (site, seq, to_day),
 * which holds `from_day` as part of the key (a row read, its totals beside it, cost ~7 ms at 60
 * closes of a store of 12,000).
 */
export const PAYROLL_CLOSES_PLACES_SQL = `SELECT seq, from_day, to_day FROM payroll_closes
  WHERE site_id = ? ORDER BY seq`;

/** The site's close of the highest seq. */
export const PAYROLL_CLOSES_TIP_SQL = `SELECT * FROM payroll_closes
  WHERE site_id = ? AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1`;

/** The site's linked closes after a place, by seq (a head behind them: MongoDB's roll-forward). */
export const PAYROLL_CLOSES_AFTER_SQL = `SELECT * FROM payroll_closes
  WHERE site_id = ? AND seq > ? ORDER BY seq`;

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
  seq: number | null;
  prev: string | null;
  tag: string;
}

interface HeadRow {
  site_id: string;
  seq: number;
  digest: string;
  tag: string;
  periods: string | null;
  periods_tag: string | null;
}

@Injectable()
export class SqlitePayrollCloseRepository extends PayrollCloseRepository {
  /** The close and its head are one transaction: a head behind its closes is an editor's. */
  readonly headMayTrail = false;
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('timesheets.payroll_closes', PAYROLL_CLOSE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
  }

  async record(
    draft: Omit<PayrollClose, 'seq' | 'prev' | 'tag'>,
    seal: CloseSeal,
  ): Promise<CloseResult> {
    const overlapping = this.db.prepare<[string, string, string], Row>(
      PAYROLL_CLOSES_OVERLAPPING_SQL,
    );
    const tip = this.db.prepare<[string], Row>(PAYROLL_CLOSES_TIP_SQL);
    const insert = this.insertStatement();
    const head = this.db.prepare<[string], HeadRow>(
      'SELECT * FROM payroll_close_heads WHERE site_id = ?',
    );
    const setHead = this.setHeadStatement();
    // the check, the chain's tip and head, the insert and the new head in one write turn: no
    // other write of the store between them
    const work = (): CloseResult => {
      const [found] = overlapping.all(draft.siteId, draft.to, draft.from);
      if (found) {
        const stored = fromRow(found);
        const same = stored.from === draft.from && stored.to === draft.to;
        return { status: same ? 'exists' : 'overlaps', close: stored };
      }
      const tipRow = tip.get(draft.siteId);
      const headRow = head.get(draft.siteId);
      const made = seal(tipRow && fromRow(tipRow), headRow && fromHeadRow(headRow));
      insert.run(...insertArgs(made.close));
      setHead.run(...headArgs(made.head));
      return { status: 'closed', close: made.close };
    };
    return this.turns.write((): CloseResult => {
      try {
        return this.db.transaction(work).immediate();
      } catch (error) {
        // its place of the chain taken (a seal over a stale chain: never in one write turn)
        if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          return { status: 'raced' };
        }
        throw error;
      }
    });
  }

  async chain(siteId: string): Promise<CloseChain> {
    const closes = this.db
      .prepare<[string], Row>(PAYROLL_CLOSES_CHAIN_SQL)
      .all(siteId)
      .map(fromRow);
    const head = this.db
      .prepare<[string], HeadRow>('SELECT * FROM payroll_close_heads WHERE site_id = ?')
      .get(siteId);
    return { closes, ...(head ? { head: fromHeadRow(head) } : {}) };
  }

  async chainPlaces(
    siteId: string,
  ): Promise<{ places: ClosePlace[]; tip?: PayrollClose; head?: CloseHead }> {
    // one read transaction: the places, the tip and the head as of one moment
    return readTransaction(this.db, () => {
      const places = this.db
        .prepare<[string], { seq: number | null; from_day: string; to_day: string }>(
          PAYROLL_CLOSES_PLACES_SQL,
        )
        .all(siteId)
        .map((r) => ({ seq: r.seq ?? 0, from: r.from_day, to: r.to_day }));
      const tip = this.db.prepare<[string], Row>(PAYROLL_CLOSES_TIP_SQL).get(siteId);
      const head = this.db
        .prepare<[string], HeadRow>('SELECT * FROM payroll_close_heads WHERE site_id = ?')
        .get(siteId);
      return {
        places,
        ...(tip ? { tip: fromRow(tip) } : {}),
        ...(head ? { head: fromHeadRow(head) } : {}),
      };
    });
  }

  async closesAfter(siteId: string, seq: number): Promise<PayrollClose[]> {
    return this.db
      .prepare<[string, number], Row>(PAYROLL_CLOSES_AFTER_SQL)
      .all(siteId, seq)
      .map(fromRow);
  }

  async rollHead(was: CloseHead, next: CloseHead): Promise<boolean> {
    const move = this.db.prepare(
      `UPDATE payroll_close_heads SET seq = ?, digest = ?, tag = ?, periods = ?, periods_tag = ?
       WHERE site_id = ? AND seq = ? AND digest = ? AND tag = ?`,
    );
    return this.turns.write(
      () =>
        move.run(
          next.seq,
          next.digest,
          next.tag,
          next.periods ?? null,
          next.periodsTag ?? null,
          was.siteId,
          was.seq,
          was.digest,
          was.tag,
        ).changes === 1,
    );
  }

  async setPeriods(head: CloseHead, periods: string, periodsTag: string): Promise<boolean> {
    const set = this.db.prepare(
      `UPDATE payroll_close_heads SET periods = ?, periods_tag = ?
       WHERE site_id = ? AND seq = ? AND digest = ? AND tag = ?`,
    );
    return this.turns.write(
      () =>
        set.run(periods, periodsTag, head.siteId, head.seq, head.digest, head.tag).changes === 1,
    );
  }

  async unlinkedSiteIds(limit: number): Promise<string[]> {
    return this.db
      .prepare<[number], { site_id: string }>(
        'SELECT DISTINCT site_id FROM payroll_closes WHERE seq IS NULL ORDER BY site_id LIMIT ?',
      )
      .all(limit)
      .map((r) => r.site_id);
  }

  async link(siteId: string, link: CloseLink): Promise<boolean> {
    const unlinked = this.db.prepare<[string], Row>(
      'SELECT * FROM payroll_closes WHERE site_id = ? AND seq IS NULL ORDER BY closed_at, from_day',
    );
    const tip = this.db.prepare<[string], Row>(PAYROLL_CLOSES_TIP_SQL);
    const head = this.db.prepare<[string], HeadRow>(
      'SELECT * FROM payroll_close_heads WHERE site_id = ?',
    );
    const update = this.db.prepare(
      `UPDATE payroll_closes SET seq = ?, prev = ?, tag = ?
       WHERE site_id = ? AND from_day = ? AND seq IS NULL`,
    );
    const setHead = this.setHeadStatement();
    const work = (): boolean => {
      const rows = unlinked.all(siteId).map(fromRow);
      if (rows.length === 0) return false;
      const tipRow = tip.get(siteId);
      const headRow = head.get(siteId);
      const made = link(rows, tipRow && fromRow(tipRow), headRow && fromHeadRow(headRow));
      for (const c of made.closes) update.run(c.seq, c.prev, c.tag, c.siteId, c.from);
      setHead.run(...headArgs(made.head));
      return true;
    };
    // a place another close holds (a link made from another read): rolled back, not linked
    return this.turns.write(() => {
      try {
        return this.db.transaction(work).immediate();
      } catch (error) {
        if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return false;
        throw error;
      }
    });
  }

  async retagHeadIds(afterId: string, limit: number): Promise<string[]> {
    return this.db
      .prepare<[string, number], { site_id: string }>(
        'SELECT site_id FROM payroll_close_heads WHERE site_id > ? ORDER BY site_id LIMIT ?',
      )
      .all(afterId, limit)
      .map((r) => r.site_id);
  }

  async retagHead(
    siteId: string,
    plan: (head: CloseHead) => CloseRetagPlan,
  ): Promise<CloseRetagOutcome> {
    const read = this.db.prepare<[string], HeadRow>(
      'SELECT * FROM payroll_close_heads WHERE site_id = ?',
    );
    // the periods re-tagged with the head, or cleared (the next read's walk makes them again)
    const write = this.db.prepare(
      `UPDATE payroll_close_heads SET tag = ?,
         periods = CASE WHEN ? IS NULL THEN NULL ELSE periods END, periods_tag = ?
       WHERE site_id = ?`,
    );
    let periodsTag: string | null = null;
    const outcome = await retagSqliteRow(
      { db: this.db, turns: this.turns },
      {
        read: () => read.get(siteId),
        retag: (row) => {
          const made = plan(fromHeadRow(row));
          periodsTag = made.periodsTag ?? null;
          return { outcome: closeRetagOutcome(siteId, made), tag: made.tag };
        },
        write: (tag) => write.run(tag, periodsTag, periodsTag, siteId),
      },
    );
    return outcome ?? { id: siteId, result: 'deleted' };
  }

  private insertStatement() {
    return this.db.prepare(
      `INSERT INTO payroll_closes
         (site_id, from_day, to_day, closed_at, closed_by, workers, seq, prev, tag)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  private setHeadStatement() {
    return this.db.prepare(
      `INSERT INTO payroll_close_heads (site_id, seq, digest, tag, periods, periods_tag)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (site_id) DO UPDATE SET seq = excluded.seq, digest = excluded.digest,
         tag = excluded.tag, periods = excluded.periods, periods_tag = excluded.periods_tag`,
    );
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
    seq: r.seq ?? 0,
    prev: r.prev ?? '',
    tag: r.tag,
  };
}

function fromHeadRow(r: HeadRow): CloseHead {
  return {
    siteId: r.site_id,
    seq: r.seq,
    digest: r.digest,
    tag: r.tag,
    ...(r.periods !== null && r.periods_tag !== null
      ? { periods: r.periods, periodsTag: r.periods_tag }
      : {}),
  };
}

function headArgs(h: CloseHead): [string, number, string, string, string | null, string | null] {
  return [h.siteId, h.seq, h.digest, h.tag, h.periods ?? null, h.periodsTag ?? null];
}

function insertArgs(
  c: PayrollClose,
): [string, string, string, number, string, string, number, string, string] {
  return [c.siteId, c.from, c.to, c.at, c.by, JSON.stringify(c.workers), c.seq, c.prev, c.tag];
}
