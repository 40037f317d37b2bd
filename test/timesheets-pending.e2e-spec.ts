import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LedgerService } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { AttendanceLogRepository } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { TimesheetProjector } from '@app/timesheets';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

/**
 * A real fault of the store that lets entries be stored but not days: a unique index over
 * worked seconds (SQLite: per site; MongoDB: sparse) that an existing day of another worker
 * already holds the value of (`seconds`), so storing the worker's day of that length fails in
 * the store itself (SQLite: the day transaction rolls back; MongoDB: E11000 on its upsert).
 * `seconds`: the worked seconds of the day that must fail.
 * Returns the repair.
 */
async function breakDays(
  t: TestApp,
  siteId: string,
  seconds: number,
): Promise<() => Promise<void>> {
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    const days = store.connection.collection('timesheet_days');
    // sparse, over worked seconds alone: tombstones (days found empty) hold no seconds, and
    // each test has its own database
    await days.createIndex({ workedSeconds: 1 }, { unique: true, sparse: true, name: 'fault' });
    await days.insertOne({
      siteId,
      workerId: 'decoy',
      day: '2000-01-01',
      workedSeconds: seconds,
      body: '{}',
    });
    return async () => {
      await days.dropIndex('fault');
      await days.deleteOne({ siteId, workerId: 'decoy' });
    };
  }
  const db = (store as SqliteStore).db;
  db.prepare(
    `INSERT INTO timesheet_days (site_id, worker_id, day, worked_seconds, body) VALUES (?, 'decoy', '2000-01-01', ?, '{}')`,
  ).run(siteId, seconds);
  db.exec('CREATE UNIQUE INDEX fault ON timesheet_days (site_id, worked_seconds)');
  return async () => {
    db.exec('DROP INDEX fault');
    db.prepare(`DELETE FROM timesheet_days WHERE site_id = ? AND worker_id = 'decoy'`).run(siteId);
  };
}

/**
 * Expects `work` to fail on the fault breakDays injects (SQLite: the UNIQUE constraint over
 * (site_id, worked_seconds); MongoDB: E11000 on the index named `fault`), by its message. Not
 * `rejects.toThrow()`: better-sqlite3's native addon is loaded once per jest worker and keeps
 * the SqliteError class of the first test file that opened a database, so in any later file
 * (its own realm, its own Error) a SqliteError is not an Error there, and jest reports
 * "Received function did not throw" although the promise rejected.
 */
async function expectFault(work: Promise<unknown>): Promise<void> {
  await expect(work).rejects.toMatchObject({
    message: expect.stringMatching(
      /UNIQUE constraint failed: timesheet_days\.site_id, timesheet_days\.worked_seconds|E11000 .*index: fault\b/,
    ),
  });
}

const WORKER = 'cccccccccccccccccccccccc';

async function daysOf(t: TestApp, siteId: string) {
  const res = await http(
    t.baseUrl,
    'GET',
    `/api/v5/sites/${siteId}/timesheets?from=2026-03-01&to=2026-03-05`,
    { key: t.keys.auditor },
  );
  expect(res.status).toBe(200);
  return (res.body.days as { date: string; workerId: string; hours: number; seqs: number[] }[]).map(
    (d) => ({ date: d.date, workerId: d.workerId, hours: d.hours, seqs: d.seqs }),
  );
}

function workerDays(repo: TimesheetRepository, siteId: string) {
  return repo
    .listDays({
      siteId,
      fromDay: '2026-03-01',
      toDay: '2026-03-05',
      workerIds: [WORKER],
      limit: 10,
    })
    .then((p) => p.days);
}

const EXPECTED = [
  { date: '2026-03-02', workerId: WORKER, hours: 8, seqs: [1, 2] },
  { date: '2026-03-03', workerId: WORKER, hours: 8, seqs: [3, 4] },
];

