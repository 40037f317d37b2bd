import { ManualClock } from '@app/common';
import { MongoStore, Store } from '@app/persistence';
import { withStoreFile } from './support/tamper';
import { http, startTestApp, TestApp } from './support/test-app';
import {
  createSite,
  crewPhone,
  signedBy,
  syncPunches,
  thekedarWithDevice,
  ThekedarDevice,
} from './support/timesheet-client';
import { nextPhoneNumber, Phone } from './support/worker-client';

/**
 * A month is closed once paid (the tester's repro-7): October's payroll read on Nov 2 moved on
 * Nov 4 (a late sync) and Dec 1 (a void) with nothing to show it. After an admin's close, the
 * payroll of October names the close and, per worker, what changed since; a late sync is
 * taken (never refused for a close) and shows in it; a thekedar's correction of a closed day
 * is refused, an admin's is taken and shows in it.
 */
describe('payroll: a closed period (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-10-29T00:00:00.000Z');
  let siteId: string;
  let k: ThekedarDevice;
  let phone: Phone;
  const OCT = { from: '2026-10-01', to: '2026-10-31' };

  const payroll = async (q = OCT) => {
    const res = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll?from=${q.from}&to=${q.to}`,
      { key: t.keys.auditor },
    );
    expect(res.status).toBe(200);
    return res.body;
  };
  const close = (body: Record<string, unknown>, key = t.keys.admin) =>
    http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/payroll/closes`, { key, body });
  const byThekedar = (body: Record<string, unknown>) =>
    http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      body,
      headers: signedBy(k, body, clock.now().toISOString()),
    });

  beforeAll(async () => {
    t = await startTestApp({}, { clock });
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    k = await thekedarWithDevice(t.baseUrl, t.keys.admin, [siteId]);
    phone = await crewPhone(t.baseUrl, k, siteId, clock.now().toISOString());
  });
  afterAll(async () => t?.close());

  it('should record what October was paid on, show each change since (a late sync, an admin void), refuse a thekedar correction of a closed day, and never refuse the late sync', async () => {
    clock.set('2026-10-31T00:00:00.000Z');
    const [, checkOutSeq] = await syncPunches(t.baseUrl, phone, [
      ['check_in', '2026-10-30T03:30:00.000Z'],
      ['check_out', '2026-10-30T12:00:00.000Z'],
    ]);

    // a period not over yet is not closed
    clock.set('2026-10-31T12:00:00.000Z');
    const early = await close(OCT);
    expect([early.status, early.body.code]).toEqual([422, 'period_not_over']);

    clock.set('2026-11-02T09:00:00.000Z');
    // admin only: an auditor key is refused, a thekedar cannot sign one
    expect((await close(OCT, t.keys.auditor)).status).toBe(403);
    const closed = await close(OCT);
    expect(closed.status).toBe(201);
    expect(closed.body).toMatchObject({
      siteId,
      ...OCT,
      at: '2026-11-02T09:00:00.000Z',
      by: expect.stringMatching(/^admin:/),
      integrity: 'verified',
      workers: [
        {
          workerId: phone.workerId,
          daysPresent: 1,
          hours: 8.5,
          workedSeconds: 8.5 * 3600,
          flaggedDays: 0,
        },
      ],
    });
    // the same period again: the stored close, nothing recorded
    const again = await close(OCT);
    expect([again.status, again.body]).toEqual([200, closed.body]);
    // an overlapping one: refused
    const overlap = await close({ from: '2026-10-15', to: '2026-11-01' });
    expect([overlap.status, overlap.body.code]).toEqual([409, 'period_overlaps_close']);

    const paid = await payroll();
    expect(paid.closed).toEqual({
      ...OCT,
      at: '2026-11-02T09:00:00.000Z',
      by: closed.body.by,
    });
    const none = { daysPresent: 0, hours: 0, workedSeconds: 0, flaggedDays: 0 };
    expect(paid.workers[0].sinceClose).toEqual(none);

    // Nov 4: the phone, offline since Oct 31, syncs October 31's shift: taken, shown as a change
    clock.set('2026-11-04T09:00:00.000Z');
    await syncPunches(t.baseUrl, phone, [
      ['check_in', '2026-10-31T03:30:00.000Z'],
      ['check_out', '2026-10-31T12:00:00.000Z'],
    ]);
    const afterSync = await payroll();
    expect(afterSync.workers[0]).toMatchObject({
      workerId: phone.workerId,
      daysPresent: 2,
      hours: 17,
      atClose: { daysPresent: 1, hours: 8.5, workedSeconds: 8.5 * 3600, flaggedDays: 0 },
      sinceClose: { daysPresent: 1, hours: 8.5, workedSeconds: 8.5 * 3600, flaggedDays: 0 },
    });

    // Dec 1: the thekedar's void of an October check-out is refused; an admin's is taken
    clock.set('2026-12-01T09:00:00.000Z');
    const voidBody = {
      action: 'void',
      target: { siteId, seq: checkOutSeq },
      reason: 'wrong punch',
    };
    const refused = await byThekedar(voidBody);
    expect([refused.status, refused.body.code]).toEqual([409, 'period_closed']);
    expect(refused.body.message).toContain('2026-10-01 to 2026-10-31');
    expect(refused.body.message).toContain('ask an admin');
    // a thekedar's add_shift into the closed month is refused the same
    const shift = await byThekedar({
      action: 'add_shift',
      workerId: phone.workerId,
      at: '2026-10-20T03:30:00.000Z',
      until: '2026-10-20T11:30:00.000Z',
      reason: 'paper register',
    });
    expect([shift.status, shift.body.code]).toEqual([409, 'period_closed']);
    // a day after the close is the thekedar's to correct
    const november = await byThekedar({
      action: 'add_shift',
      workerId: phone.workerId,
      at: '2026-11-20T03:30:00.000Z',
      until: '2026-11-20T11:30:00.000Z',
      reason: 'paper register',
    });
    expect(november.status).toBe(201);

    const byAdmin = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      key: t.keys.admin,
      body: voidBody,
    });
    expect(byAdmin.status).toBe(201);
    const afterVoid = await payroll();
    // the void leaves Oct 30 an open shift: 0 hours, flagged
    expect(afterVoid.workers[0]).toMatchObject({
      hours: 8.5,
      flaggedDays: 1,
      sinceClose: { daysPresent: 1, hours: 0, workedSeconds: 0, flaggedDays: 1 },
    });

    // a period overlapping the close names it; listed for the clerk
    const part = await payroll({ from: '2026-10-25', to: '2026-11-05' });
    expect(part.closed).toBeUndefined();
    expect(part.overlapsClosed).toEqual([paid.closed]);
    const list = await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll/closes`, {
      key: t.keys.auditor,
    });
    expect(list.status).toBe(200);
    expect(list.body.closes).toEqual([closed.body]);
  });

  it("should export the payroll as CSV with the JSON's columns, one row per worker, the change since the close of a closed period, under the CSV rules of timesheets.csv", async () => {
    const csvOf = async (q: string) => {
      const res = await fetch(`${t.baseUrl}/api/v5/sites/${siteId}/payroll.csv?${q}`, {
        headers: { 'x-api-key': t.keys.auditor },
      });
      // the bytes as sent: fetch's text() drops a byte order mark
      const text = Buffer.from(await res.arrayBuffer()).toString('utf8');
      return { status: res.status, type: res.headers.get('content-type'), text };
    };
    const oct = await csvOf(`from=${OCT.from}&to=${OCT.to}&bom=true`);
    expect(oct.status).toBe(200);
    expect(oct.type).toContain('text/csv');
    const json = (await payroll()).workers[0];
    // the CSV's cells are the JSON's values (flagged_days is flaggedDays)
    expect(json).toMatchObject({
      daysPresent: 2,
      hours: 8.5,
      workedSeconds: 8.5 * 3600,
      flaggedDays: 1,
      correctedDays: 1,
      sinceClose: { daysPresent: 1, hours: 0, workedSeconds: 0, flaggedDays: 1 },
    });
    expect(oct.text.split('\r\n')).toEqual([
      '\ufeffworker_id,worker_name,worker_phone,days_present,hours,worked_seconds,flagged_days,corrected_days,since_close_days_present,since_close_hours,since_close_worked_seconds,since_close_flagged_days,refused_punches',
      [
        phone.workerId,
        json.name,
        json.phone,
        '2',
        '8.50',
        String(8.5 * 3600),
        '1',
        '1',
        '1',
        '0.00',
        '0',
        '1',
        '0',
      ].join(','),
      '',
    ]);
    // a period not closed: the since-close cells empty; a name typed as a formula stays text
    const formulaPhone = nextPhoneNumber();
    const formula = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: '=HYPERLINK("http://x","pay")', phone: formulaPhone, siteIds: [siteId] },
    });
    expect(formula.status).toBe(201);
    const added = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      key: t.keys.admin,
      body: {
        action: 'add_shift',
        workerId: formula.body.workerId,
        at: '2026-11-25T03:30:00.000Z',
        until: '2026-11-25T11:30:00.000Z',
        reason: 'paper register',
      },
    });
    expect(added.status).toBe(201);
    const nov = await csvOf(`from=2026-11-25&to=2026-11-25&workerId=${formula.body.workerId}`);
    expect(nov.status).toBe(200);
    const [, row] = nov.text.split('\r\n');
    expect(row).toBe(
      `${formula.body.workerId},"'=HYPERLINK(""http://x"",""pay"")",` +
        `${formulaPhone.replace(/ /g, '')},1,8.00,28800,0,1,,,,,0`,
    );
    // a refusal is a JSON error, as the payroll's
    const bad = await csvOf('from=2026-11-30&to=2026-11-01');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).code).toBe('invalid_period');
  });

  it('should refuse the payroll of a period whose close was changed outside the server (lowered to make a difference look owed), and list it tampered', async () => {
    const lowered = JSON.stringify([
      { workerId: phone.workerId, daysPresent: 0, hours: 0, workedSeconds: 0, flaggedDays: 0 },
    ]);
    if (t.config.database.driver === 'sqlite') {
      withStoreFile(t, (db) =>
        db.prepare('UPDATE payroll_closes SET workers = ? WHERE site_id = ?').run(lowered, siteId),
      );
    } else {
      await t.app
        .get<Store, MongoStore>(Store)
        .connection.db!.collection('payroll_closes')
        .updateOne({ siteId }, { $set: { workers: lowered } });
    }
    const res = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll?from=${OCT.from}&to=${OCT.to}`,
      { key: t.keys.auditor },
    );
    expect([res.status, res.body.code]).toEqual([503, 'payroll_close_tampered']);
    const list = await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll/closes`, {
      key: t.keys.auditor,
    });
    expect(list.body.closes.map((c: { integrity: string }) => c.integrity)).toEqual(['tampered']);
  });
});
