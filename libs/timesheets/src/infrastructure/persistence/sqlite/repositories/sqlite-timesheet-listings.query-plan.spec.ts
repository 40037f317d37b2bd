import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { nextDay } from '@app/common';
import { SqliteStore } from '@app/persistence';
import { describeLiteralLimitPlans } from '@app/persistence/testing/literal-limit-plans';
import { explainQueryPlan, planProblems } from '@app/persistence/testing/query-plan';
import { TimesheetDay } from '../../../../domain/timesheet-day';
import { timesheetCorrection, timesheetPunch } from '../../../../testing/timesheet-punch';
import { DayKey, DayPage, DayQuery } from '../../timesheet.repository';
import {
  SqliteTimesheetRepository,
  TIMESHEET_CORRECTIONS_OF_SQL,
  TIMESHEET_ENTRY_PAGE_SQL,
  TIMESHEET_MAX_SEQ_SQL,
  TIMESHEET_OTHER_SITE_PUNCHES_SQL,
  TIMESHEET_PUNCHES_EXCEPT_SQL,
  TIMESHEET_PUNCHES_SQL,
  TIMESHEET_RECOMPUTE_PUNCHES_SQL,
} from './sqlite-timesheet.repository';

// The entries listing as LimitedStatement runs it.
describeLiteralLimitPlans(
  'SqliteTimesheetRepository',
  (store) => new SqliteTimesheetRepository(store), // applies the migrations
  [['entries, after a seq', TIMESHEET_ENTRY_PAGE_SQL, ['s-1', 0], true]],
);

/** One run of a statement: its SQL, its parameters and the rows it gave. */
interface Run {
  sql: string;
  params: unknown[];
  rows: number;
}

/**
 * Records every run of every statement prepared on `db` from now on (get, all, iterate, run),
 * with the rows each gave: what a page of days costs, counted, not timed.
 */
function recordRuns(db: Database): Run[] {
  const runs: Run[] = [];
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    const statement = prepare(sql);
    const proxy: object = new Proxy(statement, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        return (...params: unknown[]) => {
          const result: unknown = value.apply(target, params);
          if (result === target) return proxy; // pluck(), raw(): chained on the proxy
          if (!['get', 'all', 'iterate', 'run'].includes(key as string)) return result;
          const run: Run = { sql, params, rows: 0 };
          runs.push(run);
          if (key === 'get') run.rows = result === undefined ? 0 : 1;
          if (key === 'all') run.rows = (result as unknown[]).length;
          if (key !== 'iterate') return result;
          const rows = result as IterableIterator<unknown>;
          return {
            [Symbol.iterator]() {
              return this;
            },
            next() {
              const step = rows.next();
              if (!step.done) run.rows += 1;
              return step;
            },
            return() {
              return rows.return?.() ?? { done: true, value: undefined };
            },
          };
        };
      },
    });
    return proxy;
  }) as Database['prepare'];
  return runs;
}

/** A worker's days in a period, joined to a worker: one seek, then its days to the period's end. */
const DAYS_OF_A_WORKER =
  /^SEARCH d USING PRIMARY KEY \(site_id=\? AND worker_id=\? AND day>\? AND day<\?\) LEFT-JOIN$/;
/** The first day of a worker in the period, the join's lower bound: one seek of the key index. */
const FIRST_DAY =
  /^SEARCH f USING COVERING INDEX timesheet_days_keys \(site_id=\? AND worker_id=\? AND day>\? AND day<\?\)$/;
/** The cursor's worker's days after the cursor. */
const DAYS_AFTER_THE_CURSOR =
  /^SEARCH timesheet_days USING PRIMARY KEY \(site_id=\? AND worker_id=\? AND day>\? AND day<\?\)$/;
/** The next worker: one seek past the last in the key index, read by a scalar subquery. */
const NEXT_WORKER =
  /^SEARCH timesheet_days USING COVERING INDEX timesheet_days_keys \(site_id=\? AND worker_id>\?\)$/;

