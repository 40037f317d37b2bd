import { MongoStore, Store } from '@app/persistence';
import { withStoreFile } from './support/tamper';
import { http, startTestApp, TestApp } from './support/test-app';
import {
  ago,
  createSite,
  crewPhone,
  punch,
  signedBy,
  sync,
  thekedarWithDevice,
} from './support/timesheet-client';

/**
 * Stored text is canonical (red team, HIGH): a worker's `sponsor` rewritten in the SQLite file
 * with a duplicate `thekedarId` (`{"kind":"thekedar","thekedarId":"<T2>","kind":…,"thekedarId":
 * "<T1>"}`) is read by the crew query (`json_extract`, the first key) as T2's and by the tag
 * (`JSON.parse`, the last key) as T1's: it verified, and T2 read and voided the worker's
 * shifts. A stored text that is not the one the server writes for its parsed value reads
 * tampered: the worker is no one's crew and refused (`worker_tampered`). On MongoDB the same
 * move (`sponsor.thekedarId` an array holding both) fails the tag.
 */
describe('worker sponsor with a duplicate key in the database (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  }, 120_000);
  afterAll(async () => t.close());

  it("should not let another thekedar read or void a worker moved into its crew by a duplicate thekedarId, and refuse the worker's payroll", async () => {
    const { siteId } = await createSite(t.baseUrl, t.keys.admin);
    const t1 = await thekedarWithDevice(t.baseUrl, t.keys.admin, [siteId]);
    const t2 = await thekedarWithDevice(t.baseUrl, t.keys.admin, [siteId]);
    const w = await crewPhone(t.baseUrl, t1, siteId, new Date().toISOString());
    const shift = await sync(t.baseUrl, w, [
      punch(w, 'check_in', ago(240_000)),
      punch(w, 'check_out', ago(1_000)),
    ]);
    expect(shift.accepted).toBe(2);
    const checkOut = shift.results[1].seq!;
    const day = (offset: number) =>
      new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const period = `from=${day(-2)}&to=${day(2)}`;
    const payroll = async () => {
      for (;;) {
        const res = await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll?${period}`, {
          key: t.keys.admin,
        });
        if (res.body?.code !== 'timesheets_behind') return res;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const before = await payroll();
    expect(before.status).toBe(200);
    expect(before.body.workers[0].workedSeconds).toBeGreaterThan(0);

    if (t.config.database.driver === 'sqlite') {
      withStoreFile(t, (db) =>
        db
          .prepare(
            `UPDATE workers SET sponsor = '{"kind":"thekedar","thekedarId":"' || ? || '",' || substr(sponsor, 2) WHERE id = ?`,
          )
          .run(t2.thekedarId, w.workerId),
      );
    } else {
      await t.app
        .get<Store, MongoStore>(Store)
        .connection.collection('workers')
        .updateOne(
          { _id: w.workerId as never },
          {
            $set: { 'sponsor.thekedarId': [t2.thekedarId, t1.thekedarId] },
          },
        );
    }

    const worker = await http(t.baseUrl, 'GET', `/api/v5/workers/${w.workerId}`, {
      key: t.keys.admin,
    });
    expect(worker.body.integrity).toBe('tampered');
    const path = `/api/v5/sites/${siteId}/timesheets?${period}&workerId=${w.workerId}`;
    const read = await http(t.baseUrl, 'GET', path, {
      headers: signedBy(t2, { method: 'GET', path }, new Date().toISOString()),
    });
    expect([read.status, read.body.code]).toEqual([403, 'worker_not_in_crew']);
    const body = { action: 'void', target: { siteId, seq: checkOut }, reason: 'not on site' };
    const voided = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      body,
      headers: signedBy(t2, body, new Date().toISOString()),
    });
    expect([voided.status, voided.body.code]).toEqual([403, 'worker_not_in_crew']);
    const after = await payroll();
    expect([after.status, after.body.code]).toEqual([503, 'worker_tampered']);
  }, 120_000);
});
