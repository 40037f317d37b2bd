/**
 * The listings bench's timesheet worker-days (bench/listings.bench.ts): the filled sites, the
 * pages measured warm on the bench's connection, the same pages each read on a fresh
 * connection, and walks of every page.
 *
 * Two sites in one table: TS_SITE, TS_WORKERS workers × TS_DAYS days of small bodies (a day
 * of two punches, ~400 bytes), and BUSY_SITE, BUSY_WORKERS × BUSY_DAYS days of 40 punches each
 * (~4 KB bodies), as a 1M-link catch-up leaves them (5,000 workers, 200 punches each).
 */
import { randomUUID } from 'node:crypto';
import { LimitedStatements, SqliteStore, openSqliteConnection } from '@app/persistence';
import { withIndexesRebuilt } from '@app/persistence/testing/indexes-rebuilt';
import { TimesheetDay } from '@app/timesheets/domain/timesheet-day';
import { punchedDay } from '@app/timesheets/testing/punched-day';
import {
  SqliteTimesheetRepository,
  TIMESHEET_DAY_SQL,
} from '@app/timesheets/infrastructure/persistence/sqlite/repositories/sqlite-timesheet.repository';
import {
  DAY_PAGE_MAX_WORKERS,
  DayQuery,
} from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import {
  dayFromBody,
  dayToBody,
} from '@app/timesheets/infrastructure/persistence/timesheet-stored';
import { BenchRow, median, now } from '../support';

/** A listing page: ours (the repository), raw SQL, and other ways to read it (each a row). */
export interface ListingCase {
  name: string;
  ours: () => Promise<unknown[]>;
  raw: () => unknown[];
  /** The same page read otherwise (the code before a rewrite), each measured after ours and raw. */
  others?: Array<{ label: string; read: () => unknown[] }>;
}

/** The listings bench's size and time line, its tables and worker-days alike. */
export const DAY = 86_400_000;
export const START = Date.parse('2025-01-01T00:00:00Z');
export const ROWS = Number(process.env.LISTING_ROWS ?? 1_000_000);
export const TS_SITE = 'site-ts';
export const TS_WORKERS = 1000;
export const TS_DAYS = Math.max(14, Math.round(ROWS / TS_WORKERS));
export const BUSY_SITE = 'site-busy';
export const BUSY_WORKERS = Number(process.env.LISTING_BUSY_WORKERS ?? 5000);
export const BUSY_DAYS = Number(process.env.LISTING_BUSY_DAYS ?? 5);
/** The punches of a busy day: ~4 KB bodies. */
export const BUSY_PUNCHES = 40;
/** The key index (migration 3 of timesheets), rebuilt after the fill (fillDays). */
export const KEYS = 'timesheet_days_keys';

export const hexId = (i: number) => i.toString(16).padStart(24, '0');
const dayAt = (d: number) => new Date(START + d * DAY).toISOString().slice(0, 10);

/**
 * A day of `punches` punches from seq `seq` on, in back-to-back shifts over 9 hours: packet ids
 * derived from the seq for small days (as this bench wrote them before), UUIDs for busy ones.
 */
function dayOf(site: string, w: number, d: number, seq: number, punches: number): TimesheetDay {
  const span = (9 * 3600_000) / (punches / 2);
  return punchedDay({
    siteId: site,
    workerId: hexId(w),
    day: dayAt(d),
    firstSeq: seq,
    punches,
    firstIn: START + d * DAY + 3.5 * 3600_000,
    everyMs: span,
    shiftMs: span,
    packetId: (_, i) => (punches === 2 ? `${hexId(seq)}-${i === 0 ? 'in' : 'out'}` : randomUUID()),
  });
}

/**
 * `workers` × `days` worker-days of `site`, days of `punches` punches, `perTransaction` rows a
 * transaction: in key order (each worker's days in turn), or by `day` (each day, every worker's:
 * as a live site writes them, each row into the middle of the b-tree, its leaves split and
 * scattered over the file).
 */