/**
 * The steps of a statement's plan that read timesheet_days other than by one seek of a
 * worker's days in a period, or of the next worker or of a worker's first day in the key index
 * inside a scalar subquery: each would read rows it does not return (a scan, or a search on
 * site_id alone filtering the period), or bodies to find keys (a seek of the table, whose rows
 * hold their bodies, where the key index would do). A join of a worker's days is bounded below
 * by its first day (the subquery after it): a worker with none is not sought in the table.
 * With none, a statement reads the rows it gives, plus one a worker (the end of its range) and
 * one a next worker, and the table only for a worker with days.
 */
function unboundedReads(db: Database, run: Run): string[] {
  const plan = explainQueryPlan(db, run.sql, run.params);
  const inSubquery = (i: number) => /SCALAR SUBQUERY/.test(plan[i - 1] ?? '');
  return plan.filter((step, i) => {
    if (step.includes('TEMP B-TREE')) return true;
    if (!/^(SCAN|SEARCH) (timesheet_days|d|f)\b/.test(step)) return false;
    if (DAYS_AFTER_THE_CURSOR.test(step)) return false;
    if (DAYS_OF_A_WORKER.test(step))
      return !FIRST_DAY.test(plan[i + 2] ?? '') || !inSubquery(i + 2);
    return !((NEXT_WORKER.test(step) || FIRST_DAY.test(step)) && inSubquery(i));
  });
}

const SITE = 'S';
const WORKERS = 40;
const HISTORY = 120; // days per worker, from 2026-01-01
const FIRST = '2026-01-01';

const workerId = (i: number) => `w-${String(i).padStart(3, '0')}`;

function day(w: string, d: string): TimesheetDay {
  return {
    siteId: SITE,
    workerId: w,
    day: d,
    shifts: [],
    workedSeconds: 60,
    flags: [],
    corrected: false,
    seqs: [1],
    packets: [],
  };
}

