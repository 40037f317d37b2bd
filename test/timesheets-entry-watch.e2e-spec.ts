import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { MongoStore, Store } from '@app/persistence';
import { TimesheetProjector } from '@app/timesheets';
import { appendTwoWorkersShifts } from './support/shifts';
import { openStoreFile } from './support/tamper';
import { http, pollUntil, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

/**
 * A punch copy of the timesheet read model (its copy of a ledger link, tagged under
 * STORE_MAC_KEY) changed in the database was found only when a recompute of its days or a
 * rebuild read it: until then the site was paid from days computed before the change, and
 * /health named nothing. The entry watch (the ledger watch's runs, two entries a run every 50
 * ms here: a pass spans runs) reads the copies with the tag check the recompute's reads make:
 * the site is named on /health and its reads answer 503 timesheets_tampered with no recompute
 * asked; once the copy is put back the site reads again. On the suite's store (SQLite: a
 * second connection to the server's file; MongoDB: the server's database written directly).
 * The poll's bound is generous, not a timing.
 */
const FROM = '2026-03-02';
const TO = '2026-03-03';
const H = 3_600_000;
const workerId = () => randomBytes(12).toString('hex');

describe('timesheets: the entry watch (e2e)', () => {
  let t: TestApp;
  let file: Database.Database | undefined;
  beforeAll(async () => {
    t = await startTestApp({ TIMESHEET_LEDGER_CHECK_MS: '50', TIMESHEET_ENTRY_CHECK_ROWS: '2' });
    if (t.config.database.driver === 'sqlite') file = openStoreFile(t);
  });
  afterAll(async () => {
    file?.close();
    await t.close();
  });

  const mongo = () => t.app.get<Store, MongoStore>(Store).connection;
  const payroll = (siteId: string) =>
    http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll?from=${FROM}&to=${TO}`, {
      key: t.keys.auditor,
    });
  const tamperedSites = async () =>
    ((await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin })).body.details.timesheets
      .tamperedSites ?? []) as Array<{ siteId: string }>;

  /** Moves the entry's effective time by `ms`, as a database writer would (its tag kept). */
  async function moveEntry(siteId: string, seq: number, ms: number): Promise<void> {
    if (file) {
      file
        .prepare(
          'UPDATE timesheet_entries SET effective_at = effective_at + ? WHERE site_id = ? AND seq = ?',
        )
        .run(ms, siteId, seq);
      return;
    }
    const result = await mongo()
      .collection('timesheet_entries')
      .updateOne({ siteId, seq }, { $inc: { effectiveAt: ms } });
    expect(result.matchedCount).toBe(1);
  }

  it('should answer 503 timesheets_tampered for a site whose punch copy is changed in the database, with no recompute asked, name it on /health, and read again once it is put back', async () => {
    const [a, b] = [workerId(), workerId()];
    const siteId = (await createSite(t.baseUrl, t.keys.admin, 'UTC')).siteId;
    await appendTwoWorkersShifts(t, siteId, a, b, FROM, TO);
    const other = (await createSite(t.baseUrl, t.keys.admin, 'UTC')).siteId;
    await appendTwoWorkersShifts(t, other, a, b, '2026-04-06', '2026-04-07');
    // the read model takes both sites at their first read
    expect((await payroll(siteId)).status).toBe(200);
    expect(
      (
        await http(
          t.baseUrl,
          'GET',
          `/api/v5/sites/${other}/payroll?from=2026-04-06&to=2026-04-07`,
          { key: t.keys.auditor },
        )
      ).status,
    ).toBe(200);

    // A's second check-out (the 4th of six entries: past the first run's two) 4 h later
    await moveEntry(siteId, 4, 4 * H);
    const named = await pollUntil(
      tamperedSites,
      (sites) => sites.some((s) => s.siteId === siteId),
      30_000,
    );
    expect(named).toEqual([expect.objectContaining({ siteId })]);
    const refused = await payroll(siteId);
    expect([refused.status, refused.body?.code]).toEqual([503, 'timesheets_tampered']);
    // the other site is not refused
    expect(
      (
        await http(
          t.baseUrl,
          'GET',
          `/api/v5/sites/${other}/payroll?from=2026-04-06&to=2026-04-07`,
          { key: t.keys.auditor },
        )
      ).status,
    ).toBe(200);
    // logged once, by site and seq
    const lines = t
      .logs()
      .split('\n')
      .filter((l) => l.includes('Timesheet entry changed outside the server'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`"siteId":"${siteId}"`);
    expect(lines[0]).toContain('"seq":4');

    // put back as the server wrote it: the site reads again (still listed until a rebuild)
    await moveEntry(siteId, 4, -4 * H);
    const res = await payroll(siteId);
    expect(res.status).toBe(200);
    await t.app.get(TimesheetProjector).rebuildSite(siteId);
    expect(await tamperedSites()).toEqual([]);
  });
});