export function insertDays(
  db: SqliteStore['db'],
  site: string,
  workers: number,
  days: number,
  punches: number,
  perTransaction: number,
  order: 'key' | 'day' = 'key',
): void {
  const insert = db.prepare(
    'INSERT INTO timesheet_days (site_id, worker_id, day, worked_seconds, body) VALUES (?, ?, ?, ?, ?)',
  );
  const batch = db.transaction((rows: Array<[w: number, d: number]>) => {
    for (const [w, d] of rows) {
      const day = dayOf(site, w, d, (w * days + d) * punches + 1, punches);
      insert.run(site, day.workerId, day.day, day.workedSeconds, dayToBody(day));
    }
  });
  let rows: Array<[w: number, d: number]> = [];
  const [outer, inner] = order === 'key' ? [workers, days] : [days, workers];
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      rows.push(order === 'key' ? [a, b] : [b, a]);
      if (rows.length === perTransaction) {
        batch(rows);
        rows = [];
      }
    }
  }
  if (rows.length > 0) batch(rows);
}

/**
 * Both sites' worker-days (and a day of two sites around TS_SITE), in key order, with the
 * table's indexes (the key index) dropped and built again after, as migration 3 builds it on a
 * filled table: returns the ms the rebuild took.
 */
export function fillDays(store: SqliteStore): number {
  const db = store.db;
  return withIndexesRebuilt(db, ['timesheet_days'], () => {
    insertDays(db, BUSY_SITE, BUSY_WORKERS, BUSY_DAYS, BUSY_PUNCHES, 500 * BUSY_DAYS);
    insertDays(db, 'site-tr', 1, 1, 2, 1);
    insertDays(db, TS_SITE, TS_WORKERS, TS_DAYS, 2, 20 * TS_DAYS);
    insertDays(db, 'site-tz', 1, 1, 2, 1);
  });
}

/** The pages (overflow among them) and MiB of each b-tree of timesheet_days (dbstat). */
export function dayTreeSizes(
  db: SqliteStore['db'],
): Array<{ name: string; pages: number; mib: number; overflow: number }> {
  return db
    .prepare<[], { name: string; pages: number; mib: number; overflow: number }>(
      `SELECT name, count(*) AS pages, sum(pgsize) / 1048576.0 AS mib,
         sum(pagetype = 'overflow') AS overflow
       FROM dbstat WHERE name IN ('timesheet_days', '${KEYS}') GROUP BY name`,
    )
    .all();
}

/** dayTreeSizes as a line, for the record. */
export function daySizes(db: SqliteStore['db']): string {
  return dayTreeSizes(db)
    .map((r) => `${r.name}: ${r.pages} pages (${r.overflow} overflow), ${r.mib.toFixed(1)} MiB`)
    .join('; ');
}

type Row = [string, string | null, string | null];
/** A set of the statements of a page of days, as TIMESHEET_DAY_SQL. */
type DayStatements = Record<keyof typeof TIMESHEET_DAY_SQL, string>;

const ON_KEYS = `INDEXED BY ${KEYS}`;
const ON_PRIMARY_KEY = 'INDEXED BY sqlite_autoindex_timesheet_days_1';
/** The skip-scan's workers, each next one sought as `hint` says, and a join of their days. */
const siteDaysOn = (workersHint: string, daysHint: string) => `WITH RECURSIVE workers(id) AS (
      SELECT (SELECT worker_id FROM timesheet_days ${workersHint}
              WHERE site_id = @site AND worker_id > @worker ORDER BY worker_id LIMIT 1)
      UNION ALL
      SELECT (SELECT worker_id FROM timesheet_days ${workersHint}
              WHERE site_id = @site AND worker_id > workers.id ORDER BY worker_id LIMIT 1)
      FROM workers WHERE workers.id IS NOT NULL
    )
    SELECT workers.id, d.day, d.body FROM workers
    LEFT JOIN timesheet_days d ${daysHint}
      ON d.site_id = @site AND d.worker_id = workers.id AND d.day >= @from AND d.day <= @to
    WHERE workers.id IS NOT NULL`;
