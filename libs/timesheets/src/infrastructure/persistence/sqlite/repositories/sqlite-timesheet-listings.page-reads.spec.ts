import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nextDay } from '@app/common';
import { SqliteStore, openSqliteConnection } from '@app/persistence';
import { TimesheetDay } from '../../../../domain/timesheet-day';
import { punchedDay } from '../../../../testing/punched-day';
import { DayPage, DayQuery } from '../../timesheet.repository';
import { SqliteTimesheetRepository } from './sqlite-timesheet.repository';

const SITE = 'S';
const WORKERS = 120;
const DAYS = 6; // a working week of each worker, from FIRST
const FIRST = '2026-01-05';
const PUNCHES = 40;

const workerId = (i: number) => `w-${String(i).padStart(3, '0')}`;
/** A packet id as long as the kiosks' (a UUID), fixed so each run stores the same bytes. */
const packetId = (n: number) => `${n.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;

/** A busy day as the projector stores it after a long catch-up: 40 punches, ~4 KB of JSON. */
function busyDay(siteId: string, w: number, d: number, day: string): TimesheetDay {
  return punchedDay({
    siteId,
    workerId: workerId(w),
    day,
    firstSeq: (w * DAYS + d) * PUNCHES + 1,
    punches: PUNCHES,
    firstIn: Date.parse(`${day}T06:00:00Z`),
    everyMs: 1_200_000,
    shiftMs: 600_000,
    packetId: (seq) => packetId(seq),
  });
}

/**
 * The pages of the b-tree `name` and of each kind (dbstat): what a seek of it reads from is
 * its interior and leaf pages; a body that does not fit in its leaf goes on overflow pages.
 */
function pagesOf(path: string, name: string): { pages: number[]; interiorAndLeaves: number } {
  const db = openSqliteConnection(path);
  try {
    const rows = db
      .prepare<[string], { pageno: number; pagetype: string }>(
        'SELECT pageno, pagetype FROM dbstat WHERE name = ?',
      )
      .all(name);
    return {
      pages: rows.map((r) => r.pageno),
      interiorAndLeaves: rows.filter((r) => r.pagetype !== 'overflow').length,
    };
  } finally {
    db.close();
  }
}

/** Writes zeros over `pages` of the closed, checkpointed file: reading one is SQLITE_CORRUPT. */
function zeroPages(path: string, pages: number[]): void {
  const db = openSqliteConnection(path);
  const size = db.pragma('page_size', { simple: true }) as number;
  db.close();
  if (existsSync(`${path}-wal`)) throw new Error('the WAL is still there: pages may move');
  const fd = openSync(path, 'r+');
  try {
    const zeros = Buffer.alloc(size);
    for (const page of pages) writeSync(fd, zeros, 0, size, (page - 1) * size);
  } finally {
    closeSync(fd);
  }
}

const keys = (page: DayPage) => ({
  days: page.days.map((d) => `${d.workerId}/${d.day}`),
  next: page.next,
});

/**
 * A page of days reads a day's body only for a day it returns: the skip-scan's seeks go
 * through the key index (timesheet_days_keys), whose pages hold keys alone. Shown without a
 * clock: every page of the table (interior, leaves, overflow) is overwritten with zeros, and a
 * page of a period with no days still answers as before, which it could not if it read one.
 */
describe('SqliteTimesheetRepository, a page of days with fat bodies: reads of the table', () => {
  let dir: string;
  let path: string;
  let store: SqliteStore;
  let repo: SqliteTimesheetRepository;
  /** Pages read from the intact file: the same queries must give them after the zeroing. */
  const intact = new Map<string, ReturnType<typeof keys>[]>();
  let table: ReturnType<typeof pagesOf>;
  let index: ReturnType<typeof pagesOf>;

  const empty = { siteId: SITE, fromDay: '2020-01-01', toDay: '2020-01-01', limit: 100 };
  const crew = [workerId(3), workerId(17), 'w-none', workerId(42)];
  /** Queries of periods with no day of SITE: none may read the table. */
  const queries: Array<[string, DayQuery]> = [
    ['a day before the history, every worker on one page', empty],
    ['a day before the history, 7 workers a page', { ...empty, maxWorkers: 7 }],
    [
      'a day before the history, resumed after a worker',
      { ...empty, after: { workerId: workerId(20), day: '2020-01-01' } },
    ],
    [
      'a day after the history, 25 workers a page',
      { ...empty, fromDay: '2026-02-01', toDay: '2026-02-01', maxWorkers: 25 },
    ],
    ['a week before the history of a crew', { ...empty, toDay: '2020-01-07', workerIds: crew }],
  ];

  /** Every page of `q` from its `after`, following `next`. */
  async function walk(q: DayQuery) {
    const pages: ReturnType<typeof keys>[] = [];
    let after = q.after;
    do {
      const page = await repo.listDays({ ...q, after });
      pages.push(keys(page));
      after = page.next;
      if (pages.length > 100) throw new Error('the walk does not end');
    } while (after);
    return pages;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-tsdays-reads-'));
    path = join(dir, 'days.sqlite');
    store = new SqliteStore(path);
    repo = new SqliteTimesheetRepository(store);
    const replacements = [];
    // SITE's workers, and one day of two sites around it in key order
    for (const [site, count] of [
      ['R', 1],
      [SITE, WORKERS],
      ['T', 1],
    ] as const) {
      for (let w = 0; w < count; w++) {
        const days: TimesheetDay[] = [];
        for (let d = 0, day = FIRST; d < DAYS; d++, day = nextDay(day)) {
          days.push(busyDay(site, w, d, day));
        }
        replacements.push({
          siteId: site,
          workerId: workerId(w),
          fromDay: FIRST,
          toDay: '2026-01-31',
          days,
        });
      }
    }
    await repo.replaceDays(replacements);
    for (const [name, q] of queries) intact.set(name, await walk(q));
    await store.close(); // the last connection: checkpoints and removes the WAL
    table = pagesOf(path, 'timesheet_days');
    index = pagesOf(path, 'timesheet_days_keys');
    zeroPages(path, table.pages);
    store = new SqliteStore(path);
    repo = new SqliteTimesheetRepository(store);
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should keep the keys apart, in far fewer pages than the rows with their bodies', () => {
    // ~4 KB a body: a row spills to overflow pages, and a leaf or interior page of the table
    // still holds a few hundred bytes of each of its rows' bodies
    expect(table.pages.length - table.interiorAndLeaves).toBeGreaterThanOrEqual(WORKERS * DAYS);
    expect(index.interiorAndLeaves).toBeGreaterThan(0);
    expect(index.interiorAndLeaves * 10).toBeLessThan(table.interiorAndLeaves);
  });

  it.each(queries)('should answer %s with no page of the table read', async (name, q) => {
    const pages = await walk(q);
    expect(pages).toEqual(intact.get(name));
    expect(pages.flatMap((p) => p.days)).toEqual([]);
  });

  it('should find the table unreadable for a page that returns a day (its body)', async () => {
    // the zeroing is in force: what the pages above did not read, a page of days must
    await expect(repo.listDays({ ...empty, fromDay: FIRST, toDay: FIRST })).rejects.toMatchObject({
      code: 'SQLITE_CORRUPT',
    });
  });
});
