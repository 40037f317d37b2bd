import type Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { LedgerService } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { TimesheetProjector } from '@app/timesheets';
import { appendTwoWorkersShifts } from './support/shifts';
import { openStoreFile, withStoreFile } from './support/tamper';
import { http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

/**
 * Tester finding H2: the timesheet read model (timesheet_days, timesheet_entries) changed in
 * the SQLite file by someone without TLOG_SIGNING_KEY, as the tester did (better-sqlite3 on
 * the server's file while it runs). A changed day is never paid: it is recomputed from the
 * entries at the read; a changed entry makes the site's reads answer 503 timesheets_tampered
 * until a rebuild, and /health names the site.
 */
const A = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbbbbbbbbbb';
const FROM = '2026-03-02';
const TO = '2026-03-03';
const H = 3_600_000;

interface DayRow {
  site_id: string;
  worker_id: string;
  day: string;
  worked_seconds: number;
  body: string;
  tag: string | null;
}

describe('timesheet read model: rows changed outside the server are never paid (e2e)', () => {
  let t: TestApp;
  let db: Database.Database;
  /** A DATA_DIR the restart test gave its apps (theirs to keep: removed here). */
  let keptDir: string | undefined;
  beforeAll(async () => {
    t = await startTestApp();
    if (t.config.database.driver === 'sqlite') db = openStoreFile(t);
  });
  afterAll(async () => {
    db?.close();
    await t.close();
    if (keptDir) rmSync(keptDir, { recursive: true, force: true });
  });

  /** A site where A works 8 h on each of two days and B 12 h on the first. */
  async function siteWithShifts(): Promise<string> {
    const siteId = (await createSite(t.baseUrl, t.keys.admin, 'UTC')).siteId;
    await appendTwoWorkersShifts(t, siteId, A, B, FROM, TO);
    // the read model is filled (and tagged) by the first read
    expect(await workedSeconds(siteId)).toEqual({ [A]: 16 * 3600, [B]: 12 * 3600 });
    return siteId;
  }

  const payroll = (siteId: string) =>
    http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll?from=${FROM}&to=${TO}`, {
      key: t.keys.auditor,
    });

  /** Each worker's paid seconds by the payroll (which must answer 200). */
  async function workedSeconds(siteId: string): Promise<Record<string, number>> {
    const res = await payroll(siteId);
    expect(res.status).toBe(200);
    const body = res.body as { workers: Array<{ workerId: string; workedSeconds: number }> };
    return Object.fromEntries(body.workers.map((w) => [w.workerId, w.workedSeconds]));
  }

  const dayRow = (siteId: string, workerId: string, day: string) =>
    db
      .prepare('SELECT * FROM timesheet_days WHERE site_id = ? AND worker_id = ? AND day = ?')
      .get(siteId, workerId, day) as DayRow;

  const tampered = async () => {
    const metrics = await http(t.baseUrl, 'GET', '/metrics', { key: t.keys.admin });
    const line = String(metrics.body)
      .split('\n')
      .find((l) => l.startsWith('mdai_timesheet_rows_tampered_total{kind="day"}'));
    return line ? Number(line.split(' ')[1]) : 0;
  };

  /** A's first day paid 4 h more: the shift's check-out and the worked seconds moved. */
  function fourHoursMore(siteId: string, only: 'seconds' | 'body' | 'both'): void {
    const row = dayRow(siteId, A, FROM);
    const body = JSON.parse(row.body) as {
      workedSeconds: number;
      lastOut: number;
      shifts: Array<{ out: number; seconds: number }>;
    };
    if (only !== 'seconds') {
      body.shifts[0].out += 4 * H;
      body.shifts[0].seconds += 4 * 3600;
      body.workedSeconds += 4 * 3600;
      body.lastOut = body.shifts[0].out;
    }
    db.prepare(
      'UPDATE timesheet_days SET worked_seconds = ?, body = ? WHERE site_id = ? AND worker_id = ? AND day = ?',
    ).run(
      only === 'body' ? row.worked_seconds : row.worked_seconds + 4 * 3600,
      JSON.stringify(body),
      siteId,
      A,
      FROM,
    );
  }

  itOnSqliteFile(
    'should pay a day whose worked seconds and body were raised as the ledger says, log it and count it',
    async () => {
      const siteId = await siteWithShifts();
      const before = await tampered();
      fourHoursMore(siteId, 'both');
      expect(await workedSeconds(siteId)).toEqual({ [A]: 16 * 3600, [B]: 12 * 3600 });
      expect(await tampered()).toBe(before + 1);
      expect(t.logs()).toMatch(
        new RegExp(
          `"siteId":"${siteId}","workerId":"${A}","day":"${FROM}".*changed outside the server`,
        ),
      );
      // recomputed and tagged again: the row holds the ledger's day
      expect(dayRow(siteId, A, FROM).worked_seconds).toBe(8 * 3600);
    },
  );

  itOnSqliteFile(
    'should show and export a day whose body times were moved as the ledger says',
    async () => {
      const siteId = await siteWithShifts();
      fourHoursMore(siteId, 'body');
      const grid = await http(
        t.baseUrl,
        'GET',
        `/api/v5/sites/${siteId}/timesheets?from=${FROM}&to=${FROM}&workerId=${A}`,
        { key: t.keys.auditor },
      );
      expect(grid.status).toBe(200);
      const [day] = (grid.body as { days: Array<{ workedSeconds: number; lastOut: string }> }).days;
      expect(day.workedSeconds).toBe(8 * 3600);
      expect(day.lastOut).toMatch(new RegExp(`^${FROM}T16:00:00`));
      fourHoursMore(siteId, 'both');
      const csv = await http(
        t.baseUrl,
        'GET',
        `/api/v5/sites/${siteId}/timesheets.csv?from=${FROM}&to=${FROM}`,
        { key: t.keys.auditor },
      );
      expect(csv.status).toBe(200);
      const row = String(csv.body)
        .split('\r\n')
        .find((l) => l.startsWith(A));
      expect(row).toContain(',8.00,');
    },
  );

  itOnSqliteFile('should not pay a day whose tag was deleted', async () => {
    const siteId = await siteWithShifts();
    fourHoursMore(siteId, 'both');
    db.prepare('UPDATE timesheet_days SET tag = NULL WHERE site_id = ?').run(siteId);
    expect(await workedSeconds(siteId)).toEqual({ [A]: 16 * 3600, [B]: 12 * 3600 });
    expect(dayRow(siteId, A, FROM).tag).toEqual(expect.any(String));
  });

  itOnSqliteFile("should not pay a row copied from another worker's day, tag and all", async () => {
    const siteId = await siteWithShifts();
    const b = dayRow(siteId, B, FROM);
    db.prepare(
      'UPDATE timesheet_days SET worked_seconds = ?, body = ?, tag = ? WHERE site_id = ? AND worker_id = ? AND day = ?',
    ).run(b.worked_seconds, b.body.split(B).join(A), b.tag, siteId, A, FROM);
    // and A's second day copied to a day A did not work
    const second = dayRow(siteId, A, TO);
    db.prepare(
      'INSERT INTO timesheet_days (site_id, worker_id, day, worked_seconds, body, tag) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(siteId, A, '2026-03-04', second.worked_seconds, second.body, second.tag);
    expect(await workedSeconds(siteId)).toEqual({ [A]: 16 * 3600, [B]: 12 * 3600 });
    const res = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll?from=${FROM}&to=2026-03-04`,
      { key: t.keys.auditor },
    );
    expect(res.status).toBe(200);
    const workers = (res.body as { workers: Array<{ workerId: string; workedSeconds: number }> })
      .workers;
    expect(workers.find((w) => w.workerId === A)?.workedSeconds).toBe(16 * 3600);
  });

  itOnSqliteFile(
    'should answer 503 timesheets_tampered, never a pay, once a changed entry is read, name the site on /health, and pay the ledger after a rebuild',
    async () => {
      const siteId = await siteWithShifts();
      // A's first check-out 4 h later in its copy
      db.prepare(
        "UPDATE timesheet_entries SET effective_at = effective_at + ?, at = at + ? WHERE site_id = ? AND worker_id = ? AND punch_type = 'check_out' AND seq = (SELECT MIN(seq) FROM timesheet_entries WHERE site_id = ? AND worker_id = ? AND punch_type = 'check_out')",
      ).run(4 * H, 4 * H, siteId, A, siteId, A);
      // an ordinary event recomputes A's first day: a stray punch that evening
      await t.app
        .get(LedgerService)
        .append([
          punchEntry({ siteId, workerId: A, type: 'check_in', timestamp: `${FROM}T22:00:00.000Z` }),
        ]);
      const res = await payroll(siteId);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ code: 'timesheets_tampered' });
      const csv = await http(
        t.baseUrl,
        'GET',
        `/api/v5/sites/${siteId}/timesheets.csv?from=${FROM}&to=${TO}`,
        { key: t.keys.auditor },
      );
      expect(csv.status).toBe(503);
      const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
      expect(health.status).toBe(200);
      expect(
        (health.body as { details: { timesheets: { tamperedSites: Array<{ siteId: string }> } } })
          .details.timesheets.tamperedSites,
      ).toContainEqual(expect.objectContaining({ siteId }));
      // the documented remedy: npm run timesheets:rebuild (the same code, for this site)
      await t.app.get(TimesheetProjector).rebuildSite(siteId);
      const paid = await workedSeconds(siteId);
      expect(paid[A]).toBe(16 * 3600);
    },
  );

  itOnSqliteFile(
    'should re-read the ledger, not refuse, when the rows are tagged under another key or none (a rotated TLOG_SIGNING_KEY, a store from before the tags)',
    async () => {
      const siteId = await siteWithShifts();
      const dataDir = t.dataDir;
      keptDir = dataDir;
      db.close();
      await t.close({ keepData: true });
      for (const kid of ['0123456789abcdef', undefined]) {
        withStoreFile(dataDir, (file) => {
          // every tag as another key made it (or none), and the key id stored with them
          // (every key id recorded: kids, timesheets migration 8, review H-1)
          if (kid)
            file.prepare('UPDATE timesheet_seal SET kid = ?, kids = json_array(?)').run(kid, kid);
          else file.prepare('DELETE FROM timesheet_seal').run();
          file.prepare(`UPDATE timesheet_days SET tag = ${kid ? "'x'" : 'NULL'}`).run();
          file.prepare(`UPDATE timesheet_entries SET tag = ${kid ? "'x'" : 'NULL'}`).run();
        });
        t = await startTestApp({ DATA_DIR: dataDir });
        db = openStoreFile(dataDir);
        expect(await workedSeconds(siteId)).toEqual({ [A]: 16 * 3600, [B]: 12 * 3600 });
        expect(await tampered()).toBe(0);
        expect(t.logs()).not.toMatch(/changed outside the server/);
        expect(dayRow(siteId, A, FROM).tag).toMatch(/^[A-Za-z0-9_-]{43}$/);
        db.close();
        await t.close({ keepData: true });
      }
      t = await startTestApp({ DATA_DIR: dataDir });
      db = openStoreFile(dataDir);
    },
  );
});
