import Database from 'better-sqlite3';
import { ManualClock } from '@app/common';
import { LedgerService } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { MongoStore, Store } from '@app/persistence';
import { http, startTestApp, TestApp } from './support/test-app';
import { openStoreFile } from './support/tamper';
import { createSite } from './support/timesheet-client';

type Row = Record<string, unknown>;

const DAY = '2026-03-02';
const at = (hour: number) => new Date(Date.parse(`${DAY}T00:00:00.000Z`) + hour * 3_600_000);

/**
 * Review of LV #6, M2: the once-a-minute count of a site's entries took any count other than
 * the position for a hole, more rows too. A row inserted with a seq no link has (0, negative,
 * fractional) made every site it was written to re-read its whole chain every minute, in the
 * projection's one queue. Now only seqs 1 to the position are counted: fewer rows than links
 * is a hole (re-read), more is reported as a changed entry (`/health` `tamperedSites`, the
 * counter), never re-read. On the suite store (SQLite file or MongoDB).
 */
describe('timesheet read model: an entry row with a seq no link has (e2e)', () => {
  let t: TestApp;
  const clock = new ManualClock();
  let file: Database.Database | undefined;
  beforeAll(async () => {
    t = await startTestApp({}, { clock });
    if (t.config.database.driver === 'sqlite') {
      file = openStoreFile(t);
    }
  });
  afterAll(async () => {
    file?.close();
    await t.close();
  });

  const timesheets = (siteId: string) =>
    http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/timesheets?from=${DAY}&to=${DAY}`, {
      key: t.keys.admin,
    });

  /** A copy of the site's entry row 1 stored under `seq`, as a database writer can. */
  async function copyEntry(siteId: string, seq: number): Promise<void> {
    if (file) {
      const row = file
        .prepare('SELECT * FROM timesheet_entries WHERE site_id = ? AND seq = 1')
        .get(siteId) as Row;
      const columns = Object.keys(row);
      file
        .prepare(
          `INSERT INTO timesheet_entries (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
        )
        .run(...columns.map((c) => (c === 'seq' ? seq : row[c])));
      return;
    }
    const entries = t.app.get<Store, MongoStore>(Store).connection.collection('timesheet_entries');
    const { _id, ...doc } = (await entries.findOne({ siteId, seq: 1 }))!;
    await entries.insertOne({ ...doc, seq });
  }

  let sites = 0;
  /** A site with one worker's shift (a worker of its own: rows copied elsewhere do not reach it). */
  async function sealedSite(): Promise<string> {
    const worker = 'cde'[sites++].repeat(24);
    const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'UTC');
    const punch = (workerId: string, type: 'check_in' | 'check_out', hour: number) =>
      punchEntry({ siteId, workerId, type, timestamp: at(hour).toISOString() });
    await t.app
      .get(LedgerService)
      .append([punch(worker, 'check_in', 8), punch(worker, 'check_out', 16)]);
    const first = await timesheets(siteId);
    expect([first.status, first.body?.code, first.body?.message]).toEqual([
      200,
      undefined,
      undefined,
    ]);
    return siteId;
  }

  /** Reads the site a minute later (its entries counted) and says whether the chain was re-read. */
  async function rereadAfterCount(siteId: string): Promise<boolean> {
    clock.advance(61_000);
    const reads = jest.spyOn(t.app.get(LedgerService), 'readAuthenticatedChain');
    try {
      await timesheets(siteId);
      return reads.mock.calls.some(([site, after]) => site === siteId && after === 0);
    } finally {
      reads.mockRestore();
    }
  }

  /** Deletes the site's entry row at `seq`, as a database writer can. */
  async function deleteEntry(siteId: string, seq: number): Promise<void> {
    if (file) {
      file.prepare('DELETE FROM timesheet_entries WHERE site_id = ? AND seq = ?').run(siteId, seq);
      return;
    }
    const entries = t.app.get<Store, MongoStore>(Store).connection.collection('timesheet_entries');
    expect((await entries.deleteOne({ siteId, seq })).deletedCount).toBe(1);
  }

  async function tamperedSites(): Promise<string[]> {
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    const sites = (health.body.details ?? health.body.error).timesheets.tamperedSites ?? [];
    return sites.map((s: { siteId: string }) => s.siteId);
  }

  it('should not count a row with seq 0 or below (no re-read of the chain every minute)', async () => {
    const siteId = await sealedSite();
    await copyEntry(siteId, 0);
    await copyEntry(siteId, -1);
    expect(await rereadAfterCount(siteId)).toBe(false);
    expect(await rereadAfterCount(siteId)).toBe(false);
    expect((await timesheets(siteId)).status).toBe(200);
  });

  it('should report more rows than links within the position as a changed entry, not re-read', async () => {
    const siteId = await sealedSite();
    await copyEntry(siteId, 1.5);
    expect(await rereadAfterCount(siteId)).toBe(false);
    expect(await tamperedSites()).toContain(siteId);
    expect(await rereadAfterCount(siteId)).toBe(false);
  });

  it('should find a row deleted under a row at a seq between two (re-read, not hidden by the count)', async () => {
    // review L3: the count of seqs 1..position took a row at 1.5 for the deleted row 2
    const siteId = await sealedSite();
    await deleteEntry(siteId, 2);
    await copyEntry(siteId, 1.5);
    expect(await rereadAfterCount(siteId)).toBe(true);
    const day = await timesheets(siteId);
    expect([day.status, day.body.days[0]?.workedSeconds]).toEqual([200, 8 * 3600]);
  });
});