describe('SqliteTimesheetRepository, a page of days: its cost follows the page, not the site', () => {
  let dir: string;
  let store: SqliteStore;
  let repo: SqliteTimesheetRepository;
  let runs: Run[];
  /** Every stored day's key of SITE, in (workerId, day) order. */
  const stored: DayKey[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-tsdays-plan-'));
    store = new SqliteStore(join(dir, 'days.sqlite'));
    runs = recordRuns(store.db);
    repo = new SqliteTimesheetRepository(store);
    // a long history of every worker; workers 5, 6 and 7 also worked on a Sunday of 2025
    // (a sparse period: three worker-days amid 4,800 of the site)
    const replacements = [];
    for (let i = 0; i < WORKERS; i++) {
      const w = workerId(i);
      const days: TimesheetDay[] = [];
      if (i >= 5 && i <= 7) days.push(day(w, '2025-06-01'));
      for (let d = 0, at = FIRST; d < HISTORY; d++, at = nextDay(at)) days.push(day(w, at));
      replacements.push({
        siteId: SITE,
        workerId: w,
        fromDay: '2025-01-01',
        toDay: '2026-12-31',
        days,
      });
      for (const x of days) stored.push({ workerId: w, day: x.day });
    }
    // another site's days around SITE's, in key order, so no bound may run past the site
    for (const site of ['R', 'T']) {
      replacements.push({
        siteId: site,
        workerId: 'w-020',
        fromDay: '2025-01-01',
        toDay: '2026-12-31',
        days: [{ ...day('w-020', '2025-06-01'), siteId: site }],
      });
    }
    await repo.replaceDays(replacements);
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every page of `q` from its start, following `next`, with each page's statement runs. */
  async function walk(q: Omit<DayQuery, 'after'>) {
    const pages: Array<{ page: DayPage; runs: Run[] }> = [];
    let after: DayKey | undefined;
    do {
      const from = runs.length;
      const page = await repo.listDays({ ...q, after });
      pages.push({ page, runs: runs.slice(from).filter((r) => !r.sql.startsWith('EXPLAIN')) });
      after = page.next;
      if (pages.length > 10_000) throw new Error('the walk does not end');
    } while (after);
    return pages;
  }

  const expected = (q: Omit<DayQuery, 'after' | 'limit'>) =>
    stored
      .filter((k) => k.day >= q.fromDay && k.day <= q.toDay)
      .filter((k) => !q.workerIds || q.workerIds.includes(k.workerId))
      .map((k) => `${k.workerId}/${k.day}`);

  const crew = [workerId(31), workerId(6), workerId(12), workerId(6), 'w-none', workerId(39)];
  const period = (fromDay: string, toDay: string, limit: number, workerIds?: string[]) => ({
    siteId: SITE,
    fromDay,
    toDay,
    limit,
    ...(workerIds ? { workerIds } : {}),
  });
  const cases: Array<[string, Omit<DayQuery, 'after'>]> = [
    ['a Sunday of 2025 (3 days in 4,800)', period('2025-06-01', '2025-06-01', 100)],
    ['a day with no rows', period('2025-07-01', '2025-07-01', 100)],
    ['a week', period('2026-03-02', '2026-03-08', 100)],
    ['a week, pages of 3', period('2026-03-02', '2026-03-08', 3)],
    ['a week of one worker', period('2026-03-02', '2026-03-08', 4, [workerId(7)])],
    ['a week of a crew (unsorted, twice, unknown)', period('2026-03-02', '2026-03-08', 5, crew)],
    ['two months of 2025 of a crew', period('2025-05-01', '2025-06-30', 2, crew)],
    ['the whole history', period('2025-01-01', '2026-12-31', 500)],
  ];

  it.each(cases)(
    'should give every day of %s once, in order, across pages short or full (at most 7 workers a page)',
    async (_name, q) => {
      const pages = await walk({ ...q, maxWorkers: 7 });
      const seen = pages.flatMap(({ page }) => page.days.map((d) => `${d.workerId}/${d.day}`));
      expect(seen).toEqual(expected(q));
      for (const { page } of pages.slice(0, -1)) expect(page.next).toBeDefined();
    },
  );

  it.each(cases)(
    'should read, for a page of %s, only the days it returns and two index entries a worker it visits',
    async (_name, q) => {
      const maxWorkers = 7;
      for (const { page, runs: ran } of await walk({ ...q, maxWorkers })) {
        // every statement the page runs reads timesheet_days by bounded seeks only
        for (const run of ran) {
          expect({ sql: run.sql, reads: unboundedReads(store.db, run) }).toEqual({
            sql: run.sql,
            reads: [],
          });
        }
        // so the page reads the rows its statements give, and one index entry more a worker
        // (the end of its days) and a next worker: the rows given are its days, a row of NULLs
        // a worker with none, and the first of the worker it stops before
        expect(ran.length).toBeLessThanOrEqual(2);
        const given = ran.reduce((sum, run) => sum + run.rows, 0);
        expect(given).toBeLessThanOrEqual(page.days.length + maxWorkers + 1);
      }
    },
  );

  it('should visit, on a page of a period with no day, at most maxWorkers workers, and walk them all', async () => {
    const q = { siteId: SITE, fromDay: '2025-07-01', toDay: '2025-07-01', limit: 100 };
    const pages = await walk({ ...q, maxWorkers: 7 });
    expect(pages).toHaveLength(Math.ceil(WORKERS / 7));
    expect(pages.every(({ page }) => page.days.length === 0)).toBe(true);
    // each page seeks on from the last: the walk reads each worker once (and, each page, the
    // first of the next page's workers)
    const given = pages.flatMap((p) => p.runs).reduce((n, run) => n + run.rows, 0);
    expect(given).toBe(WORKERS + pages.length - 1);
    // the default bound: one page visits every worker of this site
    expect(await walk(q)).toHaveLength(1);
  });

  it('should resume from a cursor of the old form (the last day given), mid-worker', async () => {
    const q = { siteId: SITE, fromDay: '2026-03-02', toDay: '2026-03-08', limit: 3 };
    const page = await repo.listDays({ ...q, after: { workerId: workerId(4), day: '2026-03-06' } });
    expect(page.days.map((d) => `${d.workerId}/${d.day}`)).toEqual([
      `${workerId(4)}/2026-03-07`,
      `${workerId(4)}/2026-03-08`,
      `${workerId(5)}/2026-03-02`,
    ]);
    expect(page.next).toEqual({ workerId: workerId(5), day: '2026-03-02' });
  });
});

describe("SqliteTimesheetRepository, a worker's punches at the other sites (overlaps_other_site)", () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-tsother-plan-'));
    store = new SqliteStore(join(dir, 'entries.sqlite'));
    const repo = new SqliteTimesheetRepository(store); // applies the migrations
    // many workers' punches at several sites, so a plan that reads more than the worker's shows
    const entries = [];
    for (let seq = 1; seq <= 2000; seq++) {
      entries.push(
        timesheetPunch(seq, { siteId: `site-${seq % 5}`, workerId: workerId(seq % WORKERS) }),
      );
    }
    await repo.insertEntries(entries);
    store.db.exec('ANALYZE');
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("should seek the worker's punches in the time range on the cross-site index, in its order (no scan, no sort)", () => {
    const plan = explainQueryPlan(store.db, TIMESHEET_OTHER_SITE_PUNCHES_SQL, [
      workerId(3),
      0,
      1_000_000,
      'site-1',
    ]);
    expect(plan).toEqual([
      'SEARCH timesheet_entries USING INDEX timesheet_entries_worker_time (worker_id=? AND effective_at>? AND effective_at<?)',
    ]);
    expect(planProblems(plan)).toEqual([]);
  });

  it("should seek the corrections of entries on the target index, one seek a seq (not a scan of the site's entries)", () => {
    const plan = explainQueryPlan(store.db, TIMESHEET_CORRECTIONS_OF_SQL, ['site-1', '[1, 6]']);
    expect(plan).toEqual([
      'SEARCH timesheet_entries USING INDEX timesheet_entries_target (site_id=? AND target_seq=?)',
      'LIST SUBQUERY 1',
      'SCAN json_each VIRTUAL TABLE INDEX 1:',
    ]);
  });

  it("should read a site's highest stored seq by one seek of the key, not a count of its entries", () => {
    const plan = explainQueryPlan(store.db, TIMESHEET_MAX_SEQ_SQL, ['site-1']);
    expect(plan).toEqual(['SEARCH timesheet_entries USING PRIMARY KEY (site_id=?)']);
    expect(planProblems(plan)).toEqual([]);
  });
});