const crewDaysOn = (daysHint: string) => `SELECT crew.value, d.day, d.body
    FROM json_each(@crew) AS crew
    LEFT JOIN timesheet_days d ${daysHint}
      ON d.site_id = @site AND d.worker_id = crew.value AND d.day >= @from AND d.day <= @to`;

/**
 * The statements before tsindex (main before migration 3): every seek on the primary key. With
 * the key index there SQLite would seek the next worker in it, and it ignores NOT INDEXED on a
 * WITHOUT ROWID table: these name the primary key's own index.
 */
const BEFORE_TSINDEX: DayStatements = {
  siteDays: siteDaysOn(ON_PRIMARY_KEY, ON_PRIMARY_KEY),
  crewDays: crewDaysOn(ON_PRIMARY_KEY),
  workerDaysAfter: TIMESHEET_DAY_SQL.workerDaysAfter,
};

/**
 * The other use of the key index, not taken: the join of a worker's days through it as well,
 * each day then read by its primary key (a seek of the table a day returned, where ours seeks
 * the table once a worker with days and reads on from there). Written by hand (without ours'
 * first-day bound): checkPlans holds their plans to ours but for that join.
 */
const DAYS_THROUGH_KEYS: DayStatements = {
  siteDays: siteDaysOn(ON_KEYS, ON_KEYS),
  crewDays: crewDaysOn(ON_KEYS),
  workerDaysAfter: TIMESHEET_DAY_SQL.workerDaysAfter,
};

/** A step of a statement's plan (EXPLAIN QUERY PLAN): its id, its parent's (0: none), what. */
interface PlanStep {
  id: number;
  parent: number;
  detail: string;
}

/** The plan of one of a page's statements (each names the parameters it uses). */
const planSteps = (db: SqliteStore['db'], sql: string) =>
  db
    .prepare<[object], PlanStep>(`EXPLAIN QUERY PLAN ${sql}`)
    .all({ site: '', from: '', to: '', worker: '', after: '', crew: '[]' });

/**
 * A plan a step a line, indented by its depth, subqueries unnumbered (their numbers count the
 * statement's subqueries, a bound more or less renumbers them).
 */
function planLines(steps: PlanStep[]): string[] {
  const depths = new Map<number, number>([[0, 0]]);
  return steps.map((step) => {
    const depth = (depths.get(step.parent) ?? 0) + 1;
    depths.set(step.id, depth);
    return `${'  '.repeat(depth - 1)}${step.detail.replace(/SUBQUERY \d+$/, 'SUBQUERY')}`;
  });
}

/**
 * Production's plan of a statement as DAYS_THROUGH_KEYS must plan it: its one join of a
 * worker's days on the primary key sought in the key index instead, and its first-day bound
 * (the scalar subquery on `f`) gone. Throws when production joins no days on the primary key
 * (DAYS_THROUGH_KEYS would then compare with nothing production does).
 */
function productionThroughKeys(production: PlanStep[], sql: string): PlanStep[] {
  const onPrimaryKey = /^SEARCH d USING PRIMARY KEY /;
  if (production.filter((step) => onPrimaryKey.test(step.detail)).length !== 1)
    throw new Error(`production joins no days on the primary key, or more than once: ${sql}`);
  const firstDay = production.filter((step) => /^SEARCH f /.test(step.detail));
  const bounds = new Set(firstDay.map((step) => step.parent));
  return production
    .filter((step) => !firstDay.includes(step) && !bounds.has(step.id))
    .map((step) => ({
      ...step,
      detail: step.detail.replace(onPrimaryKey, `SEARCH d USING INDEX ${KEYS} `),
    }));
}

