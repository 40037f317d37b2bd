import { editStore } from './support/tamper';
import { startTestApp, TestApp } from './support/test-app';
import { verifyLedger } from './support/ledger-client';
import { ago, createSite, phoneAt, punch, sync } from './support/timesheet-client';

/**
 * The fraud screen's lookups (a worker's previous packet for impossible_travel and rapid_repeat,
 * a device's workers) read, on MongoDB, the top-level copies `workerId`, `deviceId` and `at` a
 * link keeps beside its hashed `data`; SQLite's read `data` itself. A copy changed in the store
 * (a packet hidden from its worker's history) steered the screen and verified: it now reads as
 * its data changed would, record_hash_mismatch at that link (docs/architecture.md, "Stored text
 * is canonical"). On SQLite the same move is the data's `workerId` changed.
 */
describe('ledger lookup copies changed in the database (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  }, 120_000);
  afterAll(async () => t.close());

  it("should read a packet hidden from its worker's history (its worker copy changed) as a broken chain", async () => {
    const { siteId } = await createSite(t.baseUrl, t.keys.admin);
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const synced = await sync(t.baseUrl, phone, [
      punch(phone, 'check_in', ago(240_000)),
      punch(phone, 'check_out', ago(120_000)),
    ]);
    expect(synced.accepted).toBe(2);
    expect(await verifyLedger(t, siteId)).toMatchObject({ ok: true, length: 2 });

    await editStore(
      t,
      (db) => {
        db.exec('DROP TRIGGER IF EXISTS attendance_logs_append_only_update');
        db.prepare(
          `UPDATE attendance_logs SET data = json_set(data, '$.workerId', 'someone-else') WHERE site_id = ? AND seq = 1`,
        ).run(siteId);
      },
      (c) =>
        c
          .collection('attendance_logs')
          .updateOne({ siteId, seq: 1 }, { $set: { workerId: 'someone-else' } }),
    );

    expect(await verifyLedger(t, siteId)).toMatchObject({
      ok: false,
      brokenAtSeq: 1,
      reason: 'record_hash_mismatch',
    });
  }, 120_000);
});
