import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { LedgerService } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { MongoStore, Store } from '@app/persistence';
import { TimesheetProjector } from '@app/timesheets';
import { appendTwoWorkersShifts } from './support/shifts';
import { openStoreFile } from './support/tamper';
import { http, itOnMongo, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

/**
 * The timesheet read model changed by a database writer (no TLOG_SIGNING_KEY), on the store
 * the suite runs on: SQLite (a second connection to the server's file) or MongoDB (the
 * server's database, written directly). Review T3: an entry row saved before a void and
 * written back after it carries its old, valid tag (H-B), and on MongoDB a day whose `basis`
 * was raised blocked its own repair (M-3).
 */
/** A new worker id (24 hex): each test's own workers, so no test reads another's site. */
const workerId = () => randomBytes(12).toString('hex');
const FROM = '2026-03-02';
const TO = '2026-03-03';
const H = 3_600_000;
const at = (day: string, hour: number) =>
  new Date(Date.parse(`${day}T00:00:00.000Z`) + hour * H).toISOString();

type Row = Record<string, unknown>;

describe('timesheet read model: stale and changed rows on the suite store (e2e)', () => {
  let t: TestApp;
  /** The workers of the test's site (`siteWithShifts`). */
  let A = '';
  let B = '';
  /** SQLite: a connection of its own to the server's file (absent on MongoDB). */
  let file: Database.Database | undefined;
  beforeAll(async () => {
    t = await startTestApp();
    if (t.config.database.driver === 'sqlite') file = openStoreFile(t);
  });
  afterAll(async () => {
    file?.close();
    await t.close();
  });

  const mongo = () => t.app.get<Store, MongoStore>(Store).connection;

  /** An entry's stored row (SQLite columns) or document (MongoDB fields), as stored. */
  async function entryRow(siteId: string, seq: number): Promise<Row> {
    const row = file
      ? (file
          .prepare('SELECT * FROM timesheet_entries WHERE site_id = ? AND seq = ?')
          .get(siteId, seq) as Row | undefined)
      : ((await mongo().collection('timesheet_entries').findOne({ siteId, seq })) as Row | null);
    if (!row) throw new Error(`no entry ${siteId}/${seq}`);
    return row;
  }

  /** Writes a row saved by `entryRow` back over the entry, tag and all. */
  async function putBack(row: Row): Promise<void> {
    if (file) {
      const columns = Object.keys(row);
      file
        .prepare(
          `INSERT OR REPLACE INTO timesheet_entries (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
        )
        .run(...columns.map((c) => row[c]));
      return;
    }
    const result = await mongo()
      .collection('timesheet_entries')
      .replaceOne({ _id: row._id as never }, row);
    expect(result.matchedCount).toBe(1);
  }

  /** A's day paid 4 h more (worked seconds and body), and on MongoDB its `basis` raised too. */
  async function fourHoursMore(siteId: string, day: string, basis?: number): Promise<void> {
    const row = file
      ? (file
          .prepare('SELECT * FROM timesheet_days WHERE site_id = ? AND worker_id = ? AND day = ?')
          .get(siteId, A, day) as Row)
      : ((await mongo().collection('timesheet_days').findOne({ siteId, workerId: A, day })) as Row);
    const body = JSON.parse(row.body as string) as { workedSeconds: number };
    body.workedSeconds += 4 * 3600;
    if (file) {
      file
        .prepare(
          'UPDATE timesheet_days SET worked_seconds = ?, body = ? WHERE site_id = ? AND worker_id = ? AND day = ?',
        )
        .run(body.workedSeconds, JSON.stringify(body), siteId, A, day);
      return;
    }
    await mongo()
      .collection('timesheet_days')
      .updateOne(
        { siteId, workerId: A, day },
        {
          $set: {
            workedSeconds: body.workedSeconds,
            body: JSON.stringify(body),
            ...(basis !== undefined ? { basis } : {}),
          },
        },
      );
  }

  const payroll = (siteId: string) =>
    http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll?from=${FROM}&to=${TO}`, {
      key: t.keys.auditor,
    });

  async function workedSeconds(siteId: string): Promise<Record<string, number>> {
    const res = await payroll(siteId);
    expect([res.status, res.body?.code]).toEqual([200, undefined]);
    const body = res.body as { workers: Array<{ workerId: string; workedSeconds: number }> };
    return Object.fromEntries(body.workers.map((w) => [w.workerId, w.workedSeconds]));
  }

  async function tamperedSites(): Promise<string[]> {
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    const { tamperedSites = [] } = (
      health.body as { details: { timesheets: { tamperedSites?: Array<{ siteId: string }> } } }
    ).details.timesheets;
    return tamperedSites.map((s) => s.siteId);
  }

  /** A works 8 h on each of two days and B 12 h on the first; returns A's seqs by punch. */
  async function siteWithShifts(): Promise<{ siteId: string; seqs: number[] }> {
    const siteId = (await createSite(t.baseUrl, t.keys.admin, 'UTC')).siteId;
    A = workerId();
    B = workerId();
    const results = await appendTwoWorkersShifts(t, siteId, A, B, FROM, TO);
    expect(await workedSeconds(siteId)).toEqual({ [A]: 16 * 3600, [B]: 12 * 3600 });
    return { siteId, seqs: results.map((r) => r.log.seq) };
  }

  /** A's first day voided by an admin (its check-in and check-out): A is paid 8 h. */
  async function voidFirstDay(siteId: string, seqs: number[]): Promise<void> {
    for (const seq of seqs.slice(0, 2)) {
      const res = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
        body: { action: 'void', target: { siteId, seq }, reason: 'worked at another site' },
        key: t.keys.admin,
      });
      expect(res.status).toBe(201);
    }
    expect(await workedSeconds(siteId)).toEqual({ [A]: 8 * 3600, [B]: 12 * 3600 });
  }

  it('should refuse, never pay, the voided punches of entry rows from before the void put back, when a new punch recomputes the day', async () => {
    const { siteId, seqs } = await siteWithShifts();
    const saved = [await entryRow(siteId, seqs[0]), await entryRow(siteId, seqs[1])];
    await voidFirstDay(siteId, seqs);
    for (const row of saved) await putBack(row);
    // an ordinary event recomputes A's first day: a stray punch that evening
    await t.app
      .get(LedgerService)
      .append([punchEntry({ siteId, workerId: A, type: 'check_in', timestamp: at(FROM, 22) })]);
    const res = await payroll(siteId);
    expect([res.status, res.body?.code]).toEqual([503, 'timesheets_tampered']);
    expect(t.logs()).toMatch(
      new RegExp(`"siteId":"${siteId}","workerId":"${A}","seq":${seqs[0]}.*changed outside`),
    );
    expect(await tamperedSites()).toContain(siteId);
    // the remedy: npm run timesheets:rebuild (the same code, for this site)
    await t.app.get(TimesheetProjector).rebuildSite(siteId);
    expect(await workedSeconds(siteId)).toEqual({ [A]: 8 * 3600, [B]: 12 * 3600 });
    expect(await tamperedSites()).not.toContain(siteId);
  });

  it("should refuse, never pay, entry rows from before a void put back when a changed day's repair recomputes them", async () => {
    const { siteId, seqs } = await siteWithShifts();
    const saved = [await entryRow(siteId, seqs[0]), await entryRow(siteId, seqs[1])];
    await voidFirstDay(siteId, seqs);
    for (const row of saved) await putBack(row);
    // nothing recomputes A's days but the read's repair of the day changed
    await fourHoursMore(siteId, FROM);
    const res = await payroll(siteId);
    expect([res.status, res.body?.code]).toEqual([503, 'timesheets_tampered']);
    await t.app.get(TimesheetProjector).rebuildSite(siteId);
    expect(await workedSeconds(siteId)).toEqual({ [A]: 8 * 3600, [B]: 12 * 3600 });
  });

  it('should refuse an entry row put back from before its void was voided (undone)', async () => {
    const { siteId, seqs } = await siteWithShifts();
    const voidOf = async (seq: number, reason: string) => {
      const res = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
        body: { action: 'void', target: { siteId, seq }, reason },
        key: t.keys.admin,
      });
      expect(res.status).toBe(201);
      return (res.body as { seq: number }).seq;
    };
    // A's first check-in voided, then that void voided: A is paid both days again
    const first = await voidOf(seqs[0], 'not a punch of A');
    expect((await workedSeconds(siteId))[A]).toBe(8 * 3600);
    const saved = await entryRow(siteId, seqs[0]);
    await voidOf(first, 'it was');
    expect((await workedSeconds(siteId))[A]).toBe(16 * 3600);
    // the copy from between says the check-in is voided (and names the first void only)
    await putBack(saved);
    await t.app
      .get(LedgerService)
      .append([punchEntry({ siteId, workerId: A, type: 'check_in', timestamp: at(FROM, 22) })]);
    const res = await payroll(siteId);
    expect([res.status, res.body?.code]).toEqual([503, 'timesheets_tampered']);
  });

  it('should pay a changed day as the ledger says and tag it again', async () => {
    const { siteId } = await siteWithShifts();
    await fourHoursMore(siteId, FROM);
    expect(await workedSeconds(siteId)).toEqual({ [A]: 16 * 3600, [B]: 12 * 3600 });
  });

  it('should pay a changed day whose basis was raised as the ledger says, and keep recomputing it (MongoDB basis)', async () => {
    const { siteId } = await siteWithShifts();
    await fourHoursMore(siteId, FROM, 1e12);
    expect(await workedSeconds(siteId)).toEqual({ [A]: 16 * 3600, [B]: 12 * 3600 });
    // repaired: a new shift of A that day is paid (the day is not held at a basis no
    // recompute reaches)
    await t.app
      .get(LedgerService)
      .append([
        punchEntry({ siteId, workerId: A, type: 'check_in', timestamp: at(FROM, 18) }),
        punchEntry({ siteId, workerId: A, type: 'check_out', timestamp: at(FROM, 20) }),
      ]);
    expect(await workedSeconds(siteId)).toEqual({ [A]: 18 * 3600, [B]: 12 * 3600 });
  });

  // SQLite stores no basis: there the test would pass without raising anything
  itOnMongo(
    'should recompute a day whose basis alone was raised (its tag still verifies) when its entries change (MongoDB basis)',
    async () => {
      const { siteId } = await siteWithShifts();
      const result = await mongo()
        .collection('timesheet_days')
        .updateOne({ siteId, workerId: A, day: FROM }, { $set: { basis: 1e12 } });
      expect(result.modifiedCount).toBe(1);
      await t.app
        .get(LedgerService)
        .append([
          punchEntry({ siteId, workerId: A, type: 'check_in', timestamp: at(FROM, 18) }),
          punchEntry({ siteId, workerId: A, type: 'check_out', timestamp: at(FROM, 20) }),
        ]);
      expect(await workedSeconds(siteId)).toEqual({ [A]: 18 * 3600, [B]: 12 * 3600 });
    },
  );

  it('should answer 503 timesheets_tampered once a changed entry is read, and pay the ledger after a rebuild', async () => {
    const { siteId, seqs } = await siteWithShifts();
    const row = await entryRow(siteId, seqs[1]);
    if (file) {
      file
        .prepare(
          'UPDATE timesheet_entries SET effective_at = effective_at + ?, at = at + ? WHERE site_id = ? AND seq = ?',
        )
        .run(4 * H, 4 * H, siteId, seqs[1]);
    } else {
      await mongo()
        .collection('timesheet_entries')
        .updateOne(
          { _id: row._id as never },
          {
            $set: {
              effectiveAt: (row.effectiveAt as number) + 4 * H,
              at: (row.at as number) + 4 * H,
            },
          },
        );
    }
    await t.app
      .get(LedgerService)
      .append([punchEntry({ siteId, workerId: A, type: 'check_in', timestamp: at(FROM, 22) })]);
    const res = await payroll(siteId);
    expect([res.status, res.body?.code]).toEqual([503, 'timesheets_tampered']);
    expect(await tamperedSites()).toContain(siteId);
    await t.app.get(TimesheetProjector).rebuildSite(siteId);
    expect((await workedSeconds(siteId))[A]).toBe(16 * 3600);
  });
});