describe("SqliteTimesheetRepository, a worker's punches at a site (a recompute's read)", () => {
  let dir: string;
  let store: SqliteStore;
  let repo: SqliteTimesheetRepository;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-tspunch-plan-'));
    store = new SqliteStore(join(dir, 'entries.sqlite'));
    repo = new SqliteTimesheetRepository(store); // applies the migrations
    const entries = [];
    for (let seq = 1; seq <= 2000; seq++) {
      entries.push(
        timesheetPunch(seq, { siteId: `site-${seq % 5}`, workerId: workerId(seq % WORKERS) }),
      );
    }
    // the worker of the reads below at two sites, several punches at the same time (a tie
    // that the seq orders) and one correction (no punch type: not a punch)
    const w = workerId(7);
    entries.push(
      timesheetPunch(3001, { siteId: 'site-a', workerId: w, at: 9e6, effectiveAt: 9e6 }),
      timesheetPunch(3002, { siteId: 'site-b', workerId: w, at: 8e6, effectiveAt: 8e6 }),
      timesheetPunch(3003, { siteId: 'site-a', workerId: w, at: 8e6, effectiveAt: 8e6 }),
      timesheetPunch(3004, { siteId: 'site-a', workerId: w, at: 7e6, effectiveAt: 9e6 }),
      timesheetPunch(3005, { siteId: 'site-a', workerId: w, at: 8e6, effectiveAt: 8e6 }),
      timesheetPunch(3006, { siteId: 'site-a', workerId: workerId(8), effectiveAt: 8e6 }),
      timesheetCorrection(3007, 'void', { siteId: 'site-a', workerId: w, targetSeq: 3001 }),
    );
    await repo.insertEntries(entries);
    store.db.exec('ANALYZE');
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should keep no index of its own: every entry stored writes the cross-site one only (migration 9)', () => {
    const indexes = store.db
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'timesheet_entries' AND sql IS NOT NULL ORDER BY name",
      )
      .all()
      .map((r) => r.name);
    expect(indexes).toEqual(['timesheet_entries_target', 'timesheet_entries_worker_time']);
  });

  it("should seek the worker's punches in the range on the cross-site index, in its order (no scan, no sort)", () => {
    for (const [sql, params] of [
      [TIMESHEET_PUNCHES_SQL, [workerId(3), 0, 1_000_000, 'site-1']],
      [TIMESHEET_PUNCHES_EXCEPT_SQL, [workerId(3), 0, 1_000_000, 'site-1', 10, 20]],
    ] as const) {
      const plan = explainQueryPlan(store.db, sql, [...params]);
      expect(plan).toEqual([
        'SEARCH timesheet_entries USING INDEX timesheet_entries_worker_time (worker_id=? AND effective_at>? AND effective_at<?)',
      ]);
      expect(planProblems(plan)).toEqual([]);
    }
  });

  it("should seek a recompute's punches at every site in one range of the cross-site index, in its order (no scan, no sort)", () => {
    const plan = explainQueryPlan(store.db, TIMESHEET_RECOMPUTE_PUNCHES_SQL, [
      {
        worker: workerId(3),
        site: 'site-1',
        from: 0,
        to: 1_000_000,
        ownFrom: 100_000,
        ownTo: 900_000,
        othersFrom: 0,
        othersTo: 1_000_000,
        fromSeq: 10,
        toSeq: 20,
      },
    ]);
    expect(plan).toEqual([
      'SEARCH timesheet_entries USING INDEX timesheet_entries_worker_time (worker_id=? AND effective_at>? AND effective_at<?)',
    ]);
    expect(planProblems(plan)).toEqual([]);
  });

  it("should give a recompute's punches as the site's and the other sites' reads give them", async () => {
    const w = workerId(7);
    const ranges = [
      [7e6, 1e7, 6e6, 1.1e7],
      [8e6, 9e6, 7e6, 1e7],
      [8e6, 9e6, 8.5e6, 8.6e6],
      [0, 1, 7e6, 1e7],
    ];
    for (const except of [undefined, { fromSeq: 3004, toSeq: 3005 }, { fromSeq: 1, toSeq: 9e9 }]) {
      for (const site of ['site-a', 'site-b', 'site-z']) {
        for (const [ownFrom, ownTo, othersFrom, othersTo] of ranges) {
          const both = await repo.listRecomputePunches(
            site,
            w,
            { fromMs: ownFrom, toMs: ownTo },
            { fromMs: othersFrom, toMs: othersTo },
            except,
          );
          expect(both).toEqual({
            own: await repo.listPunches(site, w, ownFrom, ownTo, except),
            others: await repo.listOtherSitePunches(site, w, othersFrom, othersTo),
          });
        }
      }
    }
    const all = await repo.listRecomputePunches(
      'site-a',
      w,
      { fromMs: 7e6, toMs: 1e7 },
      {
        fromMs: 7e6,
        toMs: 1e7,
      },
    );
    expect(all.own.map((e) => e.seq)).toEqual([3003, 3005, 3001, 3004]);
    expect(all.others.map((e) => [e.siteId, e.seq])).toEqual([['site-b', 3002]]);
  });

  it("should read the site's punches alone, by time then seq, without the range left out", async () => {
    const w = workerId(7);
    const seqs = async (site: string, except?: { fromSeq: number; toSeq: number }) =>
      (await repo.listPunches(site, w, 7e6, 1e7, except)).map((e) => e.seq);
    expect(await seqs('site-a')).toEqual([3003, 3005, 3001, 3004]);
    expect(await seqs('site-b')).toEqual([3002]);
    expect(await seqs('site-a', { fromSeq: 3004, toSeq: 3005 })).toEqual([3003, 3001]);
    expect((await repo.listPunches('site-a', w, 8e6, 9e6)).map((e) => e.seq)).toEqual([3003, 3005]);
  });
});
