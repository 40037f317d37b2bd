import { editStore, tamperApp } from './support/tamper';
import { http } from './support/test-app';
import {
  createSite,
  crewPhone,
  phoneAt,
  punch,
  signedBy,
  sync,
  thekedarWithDevice,
} from './support/timesheet-client';
import { nextPhoneNumber, syncBatch } from './support/worker-client';

/**
 * A site's or a thekedar's record changed by someone who can write the database (but holds no
 * key): the rows carry the server's store-MAC tags (SiteSeal, ThekedarSeal), so a site's time
 * zone (the local day each punch falls on: payroll's days) or geofence (the fraud screen's
 * circle) changed, or a thekedar's sites widened, is refused wherever a decision reads it
 * (503 site_tampered for syncs, timesheets, payroll and CSV; 403 thekedar_tampered for the
 * thekedar's signed requests; 403 for an admin's change), while honest sites and thekedars go
 * on. A worker whose row was deleted with its entries left is refused by the payroll too.
 */
describe('site and thekedar records changed outside the server (e2e)', () => {
  const app = tamperApp();
  const { clock, admin } = app;

  const day = (offset: number) =>
    new Date(clock.now().getTime() + offset * 86_400_000).toISOString().slice(0, 10);
  const period = () => `from=${day(-2)}&to=${day(1)}`;

  /** A read of the site's timesheets (`what`: payroll, timesheets, timesheets.csv), caught up. */
  async function read(siteId: string, what: string) {
    for (;;) {
      const res = await admin('GET', `/api/v5/sites/${siteId}/${what}?${period()}`);
      if (res.body?.code !== 'timesheets_behind') return res;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** A site with a phone that synced one shift today. */
  async function siteWithShift(timeZone = 'Asia/Kolkata') {
    const site = await createSite(app.t.baseUrl, app.t.keys.admin, timeZone);
    const phone = await phoneAt(app.t.baseUrl, app.t.keys.admin, site.siteId);
    // punched after the phone's registration, on the server's (manual) clock
    clock.advance(60_000);
    const checkIn = punch(phone, 'check_in', clock.now().toISOString());
    clock.advance(2 * 3_600_000);
    const checkOut = punch(phone, 'check_out', clock.now().toISOString());
    clock.advance(60_000);
    const out = await sync(app.t.baseUrl, phone, [checkIn, checkOut]);
    expect(out.accepted).toBe(2);
    return { siteId: site.siteId, phone };
  }

  it("should refuse the timesheets, payroll and CSV of a site whose time zone was changed in the database, and an admin's change of it", async () => {
    const honest = await siteWithShift();
    const moved = await siteWithShift();
    expect((await read(moved.siteId, 'payroll')).status).toBe(200);
    expect((await admin('GET', `/api/v5/sites/${moved.siteId}`)).body.integrity).toBe('verified');

    await editStore(
      app.t,
      (db) =>
        db
          .prepare("UPDATE sites SET time_zone = 'Pacific/Kiritimati' WHERE id = ?")
          .run(moved.siteId),
      (c) =>
        c
          .collection('sites')
          .updateOne({ _id: moved.siteId as never }, { $set: { timeZone: 'Pacific/Kiritimati' } }),
    );
    for (const what of ['payroll', 'timesheets', 'timesheets.csv']) {
      const res = await read(moved.siteId, what);
      expect([what, res.status, res.body.code]).toEqual([what, 503, 'site_tampered']);
      expect(res.body.errors).toEqual([{ field: 'siteId', message: moved.siteId }]);
    }
    expect(await admin('GET', `/api/v5/sites/${moved.siteId}`)).toMatchObject({
      status: 200,
      body: { timeZone: 'Pacific/Kiritimati', integrity: 'tampered' },
    });
    const rename = await admin('PATCH', `/api/v5/sites/${moved.siteId}`, { name: 'Renamed' });
    expect([rename.status, rename.body.code]).toEqual([403, 'site_tampered']);
    // no worker is given it either
    const given = await admin('POST', '/api/v5/workers', {
      name: 'New',
      phone: nextPhoneNumber('+91 98763'),
      siteIds: [moved.siteId],
    });
    expect([given.status, given.body.code]).toEqual([403, 'site_tampered']);

    // the honest site is paid as before, and the server's own change of it stays verified
    const pay = await read(honest.siteId, 'payroll');
    expect(pay.status).toBe(200);
    expect(pay.body.workers).toHaveLength(1);
    const radius = await admin('PATCH', `/api/v5/sites/${honest.siteId}`, { radiusM: 300 });
    expect(radius).toMatchObject({ status: 200, body: { radiusM: 300, integrity: 'verified' } });
    expect((await read(honest.siteId, 'payroll')).status).toBe(200);
  });

  it('should refuse a sync for a site whose geofence was moved in the database, storing nothing', async () => {
    const { siteId, phone } = await siteWithShift();
    // the geofence moved to where the attacker punches from (Bengaluru), widened
    await editStore(
      app.t,
      (db) =>
        db
          .prepare('UPDATE sites SET lat = 12.97, lng = 77.59, radius_m = 100000 WHERE id = ?')
          .run(siteId),
      (c) =>
        c
          .collection('sites')
          .updateOne(
            { _id: siteId as never },
            { $set: { geo: { lat: 12.97, lng: 77.59 }, radiusM: 100000 } },
          ),
    );
    const far = punch(phone, 'check_in', clock.now().toISOString(), {
      lat: 12.97,
      lng: 77.59,
      accuracyM: 8,
    });
    const res = await syncBatch(app.t.baseUrl, phone.token, [far]);
    expect([res.status, res.body.code]).toEqual([503, 'site_tampered']);
    expect(res.body.errors).toEqual([{ field: 'siteId', message: siteId }]);
    // the phone is told when to retry (review L1)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    // nothing was stored: the ledger still holds the first shift only
    const checkpoint = await http(app.t.baseUrl, 'GET', `/api/v5/ledger/${siteId}/checkpoint`, {
      key: app.t.keys.auditor,
    });
    expect(checkpoint.status).toBe(200);
    expect(checkpoint.body.size ?? checkpoint.body.treeSize).toBe(2);
  });

  it("should refuse a thekedar whose sites were widened in the database, and keep an honest thekedar's requests working", async () => {
    const own = await createSite(app.t.baseUrl, app.t.keys.admin);
    const other = await createSite(app.t.baseUrl, app.t.keys.admin);
    const k = await thekedarWithDevice(app.t.baseUrl, app.t.keys.admin, [own.siteId]);
    const honest = await thekedarWithDevice(app.t.baseUrl, app.t.keys.admin, [own.siteId]);
    const signedGet = (by: typeof k, path: string) => {
      clock.advance(1000); // a signature is single use: each request its own timestamp
      return http(app.t.baseUrl, 'GET', path, {
        headers: signedBy(by, { method: 'GET', path }, clock.now().toISOString()),
      });
    };
    const otherPayroll = `/api/v5/sites/${other.siteId}/payroll?${period()}`;
    expect((await signedGet(k, otherPayroll)).body.code).toBe('site_not_allowed');

    const widened = [own.siteId, other.siteId].sort();
    await editStore(
      app.t,
      (db) =>
        db
          .prepare('UPDATE thekedars SET site_ids = ? WHERE id = ?')
          .run(JSON.stringify(widened), k.thekedarId),
      (c) =>
        c
          .collection('thekedars')
          .updateOne({ _id: k.thekedarId as never }, { $set: { siteIds: widened } }),
    );
    const read = await signedGet(k, otherPayroll);
    expect([read.status, read.body.code]).toEqual([403, 'thekedar_tampered']);
    // its own site too: its record is not the server's
    const ownRead = await signedGet(k, `/api/v5/sites/${own.siteId}/payroll?${period()}`);
    expect([ownRead.status, ownRead.body.code]).toEqual([403, 'thekedar_tampered']);
    const body = { name: 'Crew', phone: nextPhoneNumber('+91 98762'), siteIds: [other.siteId] };
    clock.advance(1000);
    const onboard = await http(app.t.baseUrl, 'POST', '/api/v5/workers', {
      body,
      headers: signedBy(k, body, clock.now().toISOString()),
    });
    expect([onboard.status, onboard.body.code]).toEqual([403, 'thekedar_tampered']);
    expect(await admin('GET', `/api/v5/thekedars/${k.thekedarId}`)).toMatchObject({
      status: 200,
      body: { siteIds: widened, integrity: 'tampered' },
    });
    const narrow = await admin('PATCH', `/api/v5/thekedars/${k.thekedarId}`, {
      siteIds: [own.siteId],
    });
    expect([narrow.status, narrow.body.code]).toEqual([403, 'thekedar_tampered']);

    // the honest thekedar onboards and reads at its site as before
    clock.advance(1000);
    await crewPhone(app.t.baseUrl, honest, own.siteId, clock.now().toISOString());
    const honestRead = await signedGet(honest, `/api/v5/sites/${own.siteId}/payroll?${period()}`);
    expect(honestRead.status).toBe(200);
    const widen = await admin('PATCH', `/api/v5/thekedars/${honest.thekedarId}`, {
      siteIds: [own.siteId, other.siteId],
    });
    expect(widen).toMatchObject({ status: 200, body: { integrity: 'verified' } });
    expect((await signedGet(honest, otherPayroll)).status).toBe(200);
  });

  /**
   * Review MED-2: the mappers ran before the tag check: a thekedar whose site_ids is not JSON
   * (SQLite) or a site without geo (MongoDB) answered 500. They answer their tamper codes.
   */
  it('should answer the tamper codes, not 500, for a thekedar or site record the server cannot read', async () => {
    const site = await createSite(app.t.baseUrl, app.t.keys.admin);
    const k = await thekedarWithDevice(app.t.baseUrl, app.t.keys.admin, [site.siteId]);
    await editStore(
      app.t,
      (db) => {
        db.prepare("UPDATE thekedars SET site_ids = 'not json' WHERE id = ?").run(k.thekedarId);
        db.prepare("UPDATE sites SET lat = 'north' WHERE id = ?").run(site.siteId);
      },
      async (c) => {
        await c
          .collection('thekedars')
          .updateOne({ _id: k.thekedarId as never }, { $set: { siteIds: 'not json' } });
        await c
          .collection('sites')
          .updateOne({ _id: site.siteId as never }, { $unset: { geo: 1 } });
      },
    );
    const path = `/api/v5/sites/${site.siteId}/payroll?${period()}`;
    clock.advance(1000);
    const signed = await http(app.t.baseUrl, 'GET', path, {
      headers: signedBy(k, { method: 'GET', path }, clock.now().toISOString()),
    });
    expect([signed.status, signed.body.code]).toEqual([403, 'thekedar_tampered']);
    const thekedar = await admin('GET', `/api/v5/thekedars/${k.thekedarId}`);
    expect([thekedar.status, thekedar.body.integrity]).toEqual([200, 'tampered']);
    const payroll = await read(site.siteId, 'payroll');
    expect([payroll.status, payroll.body.code]).toEqual([503, 'site_tampered']);
    const rename = await admin('PATCH', `/api/v5/sites/${site.siteId}`, { name: 'Renamed' });
    expect([rename.status, rename.body.code]).toEqual([403, 'site_tampered']);
  });

  it('should refuse the payroll and CSV of a site whose worker row was deleted in the database while its entries remain', async () => {
    const { siteId, phone } = await siteWithShift();
    expect((await read(siteId, 'payroll')).status).toBe(200);
    await editStore(
      app.t,
      (db) => {
        db.prepare('DELETE FROM worker_events WHERE worker_id = ?').run(phone.workerId);
        db.prepare('DELETE FROM workers WHERE id = ?').run(phone.workerId);
      },
      (c) => c.collection('workers').deleteOne({ _id: phone.workerId as never }),
    );
    for (const what of ['payroll', 'timesheets.csv']) {
      const res = await read(siteId, what);
      expect([what, res.status, res.body.code]).toEqual([what, 503, 'worker_tampered']);
      expect(res.body.errors).toEqual([{ field: 'workerId', message: phone.workerId }]);
    }
  });
});