const plansChecked = new WeakMap<SqliteStore['db'], Set<DayStatements>>();

/**
 * Throws if the plans of `statements` drift from what they stand for: one of BEFORE_TSINDEX
 * touches the key index, or one of DAYS_THROUGH_KEYS (written by hand) is not production's
 * (TIMESHEET_DAY_SQL) but for the days joined through the key index without a first-day bound:
 * the workers sought as production seeks them, through the same index, in the same plan.
 */
function checkPlans(db: SqliteStore['db'], statements: DayStatements): void {
  // once per database and statements (a bench reads many pages through the same)
  const done = plansChecked.get(db) ?? new Set<DayStatements>();
  if (done.has(statements)) return;
  plansChecked.set(db, done.add(statements));
  for (const key of Object.keys(statements) as Array<keyof DayStatements>) {
    const sql = statements[key];
    if (statements === BEFORE_TSINDEX && planSteps(db, sql).some((s) => s.detail.includes(KEYS)))
      throw new Error(`${KEYS} in ${sql}`);
    if (statements === DAYS_THROUGH_KEYS && sql !== TIMESHEET_DAY_SQL[key]) {
      const production = TIMESHEET_DAY_SQL[key];
      const expected = planLines(productionThroughKeys(planSteps(db, production), production));
      const actual = planLines(planSteps(db, sql));
      if (actual.join('\n') !== expected.join('\n')) {
        const what = `the days through the key index drift from production's ${key}: planned`;
        const where = `where production, its days through ${KEYS}, plans`;
        throw new Error([what, ...actual, where, ...expected].join('\n'));
      }
    }
  }
}

/**
 * A page read by `statements` with nothing around them: bodies as stored (or, with `parse`,
 * parsed as listDays parses them), the crew given sorted, at most DAY_PAGE_MAX_WORKERS workers
 * visited (as listDays). Throws if their plans drift from what they stand for (checkPlans).
 */
function rawPages(db: SqliteStore['db'], statements: DayStatements, parse = false) {
  checkPlans(db, statements);
  const prepare = (sql: string) => db.prepare<[Record<string, string>], Row>(sql).raw(true);
  const siteDays = prepare(statements.siteDays);
  const crewDays = prepare(statements.crewDays);
  const workerDaysAfter = prepare(statements.workerDaysAfter);
  return (q: DayQuery): unknown[] => {
    const out: unknown[] = [];
    const params = { site: q.siteId, from: q.fromDay, to: q.toDay, worker: '' };
    const reads: Array<() => Iterable<Row>> = [];
    const after = q.after;
    if (after) {
      params.worker = after.workerId;
      reads.push(() => workerDaysAfter.iterate({ ...params, after: after.day }));
    }
    const crew = q.workerIds?.filter((w) => !after || w > after.workerId);
    reads.push(() =>
      crew ? crewDays.iterate({ ...params, crew: JSON.stringify(crew) }) : siteDays.iterate(params),
    );
    let visited = 0;
    let worker: string | undefined;
    for (const read of reads) {
      for (const [id, , body] of read()) {
        if (id !== worker) {
          if (visited === DAY_PAGE_MAX_WORKERS) return out;
          visited += 1;
          worker = id;
        }
        if (body === null) continue;
        out.push(parse ? dayFromBody(body) : body);
        if (out.length === q.limit) return out;
      }
    }
    return out;
  };
}

/**
 * The other ways to read a page of days, each measured beside ours and raw SQL: the statements
 * and the bodies parsed, as listDays would read with them.
 */
const OTHERS: Array<[label: string, statements: DayStatements]> = [
  ['before tsindex (the skip-scan on the primary key, bodies parsed)', BEFORE_TSINDEX],
  [
    'the days through the key index too (a seek of the table a day; not taken; bodies parsed)',
    DAYS_THROUGH_KEYS,
  ],
];

