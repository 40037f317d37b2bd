import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { TimesheetProjector } from '@app/timesheets';
import { http, startTestApp, TestApp } from './support/test-app';
import { paidSeqsOf, sealedThreeLinkSite, timesheetsOf } from './support/shifts';

/**
 * The ledger's rows deleted and put back straight in the store (SQLite: the app's file, its
 * append-only trigger dropped first; MongoDB: its collection): what someone who can write the
 * database but not read TLOG_SIGNING_KEY can do.
 */
function ledgerRows(t: TestApp) {
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    const logs = store.connection.collection('attendance_logs');
    return {
      async cut(siteId: string, seqs: number[]): Promise<() => Promise<void>> {
        const docs = await logs.find({ siteId, seq: { $in: seqs } }).toArray();
        expect((await logs.deleteMany({ siteId, seq: { $in: seqs } })).deletedCount).toBe(
          seqs.length,
        );
        return async () => {
          await logs.insertMany(docs);
        };
      },
    };
  }
  const db = (store as SqliteStore).db;
  return {
    async cut(siteId: string, seqs: number[]): Promise<() => Promise<void>> {
      db.exec('DROP TRIGGER IF EXISTS attendance_logs_append_only_delete');
      const rows = seqs.map(
        (seq) =>
          db
            .prepare('SELECT * FROM attendance_logs WHERE site_id = ? AND seq = ?')
            .get(siteId, seq) as Record<string, unknown>,
      );
      const del = db.prepare('DELETE FROM attendance_logs WHERE site_id = ? AND seq = ?');
      for (const seq of seqs) expect(del.run(siteId, seq).changes).toBe(1);
      return async () => {
        for (const row of rows) {
          const columns = Object.keys(row);
          db.prepare(
            `INSERT INTO attendance_logs (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
          ).run(...columns.map((c) => row[c]));
        }
      };
    },
  };
}

const DAY = '2026-03-02';

/**
 * Review of LV #4, H1: deleting the sealed tail of a site's chain (links S..head) left nothing
 * after the head to read and fail, so the catch-up cleared the site's stop (or never set one on a
 * rebuild) and paid the site short with 200 and a clean /health; deleting one sealed link in the
 * middle named the next link (`prev_hash_mismatch`). The chain's head is now compared with the
 * latest checkpoint's size and each link's seq with the one expected: a sealed stop at the first
 * missing seq, reason `link_missing`, cleared once the links are put back.
 */
describe('timesheet read model: sealed ledger links deleted (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  const timesheets = (siteId: string) => timesheetsOf(t, siteId, DAY);
  const paidSeqs = (siteId: string) => paidSeqsOf(t, siteId, DAY);
  /** A site whose three links (Asha's shift, Bina's check-in) are sealed and paid. */
  const sealedSite = () => sealedThreeLinkSite(t, DAY);

  async function expectStopped(siteId: string, seq: number): Promise<void> {
    const res = await timesheets(siteId);
    expect([res.status, res.body?.code]).toEqual([503, 'timesheets_ledger_unverified']);
    expect(res.body.message).toContain(`link ${seq}`);
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.details.timesheets.stoppedSites).toEqual([
      expect.objectContaining({ siteId, seq, reason: 'link_missing' }),
    ]);
  }

  it('should stop a site whose sealed tail was cut, on the next catch-up and on a rebuild, until it is put back', async () => {
    const siteId = await sealedSite();
    const putBack = await ledgerRows(t).cut(siteId, [2, 3]);
    // the read model holds 1..3: its next catch-up finds the head (1) below the checkpoint (3)
    await expectStopped(siteId, 2);
    // read again from 0: links 2 and 3 are not paid, the site stays stopped
    await t.app.get(TimesheetProjector).rebuildSite(siteId);
    await expectStopped(siteId, 2);
    await putBack();
    expect(await paidSeqs(siteId)).toEqual([1, 2, 3]);
  });

  it('should stop at the last sealed link deleted from the tail, and not clear a stop there', async () => {
    const siteId = await sealedSite();
    const putBack = await ledgerRows(t).cut(siteId, [3]);
    await t.app.get(TimesheetProjector).rebuildSite(siteId);
    await expectStopped(siteId, 3);
    // reads again (the stored link still missing) keep the stop
    await expectStopped(siteId, 3);
    await putBack();
    expect(await paidSeqs(siteId)).toEqual([1, 2, 3]);
  });

  it('should name a deleted sealed link in the middle (not the next link)', async () => {
    const siteId = await sealedSite();
    const putBack = await ledgerRows(t).cut(siteId, [2]);
    await t.app.get(TimesheetProjector).rebuildSite(siteId);
    await expectStopped(siteId, 2);
    await putBack();
    await t.app.get(TimesheetProjector).rebuildSite(siteId);
    expect(await paidSeqs(siteId)).toEqual([1, 2, 3]);
  });
});
