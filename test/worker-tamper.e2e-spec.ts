import { MongoStore } from '@app/persistence';
import { editStore, tamperApp } from './support/tamper';
import { http } from './support/test-app';
import { enrollPhone, Phone, refreshToken, signPacket, syncBatch } from './support/worker-client';

/**
 * A worker's record changed by someone who can write the database (but holds no key): the row
 * carries the server's store-MAC tag (WorkerSeal), bound to the worker's newest event, so a
 * deactivated worker set active (its `deactivated` event deleted), a site added, another phone
 * or a raised trust score leaves the worker refused wherever it is used (403 worker_tampered at
 * sync and token refresh, 503 worker_tampered at the payroll), and listed `tampered`. The row
 * deleted (the server never deletes a worker) is refused the same.
 */
const SITE = { lat: 28.6139, lng: 77.209 };

describe('worker record changed outside the server (e2e)', () => {
  const app = tamperApp();
  const { clock, admin } = app;
  /** Runs `sql` on the SQLite file, or `mongo` on the workers collection, as a database writer. */
  const edit = (
    sql: (db: import('better-sqlite3').Database) => void,
    mongo: (workers: ReturnType<MongoStore['connection']['collection']>) => Promise<unknown>,
  ) => editStore(app.t, sql, (c) => mongo(c.collection('workers')));
  const packet = (p: Phone, siteId = p.siteId) =>
    signPacket(p, {
      siteId,
      timestamp: clock.now().toISOString(),
      geo: { ...SITE, accuracyM: 10 },
    });
  const integrityOf = async (workerId: string) =>
    (await admin('GET', `/api/v5/workers/${workerId}`)).body.integrity;

  it('should keep refusing a deactivated worker set active with its deactivation deleted in the database', async () => {
    const p = await enrollPhone(app.t.baseUrl, app.t.keys.admin, undefined, {
      simHash: 'wt-tamper-01',
    });
    expect(await integrityOf(p.workerId)).toBe('verified');
    const off = await admin('POST', `/api/v5/workers/${p.workerId}/deactivate`, {
      reason: 'left the site',
    });
    expect(off.status).toBe(200);
    expect((await syncBatch(app.t.baseUrl, p.token, [packet(p)])).body.code).toBe(
      'worker_inactive',
    );

    await edit(
      (db) => {
        db.prepare("UPDATE workers SET status = 'active' WHERE id = ?").run(p.workerId);
        db.prepare("DELETE FROM worker_events WHERE action = 'deactivated'").run();
      },
      (workers) =>
        workers.updateOne({ _id: p.workerId as never }, {
          $set: { status: 'active' },
          $pull: { events: { action: 'deactivated' } },
        } as never),
    );

    const sync = await syncBatch(app.t.baseUrl, p.token, [packet(p)]);
    expect([sync.status, sync.body.code]).toEqual([403, 'worker_tampered']);
    const refresh = await refreshToken(app.t.baseUrl, p, clock.now().toISOString());
    expect([refresh.status, refresh.body.code]).toEqual([403, 'worker_tampered']);
    expect(await admin('GET', `/api/v5/workers/${p.workerId}`)).toMatchObject({
      status: 200,
      body: { status: 'active', integrity: 'tampered' },
    });
    // no admin change vouches for the stored fields
    const rename = await admin('PATCH', `/api/v5/workers/${p.workerId}`, { name: 'Gita' });
    expect([rename.status, rename.body.code]).toEqual([403, 'worker_tampered']);
  });

  it('should refuse a worker whose sites were widened, or whose trust score was raised, in the database', async () => {
    const p = await enrollPhone(app.t.baseUrl, app.t.keys.admin, undefined, {
      simHash: 'wt-tamper-02',
    });
    const q = await enrollPhone(app.t.baseUrl, app.t.keys.admin, undefined, {
      simHash: 'wt-tamper-03',
    });
    const other = await admin('POST', '/api/v5/sites', {
      name: 'Unassigned',
      geo: SITE,
      radiusM: 150,
    });
    expect(other.status).toBe(201);
    const siteIds = [p.siteId, other.body.siteId as string];
    await edit(
      (db) => {
        db.prepare('UPDATE workers SET site_ids = ? WHERE id = ?').run(
          JSON.stringify(siteIds),
          p.workerId,
        );
        db.prepare('UPDATE workers SET trust_score = 100 WHERE id = ?').run(q.workerId);
      },
      async (workers) => {
        await workers.updateOne({ _id: p.workerId as never }, { $set: { siteIds } });
        await workers.updateOne({ _id: q.workerId as never }, { $set: { trustScore: 100 } });
      },
    );
    for (const phone of [p, q]) {
      const refresh = await refreshToken(app.t.baseUrl, phone, clock.now().toISOString());
      expect([refresh.status, refresh.body.code]).toEqual([403, 'worker_tampered']);
      const sync = await syncBatch(app.t.baseUrl, phone.token, [packet(phone)]);
      expect([sync.status, sync.body.code]).toEqual([403, 'worker_tampered']);
      expect(await integrityOf(phone.workerId)).toBe('tampered');
    }
  });

  /** The payroll of the site around the clock's day (once the read model caught up). */
  const payrollOf = async (siteId: string) => {
    const day = clock.now().toISOString().slice(0, 10);
    const from = new Date(Date.parse(day) - 86_400_000).toISOString().slice(0, 10);
    const to = new Date(Date.parse(day) + 86_400_000).toISOString().slice(0, 10);
    for (;;) {
      const res = await http(
        app.t.baseUrl,
        'GET',
        `/api/v5/sites/${siteId}/payroll?from=${from}&to=${to}`,
        { key: app.t.keys.admin },
      );
      if (res.body?.code !== 'timesheets_behind') return res;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  it("should refuse the payroll of a site whose worker's name and phone were changed in the database", async () => {
    const p = await enrollPhone(app.t.baseUrl, app.t.keys.admin, undefined, {
      simHash: 'wt-tamper-04',
    });
    const sync = await syncBatch(app.t.baseUrl, p.token, [packet(p)]);
    expect([sync.status, sync.body.accepted]).toEqual([200, 1]);
    const payroll = () => payrollOf(p.siteId);
    const before = await payroll();
    expect(before.status).toBe(200);
    expect(before.body.workers.map((w: { workerId: string }) => w.workerId)).toEqual([p.workerId]);

    await edit(
      (db) =>
        db
          .prepare('UPDATE workers SET name = ?, phone = ? WHERE id = ?')
          .run('Someone Else', '+919000000001', p.workerId),
      (workers) =>
        workers.updateOne(
          { _id: p.workerId as never },
          { $set: { name: 'Someone Else', phone: '+919000000001' } },
        ),
    );
    const after = await payroll();
    expect([after.status, after.body.code]).toEqual([503, 'worker_tampered']);
    expect(after.body.errors).toEqual([{ field: 'workerId', message: p.workerId }]);
  });

  it('should refuse the payroll of a site whose worker with only refused punches had its sites changed in the database', async () => {
    const p = await enrollPhone(app.t.baseUrl, app.t.keys.admin, undefined, {
      simHash: 'wt-tamper-06',
    });
    // its one punch refused (signed two hours ahead of the server's clock): no day, a refused punch
    const ahead = signPacket(p, {
      siteId: p.siteId,
      timestamp: new Date(clock.now().getTime() + 2 * 3_600_000).toISOString(),
      geo: { ...SITE, accuracyM: 10 },
    });
    const sync = await syncBatch(app.t.baseUrl, p.token, [ahead]);
    expect([sync.status, sync.body.accepted, sync.body.results[0].reason]).toEqual([
      200,
      0,
      'timestamp_in_future',
    ]);
    const before = await payrollOf(p.siteId);
    expect(before.status).toBe(200);
    expect(
      before.body.workers.map((w: { workerId: string; refusedPunches: number }) => [
        w.workerId,
        w.refusedPunches,
      ]),
    ).toEqual([[p.workerId, 1]]);

    // moved off the site in the database: were its record trusted, it would be no row here
    const elsewhere = await admin('POST', '/api/v5/sites', {
      name: 'Elsewhere',
      geo: SITE,
      radiusM: 150,
    });
    expect(elsewhere.status).toBe(201);
    const siteIds = [elsewhere.body.siteId as string];
    await edit(
      (db) =>
        db
          .prepare('UPDATE workers SET site_ids = ? WHERE id = ?')
          .run(JSON.stringify(siteIds), p.workerId),
      (workers) => workers.updateOne({ _id: p.workerId as never }, { $set: { siteIds } }),
    );
    const after = await payrollOf(p.siteId);
    expect([after.status, after.body.code]).toEqual([503, 'worker_tampered']);
    expect(after.body.errors).toEqual([{ field: 'workerId', message: p.workerId }]);
  });

  it("should refuse a worker's phone once the worker's record was deleted in the database", async () => {
    const p = await enrollPhone(app.t.baseUrl, app.t.keys.admin, undefined, {
      simHash: 'wt-tamper-05',
    });
    const sync = await syncBatch(app.t.baseUrl, p.token, [packet(p)]);
    expect([sync.status, sync.body.accepted]).toEqual([200, 1]);
    const off = await admin('POST', `/api/v5/workers/${p.workerId}/deactivate`, {
      reason: 'fired',
    });
    expect(off.status).toBe(200);

    // the fired worker's row and its events deleted: no status, no tag left to check
    await edit(
      (db) => {
        db.prepare('DELETE FROM worker_events WHERE worker_id = ?').run(p.workerId);
        db.prepare('DELETE FROM workers WHERE id = ?').run(p.workerId);
      },
      (workers) => workers.deleteOne({ _id: p.workerId as never }),
    );
    expect((await admin('GET', `/api/v5/workers/${p.workerId}`)).status).toBe(404);

    const again = await syncBatch(app.t.baseUrl, p.token, [packet(p)]);
    expect([again.status, again.body.code]).toEqual([403, 'worker_tampered']);
    const refresh = await refreshToken(app.t.baseUrl, p, clock.now().toISOString());
    expect([refresh.status, refresh.body.code]).toEqual([403, 'worker_tampered']);
  });
});