/**
 * The worker-day listing's cases: ours (the repository's listDays), raw SQL (the same
 * skip-scan statements, bodies as stored, the crew given sorted), OTHERS (bodies parsed) and
 * before tsdays (the statement listDays ran before tsdays: one `ORDER BY worker_id, day`
 * bounded on site_id only, with the period and the keyset as filters, its limit written in,
 * bodies parsed); the pages of a fresh connection (`cold`); and walks of every page, ours and
 * before.
 */
export function timesheetCases(store: SqliteStore, repo: SqliteTimesheetRepository) {
  const db = store.db;
  const raw = rawPages(db, TIMESHEET_DAY_SQL);
  const others = OTHERS.map(([label, statements]) => ({
    label,
    read: rawPages(db, statements, true),
  }));
  const oldPages = new LimitedStatements<{ body: string }>(db);
  /** listDays as it was: one statement, the period and keyset filtered over the site's key. */
  const before = (q: DayQuery) => {
    const where = ['site_id = ?', 'day >= ?', 'day <= ?'];
    const args: unknown[] = [q.siteId, q.fromDay, q.toDay];
    if (q.workerIds) {
      where.push(`worker_id IN (${q.workerIds.map(() => '?').join(',')})`);
      args.push(...q.workerIds);
    }
    if (q.after) {
      where.push('(worker_id > ? OR (worker_id = ? AND day > ?))');
      args.push(q.after.workerId, q.after.workerId, q.after.day);
    }
    const sql = `SELECT body FROM timesheet_days WHERE ${where.join(' AND ')} ORDER BY worker_id, day LIMIT ?`;
    return oldPages.all(sql, args, q.limit).map((r) => dayFromBody(r.body));
  };
  const mid = Math.floor(TS_DAYS / 2);
  const week = { siteId: TS_SITE, fromDay: dayAt(mid), toDay: dayAt(mid + 6), limit: 100 };
  const crew = Array.from({ length: TS_WORKERS / 20 }, (_, k) => hexId(k * 20));
  const noRows = { siteId: TS_SITE, fromDay: '2024-12-01', toDay: '2024-12-01', limit: 100 };
  const busy = `${BUSY_WORKERS.toLocaleString('en')} workers' busy days (${BUSY_PUNCHES} punches)`;
  const busyNoRows = { ...noRows, siteId: BUSY_SITE };
  const queries: Array<[string, DayQuery]> = [
    ['a day with no rows (before the history)', noRows],
    ['one day (a row a worker), first page', { ...week, toDay: week.fromDay }],
    ['one week, first page', week],
    [
      'one week, page at 90% depth',
      { ...week, after: { workerId: hexId(Math.floor(TS_WORKERS * 0.9)), day: dayAt(mid + 3) } },
    ],
    [`one week, a crew of ${crew.length} workers, first page`, { ...week, workerIds: crew }],
    [`${busy}, a day with no rows: visits 1,000 workers`, busyNoRows],
    [
      `${busy}, one day (a row a worker), first page`,
      { ...busyNoRows, fromDay: dayAt(1), toDay: dayAt(1) },
    ],
    [
      `${busy}, their week, first page`,
      { ...busyNoRows, fromDay: dayAt(0), toDay: dayAt(BUSY_DAYS - 1) },
    ],
  ];
  const cases: ListingCase[] = queries.map(([name, q]) => ({
    name: `timesheet days, ${name}`,
    ours: async () => (await repo.listDays(q)).days,
    raw: () => raw(q),
    others: [
      ...others.map((o) => ({ label: o.label, read: () => o.read(q) })),
      ...(q.siteId === TS_SITE
        ? [{ label: "before tsdays (one statement over the site's key)", read: () => before(q) }]
        : []),
    ],
  }));

  /**
   * Pages each read on a connection of its own, opened (and its statements prepared) untimed
   * just before: SQLite's page cache empty, the OS's warm, as a page read right after a long
   * catch-up filled the store's cache with other pages. Ours, raw SQL and OTHERS in turn, each
   * first in turn; medians of `rounds`.
   */
  const cold = async (rounds: number): Promise<BenchRow[]> => {
    const readFresh = (statements: DayStatements, parse: boolean) => async (q: DayQuery) => {
      const fresh = openSqliteConnection(store.path);
      const read = rawPages(fresh, statements, parse);
      const t = now();
      const n = read(q).length;
      const ms = now() - t;
      fresh.close();
      return { ms, n };
    };
    const ours = async (q: DayQuery) => {
      const fresh = new SqliteStore(store.path);
      const mine = new SqliteTimesheetRepository(fresh); // migrations applied: reads only
      const t = now();
      const n = (await mine.listDays(q)).days.length;
      const ms = now() - t;
      await fresh.close();
      return { ms, n };
    };
    const sides = [
      { label: 'ours', read: ours },
      { label: 'raw', read: readFresh(TIMESHEET_DAY_SQL, false) },
      ...OTHERS.map(([label, statements]) => ({ label, read: readFresh(statements, true) })),
    ];
    const out: BenchRow[] = [];
    for (const [name, q] of queries.filter(([, q]) => !q.after && !q.workerIds)) {
      const times = sides.map((): number[] => []);
      const sizes = new Set<number>();
      for (let i = 0; i < rounds; i++) {
        for (let k = 0; k < sides.length; k++) {
          const side = (i + k) % sides.length;
          const { ms, n } = await sides[side].read(q);
          times[side].push(ms);
          sizes.add(n);
        }
      }
      if (sizes.size !== 1) throw new Error(`${name}: the sides disagree on the page size`);
      const label = `timesheet days, ${name}, on a fresh connection`;
      const [oursMs, rawMs, beforeMs, ...otherMs] = times.map(median);
      out.push(
        { metric: label, ours: oursMs, baseline: rawMs, unit: 'ms' },
        { metric: `${label}: ours / before tsindex`, ours: oursMs, baseline: beforeMs, unit: 'ms' },
        { metric: `${label}: ${sides[2].label}`, ours: beforeMs, baseline: rawMs, unit: 'ms' },
        ...otherMs.map((ms, k) => ({
          metric: `${label}: ${sides[3 + k].label}`,
          ours: ms,
          baseline: rawMs,
          unit: 'ms',
        })),
      );
    }
    return out;
  };

  /** Every page of one week, ours (following next) and before (stopping at a short page). */
  const walks = async (): Promise<BenchRow[]> => {
    const out: BenchRow[] = [];
    for (const [label, page] of [
      ['ours', async (q: DayQuery) => repo.listDays(q)],
      [
        'before',
        async (q: DayQuery) => {
          const days = before(q);
          const last = days[days.length - 1];
          return days.length === q.limit
            ? { days, next: { workerId: last.workerId, day: last.day } }
            : { days };
        },
      ],
    ] as const) {
      const perPage: number[] = [];
      let cursor: DayQuery['after'];
      let total = 0;
      const t0 = now();
      do {
        const p0 = now();
        const p = await page({ ...week, after: cursor });
        perPage.push(now() - p0);
        total += p.days.length;
        cursor = p.next;
      } while (cursor);
      if (total !== TS_WORKERS * 7) throw new Error(`walk (${label}): ${total} days`);
      const tenth = Math.max(1, Math.floor(perPage.length / 10));
      out.push({
        metric: `timesheet days, one week, walk of all ${perPage.length} pages of 100 (${label}): median ms per page, last 10% of pages vs first 10%`,
        ours: median(perPage.slice(-tenth)),
        baseline: median(perPage.slice(0, tenth)),
        unit: 'ms',
        note: `(last / first; whole walk ${((now() - t0) / 1000).toFixed(2)} s)`,
      });
    }
    return out;
  };
  return { cases, cold, walks };
}