/**
 * The crash window between stored entries and their recompute: the recompute fails on a real
 * store fault after the entries are stored, the process is then stopped (its in-memory
 * progress gone), and a new process on the same store must serve the right days: the durable
 * "days pending recompute" mark, written with the entries, is recomputed at start-up.
 */
describe('timesheet days pending recompute survive a crash (e2e)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'mdai-ts-pending-'))));
  afterEach(async () => {
    const store = t?.app.get(Store);
    if (store instanceof MongoStore) await store.connection.dropDatabase();
    await t?.close();
    t = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  const restart = async () => {
    await t!.close({ keepData: true });
    t = undefined;
    t = await startTestApp({ DATA_DIR: dataDir });
    return t;
  };

  it('should recompute at start-up the days of entries a sync stored before its recompute failed', async () => {
    t = await startTestApp({ DATA_DIR: dataDir });
    const siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    const repo = t.app.get(TimesheetRepository, { strict: false });
    const projector = t.app.get(TimesheetProjector);
    const ledger = t.app.get(LedgerService);
    const entry = (type: 'check_in' | 'check_out', timestamp: string) =>
      punchEntry({ siteId, workerId: WORKER, type, timestamp });
    await ledger.append([
      entry('check_in', '2026-03-02T03:30:00.000Z'),
      entry('check_out', '2026-03-02T11:30:00.000Z'),
    ]);
    await projector.ensureReadable(siteId);
    // the next append is taken from the hook (the read model is current): a 7-hour day
    const repair = await breakDays(t, siteId, 25_200);
    await ledger.append([
      entry('check_in', '2026-03-03T03:30:00.000Z'),
      entry('check_out', '2026-03-03T10:30:00.000Z'),
    ]);
    // the projection of the append fails, and so does the catch-up of the next read
    await expectFault(projector.ensureReadable(siteId));
    expect(await repo.listEntries(siteId, 0, 10)).toHaveLength(4);
    expect((await workerDays(repo, siteId)).map((d) => d.day)).toEqual(['2026-03-02']);
    expect(await repo.listPending(10, undefined, siteId)).toEqual([
      expect.objectContaining({ siteId, workerId: WORKER }),
    ]);
    await repair();

    t = await restart();
    // the start-up's own work, before any read (a read would catch the site up): waits for the
    // projector's queue as a shutdown does
    await t.app.get(TimesheetProjector).beforeApplicationShutdown();
    const after = t.app.get(TimesheetRepository, { strict: false });
    expect(await after.listPending(10, undefined, siteId)).toEqual([]);
    expect((await workerDays(after, siteId)).map((d) => [d.day, d.workedSeconds])).toEqual([
      ['2026-03-02', 28_800],
      ['2026-03-03', 25_200],
    ]);
    const expected = [EXPECTED[0], { ...EXPECTED[1], hours: 7 }];
    expect(await daysOf(t, siteId)).toEqual(expected);
    // and what a rebuild from the ledger gives
    await t.app.get(TimesheetProjector).rebuildSite(siteId);
    expect(await daysOf(t, siteId)).toEqual(expected);
  });

  // the fault is a trigger refusing one site's days: SQLite's (the MongoDB tier runs the marks'
  // write in the contract suite, and the flag both ways in timesheets-other-site)
  itOnSqliteFile(
    "should recompute at start-up another site's days a recompute marked (overlaps_other_site) when their own recompute failed",
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      const s1 = (await createSite(t.baseUrl, t.keys.admin, 'UTC')).siteId;
      const s2 = (await createSite(t.baseUrl, t.keys.admin, 'UTC')).siteId;
      const projector = t.app.get(TimesheetProjector);
      const ledger = t.app.get(LedgerService);
      const entry = (siteId: string, type: 'check_in' | 'check_out', timestamp: string) =>
        punchEntry({ siteId, workerId: WORKER, type, timestamp });
      await ledger.append([
        entry(s2, 'check_in', '2026-03-02T19:00:00.000Z'),
        entry(s2, 'check_out', '2026-03-03T02:00:00.000Z'),
      ]);
      await projector.ensureReadable(s2);
      const db = t.app.get<Store, SqliteStore>(Store).db;
      db.prepare(
        `CREATE TRIGGER fault BEFORE INSERT ON timesheet_days WHEN NEW.site_id = '${s2}'
         BEGIN SELECT RAISE(ABORT, 'fault'); END`,
      ).run();
      // s1's shift overlaps s2's: s1's recompute flags its day and marks s2's, whose recompute fails
      await ledger.append([
        entry(s1, 'check_in', '2026-03-02T18:00:00.000Z'),
        entry(s1, 'check_out', '2026-03-03T01:00:00.000Z'),
      ]);
      await projector.ensureReadable(s1);
      const repo = t.app.get(TimesheetRepository, { strict: false });
      const flags = async (r: TimesheetRepository, siteId: string) =>
        (
          await r.listDays({ siteId, fromDay: '2026-03-02', toDay: '2026-03-02', limit: 10 })
        ).days.flatMap((d) => d.flags.map((f) => [f.type, f.detail]));
      expect(await flags(repo, s1)).toEqual([['overlaps_other_site', s2]]);
      expect(await flags(repo, s2)).toEqual([]);
      expect(await repo.listPending(10, undefined, s2)).toEqual([
        expect.objectContaining({ siteId: s2, workerId: WORKER }),
      ]);
      db.prepare('DROP TRIGGER fault').run();
      // the fault gone, s2's next catch-up (a read, another worker's punch there) takes the
      // mark without waiting for a restart
      await ledger.append([
        punchEntry({
          siteId: s2,
          workerId: 'dddddddddddddddddddddddd',
          type: 'check_in',
          timestamp: '2026-03-04T08:00:00.000Z',
        }),
      ]);
      await projector.ensureReadable(s2);
      expect(await flags(repo, s2)).toEqual([['overlaps_other_site', s1]]);
      expect(await repo.listPending(10, undefined, s2)).toEqual([]);

      t = await restart();
      await t.app.get(TimesheetProjector).beforeApplicationShutdown();
      const after = t.app.get(TimesheetRepository, { strict: false });
      expect(await after.listPending(10)).toEqual([]);
      expect(await flags(after, s2)).toEqual([['overlaps_other_site', s1]]);
      expect(await flags(after, s1)).toEqual([['overlaps_other_site', s2]]);
    },
  );

  it("should recompute at start-up the days of a catch-up's stored entries whose deferred recompute failed", async () => {
    t = await startTestApp({ DATA_DIR: dataDir });
    const siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    const entry = (type: 'check_in' | 'check_out', timestamp: string) =>
      punchEntry({ siteId, workerId: WORKER, type, timestamp });
    const repair = await breakDays(t, siteId, 28_800);
    // straight into the ledger store (another replica's append): the read model hears nothing,
    // and the next read's catch-up takes them from the chain, stores them, then fails
    await t.app
      .get(AttendanceLogRepository, { strict: false })
      .appendToChains([
        entry('check_in', '2026-03-02T03:30:00.000Z'),
        entry('check_out', '2026-03-02T11:30:00.000Z'),
        entry('check_in', '2026-03-03T03:30:00.000Z'),
        entry('check_out', '2026-03-03T11:30:00.000Z'),
      ]);
    await expectFault(t.app.get(TimesheetProjector).ensureReadable(siteId));
    const repo = t.app.get(TimesheetRepository, { strict: false });
    expect(await repo.listEntries(siteId, 0, 10)).toHaveLength(4);
    expect(await workerDays(repo, siteId)).toEqual([]);
    await repair();

    t = await restart();
    expect(await daysOf(t, siteId)).toEqual(EXPECTED);
    expect(await t.app.get(TimesheetRepository, { strict: false }).listPending(10)).toEqual([]);
  });
});
