import { setImmediate as loopTurn } from 'node:timers/promises';
import { ManualClock } from '@app/common';
import { TimesheetProjector } from '@app/timesheets';
import { gauge, http, MONGODB_URI, pollUntil, startTestApp, TestApp } from './support/test-app';
import { paidSeqsOf, sealedThreeLinkSite } from './support/shifts';
import { withStoreFile } from './support/tamper';

const DAY = '2026-03-02';

/**
 * The outside tester's finding (MED): a sealed ledger link changed in the database behind the
 * read model's cursor (a site already read) was never read again: the site was paid from it,
 * /health named nothing, until `npm run timesheets:rebuild`. The ledger watch checks the links
 * the read model took again, a bounded number per run: the site stops (503
 * timesheets_ledger_unverified, /health `timesheets.stoppedSites`, the gauge) with no read and
 * no rebuild, and clears by itself once the link is put back. The watch runs every 50 ms here,
 * two links a run (a pass over a site spans runs); the polls' bounds are generous, not timings.
 */
(MONGODB_URI ? describe.skip : describe)('timesheets: the ledger watch (e2e, SQLite)', () => {
  let t: TestApp;
  const clock = new ManualClock();
  beforeAll(async () => {
    t = await startTestApp(
      { TIMESHEET_LEDGER_CHECK_MS: '50', TIMESHEET_LEDGER_CHECK_LINKS: '2' },
      { clock },
    );
  });
  afterAll(async () => t.close());

  const health = async () =>
    (await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin })).body.details.timesheets;
  const payroll = (siteId: string) =>
    http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll?from=${DAY}&to=${DAY}`, {
      key: t.keys.auditor,
    });

  /** What the tester ran on the app's SQLite file: the append-only trigger dropped, put back. */
  function updateLink(siteId: string, seq: number, set: string, ...params: unknown[]): void {
    withStoreFile(t, (db) => {
      db.exec('DROP TRIGGER attendance_logs_append_only_update');
      try {
        db.prepare(`UPDATE attendance_logs SET ${set} WHERE site_id = ? AND seq = ?`).run(
          ...params,
          siteId,
          seq,
        );
      } finally {
        db.exec(
          "CREATE TRIGGER attendance_logs_append_only_update BEFORE UPDATE ON attendance_logs BEGIN SELECT RAISE(ABORT, 'attendance_logs is append-only'); END;",
        );
      }
    });
  }
  const dataOf = (siteId: string, seq: number) =>
    withStoreFile(
      t,
      (db) =>
        (
          db
            .prepare('SELECT data FROM attendance_logs WHERE site_id = ? AND seq = ?')
            .get(siteId, seq) as { data: string }
        ).data,
    );

  it('should stop a site already read whose sealed link is changed in the database, with no read, and clear once it is put back', async () => {
    const siteId = await sealedThreeLinkSite(t, DAY);
    const other = await sealedThreeLinkSite(t, DAY);
    expect((await payroll(siteId)).status).toBe(200);
    const saved = dataOf(siteId, 2);
    updateLink(
      siteId,
      2,
      "data = json_set(data, '$.timestamp', ?)",
      new Date(Date.parse(`${DAY}T18:00:00.000Z`)).toISOString(),
    );

    // nothing reads the site: the watch finds the link by itself
    const stopped = await pollUntil(health, (h) => h.stoppedSites !== undefined);
    expect(stopped).toMatchObject({
      status: 'up',
      stoppedSites: [{ siteId, seq: 2, reason: 'record_hash_mismatch', since: expect.any(String) }],
    });
    expect(await gauge(t.baseUrl, 'mdai_timesheet_sites_stopped')).toBe(1);
    const refused = await payroll(siteId);
    expect([refused.status, refused.body?.code]).toEqual([503, 'timesheets_ledger_unverified']);
    expect(refused.body.message).toContain('link 2');
    // the other site keeps working
    expect(await paidSeqsOf(t, other, DAY)).toEqual([1, 2, 3]);
    // a catch-up of the stopped site (it reads after its cursor, past the link) keeps the stop
    expect((await payroll(siteId)).status).toBe(503);
    expect((await health()).stoppedSites).toEqual([expect.objectContaining({ siteId, seq: 2 })]);

    // put back as sealed (its stored recordHash never changed): read again within a minute
    updateLink(siteId, 2, 'data = ?', saved);
    clock.advance(61_000);
    const cleared = await pollUntil(health, (h) => h.stoppedSites === undefined);
    expect(cleared.stoppedSites).toBeUndefined();
    expect(await gauge(t.baseUrl, 'mdai_timesheet_sites_stopped')).toBe(0);
    expect(await paidSeqsOf(t, siteId, DAY)).toEqual([1, 2, 3]);
  });

  it('should stop a site whose sealed link stored recordHash is changed, and clear at the next run once it is put back', async () => {
    const siteId = await sealedThreeLinkSite(t, DAY);
    expect((await payroll(siteId)).status).toBe(200);
    // the last link: nothing after it to chain to, only the checkpoint tells
    const [recordHash, saved] = withStoreFile(t, (db) => {
      const row = db
        .prepare('SELECT record_hash, data FROM attendance_logs WHERE site_id = ? AND seq = 3')
        .get(siteId) as { record_hash: string; data: string };
      return [row.record_hash, row.data];
    });
    updateLink(siteId, 3, 'record_hash = ?', 'f'.repeat(64));
    const stopped = await pollUntil(health, (h) => h.stoppedSites !== undefined);
    expect(stopped.stoppedSites).toEqual([
      expect.objectContaining({ siteId, seq: 3, reason: 'record_hash_mismatch' }),
    ]);
    // its stored recordHash changed back: read again at the next run, no minute to wait
    updateLink(siteId, 3, 'record_hash = ?, data = ?', recordHash, saved);
    const cleared = await pollUntil(health, (h) => h.stoppedSites === undefined);
    expect(cleared.stoppedSites).toBeUndefined();
    expect((await payroll(siteId)).status).toBe(200);
  });
});

/**
 * The reviewer's finding on the watch: a run held the projector's queue for all its links
 * (240 ms median, 893 ms p99 a run on a loaded machine), so a timesheet read, which waits for
 * the queue (`ensureReadable`), waited for the whole run. Each page of a run now takes its own
 * turn in the queue: a read queued once the run's first page is queued answers before the run
 * ends. Told by order and by the run's count of queue turns, not by time; the timer is set
 * out of the way (the runs are made here).
 */
(MONGODB_URI ? describe.skip : describe)(
  'timesheets: a ledger watch run and reads (e2e, SQLite)',
  () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ TIMESHEET_LEDGER_CHECK_MS: '3600000' });
    });
    afterAll(async () => t.close());

    it('should let a read queued while a run checks its first page through before the run ends', async () => {
      const sites = [
        await sealedThreeLinkSite(t, DAY),
        await sealedThreeLinkSite(t, DAY),
        await sealedThreeLinkSite(t, DAY),
      ];
      for (const siteId of sites) expect(await paidSeqsOf(t, siteId, DAY)).toEqual([1, 2, 3]);
      const projector = t.app.get(TimesheetProjector);
      const order: string[] = [];
      const run = projector.watchLedger().then((turns) => {
        order.push('run');
        return turns;
      });
      // the run's first page is queued (it queues after one turn of the loop)
      await loopTurn();
      const read = projector.ensureReadable(sites[0]).then(() => order.push('read'));
      const turns = await run;
      await read;
      expect(order).toEqual(['read', 'run']);
      // a page a site (three sites of three sealed links each, far below the run's budget)
      expect(turns).toBeGreaterThanOrEqual(3);
      expect(projector.stoppedSites()).toEqual([]);
    });
  },
);
