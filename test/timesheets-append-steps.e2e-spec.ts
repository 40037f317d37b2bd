import { LedgerService } from '@app/offline-sync';
import { AttendanceLogRepository } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { TimesheetProjector } from '@app/timesheets';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

/** Appends of this process queued behind one step of the projection. */
const APPENDS = 12;
const DAY = '2026-03-02';

/**
 * Each append of a process queues a step of its projection; when the links before the append's
 * are another process's (another replica's sync), the step catches the site up from the ledger.
 * A step whose links a catch-up queued before it has already taken must not catch up again:
 * each such step cost a whole catch-up (several store round trips and a recompute, with nothing
 * new to read), and on a site whose other replica appends between this one's syncs every sync
 * queued one. Once a step cost more than the time between syncs (the MongoDB test server under
 * load) the queue grew without end, and a correction's step waited behind all of them
 * (timesheets-corrections-busy: a correction unanswered past 300 s).
 */
describe("the timesheet projection's append steps (e2e)", () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  it("should not catch a site up again for an append whose links an earlier step's catch-up took", async () => {
    const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata');
    const ledger = t.app.get(LedgerService);
    const projector = t.app.get(TimesheetProjector);
    const punchOf = (i: number) =>
      punchEntry({
        siteId,
        workerId: `w${i}`.padStart(24, 'a'),
        type: 'check_in',
        timestamp: `${DAY}T03:30:00.000Z`,
      });
    await ledger.append([punchOf(0)]);
    await projector.ensureReadable(siteId);

    // another replica's link, through the store (no hook of this process): the next append's
    // links are not right after this process's cursor
    await t.app.get(AttendanceLogRepository, { strict: false }).appendToChains([punchOf(1)]);
    // the projection's queue held at its next step's first store read (the rebuild mark every
    // step reads), until every append below is committed and its step queued
    const repo = t.app.get(TimesheetRepository);
    const rebuildMark = repo.rebuildMark.bind(repo);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = true;
    const markSpy = jest.spyOn(repo, 'rebuildMark').mockImplementation(async (id) => {
      if (holding) {
        holding = false;
        await held;
      }
      return rebuildMark(id);
    });
    const catchUps = jest.spyOn(
      projector as unknown as { catchUp: (siteId: string) => Promise<number> },
      'catchUp',
    );
    try {
      for (let i = 0; i < APPENDS; i++) await ledger.append([punchOf(2 + i)]);
      release();
      await projector.ensureReadable(siteId);
      // one catch-up for the appends (the first step's, which read them all) and the read's
      // own; before, every append's step caught the site up again (APPENDS + 1 of them)
      expect(catchUps.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      release();
      markSpy.mockRestore();
      catchUps.mockRestore();
    }

    // and every link is in the read model, once
    expect(await repo.progress(siteId)).toEqual({ maxSeq: APPENDS + 2, count: APPENDS + 2 });
  });
});
