import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { ManualClock } from '@app/common';
import { LedgerService } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { MongoStore, Store } from '@app/persistence';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { http, startTestApp, TestApp } from './support/test-app';
import { openStoreFile } from './support/tamper';
import { recordWorkersOf } from './support/ledger-workers';
import { createSite } from './support/timesheet-client';

const workerId = () => randomBytes(12).toString('hex');
const FROM = '2026-03-02';
const TO = '2026-03-03';
const H = 3_600_000;
const at = (day: string, hour: number) =>
  new Date(Date.parse(`${day}T00:00:00.000Z`) + hour * H).toISOString();

type Row = Record<string, unknown>;

/**
 * Review LV #6: a correction's entry row deleted together with its target's row put back from
 * before it (a database writer, no TLOG_SIGNING_KEY: both rows carry valid tags, and the
 * target names no correction the store holds, so nothing looks stale) was paid until the next
 * start, the only time the count of a site's entries against their highest seq ran (with no
 * position for the site). A catch-up now counts them too, at most once a minute per site, and a
 * hole is taken as at start-up: logged, the chain re-read from 0, the deleted entries stored
 * again with the states of their trees. On the suite store (SQLite file or MongoDB).
 */
describe('timesheet read model: a correction row deleted with its target put back (e2e)', () => {
  let t: TestApp;
  const clock = new ManualClock();
  /** SQLite: a connection of its own to the server's file (absent on MongoDB). */
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

  const entries = () =>
    t.app.get<Store, MongoStore>(Store).connection.collection('timesheet_entries');

  async function entryRow(siteId: string, seq: number): Promise<Row> {
    const row = file
      ? (file
          .prepare('SELECT * FROM timesheet_entries WHERE site_id = ? AND seq = ?')
          .get(siteId, seq) as Row | undefined)
      : ((await entries().findOne({ siteId, seq })) as Row | null);
    if (!row) throw new Error(`no entry ${siteId}/${seq}`);
    return row;
  }

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
    expect((await entries().replaceOne({ _id: row._id as never }, row)).matchedCount).toBe(1);
  }

  async function deleteEntries(siteId: string, seqs: number[]): Promise<void> {
    if (file) {
      const del = file.prepare('DELETE FROM timesheet_entries WHERE site_id = ? AND seq = ?');
      for (const seq of seqs) expect(del.run(siteId, seq).changes).toBe(1);
      return;
    }
    expect((await entries().deleteMany({ siteId, seq: { $in: seqs } })).deletedCount).toBe(
      seqs.length,
    );
  }

  async function workedSeconds(siteId: string): Promise<Record<string, number>> {
    const res = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll?from=${FROM}&to=${TO}`,
      { key: t.keys.auditor },
    );
    expect([res.status, res.body?.code]).toEqual([200, undefined]);
    const body = res.body as { workers: Array<{ workerId: string; workedSeconds: number }> };
    return Object.fromEntries(body.workers.map((w) => [w.workerId, w.workedSeconds]));
  }

  it('should pay the ledger again within a minute once a catch-up finds the correction row gone', async () => {
    const siteId = (await createSite(t.baseUrl, t.keys.admin, 'UTC')).siteId;
    const A = workerId();
    const punch = (type: 'check_in' | 'check_out', timestamp: string) =>
      punchEntry({ siteId, workerId: A, type, timestamp });
    const shifts = [
      punch('check_in', at(FROM, 8)),
      punch('check_out', at(FROM, 16)),
      punch('check_in', at(TO, 8)),
      punch('check_out', at(TO, 16)),
    ];
    await recordWorkersOf(t.app, shifts);
    const ledger = t.app.get(LedgerService);
    await ledger.append(shifts);
    expect(await workedSeconds(siteId)).toEqual({ [A]: 16 * 3600 });

    // A's first shift voided (seqs 5 and 6); the rows of its punches saved before
    const saved = [await entryRow(siteId, 1), await entryRow(siteId, 2)];
    for (const seq of [1, 2]) {
      const res = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
        body: { action: 'void', target: { siteId, seq }, reason: 'worked at another site' },
        key: t.keys.admin,
      });
      expect(res.status).toBe(201);
    }
    expect(await workedSeconds(siteId)).toEqual({ [A]: 8 * 3600 });

    // the voids' rows deleted, the punches' rows put back: a new punch recomputes the day
    await deleteEntries(siteId, [5, 6]);
    for (const row of saved) await putBack(row);
    await ledger.append([punch('check_in', at(FROM, 22))]);

    const repo = t.app.get(TimesheetRepository);
    const counts = jest.spyOn(repo, 'countThrough');
    try {
      // within the minute of the site's last count, a read does not count again
      await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll?from=${FROM}&to=${TO}`, {
        key: t.keys.auditor,
      });
      expect(counts.mock.calls.filter(([site]) => site === siteId)).toEqual([]);

      // a minute on: the catch-up counts, finds the hole, re-reads the chain, pays the ledger
      clock.advance(61_000);
      expect(await workedSeconds(siteId)).toEqual({ [A]: 8 * 3600 });
      expect(counts.mock.calls.filter(([site]) => site === siteId)).toHaveLength(1);
      expect(t.logs()).toMatch(
        new RegExp(`"siteId":"${siteId}","count":5,"maxSeq":7.*gap; re-reading the chain`),
      );
      // and once a minute only
      expect(await workedSeconds(siteId)).toEqual({ [A]: 8 * 3600 });
      expect(counts.mock.calls.filter(([site]) => site === siteId)).toHaveLength(1);
    } finally {
      counts.mockRestore();
    }
  });
});
