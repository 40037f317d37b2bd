import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { join } from 'node:path';
import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import {
  createSite,
  phoneAt,
  punch,
  sync,
  syncPunches,
  syncRefused,
} from './support/timesheet-client';
import { Phone, signPacket } from './support/worker-client';

/**
 * A payroll clerk's month: a phone offline longer than SYNC_MAX_OFFLINE_AGE_HOURS (168 h by
 * default) has its punches refused at sync (`timestamp_too_old`). Their fraud events keep the
 * punch (type, claimed time, site: covered by the event's tag), and the site's payroll counts
 * them per worker by their claimed time (`refusedPunches`, the CSV's `refused_punches`), so
 * the clerk knows whom to pay from the paper register.
 */
describe('timesheets: refused punches in the payroll (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-10-01T00:00:00.000Z');
  let siteId: string;
  let otherSite: string;

  const payroll = async (from: string, to: string, workerId?: string) => {
    const q = `from=${from}&to=${to}${workerId ? `&workerId=${workerId}` : ''}`;
    const res = await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll?${q}`, {
      key: t.keys.auditor,
    });
    expect(res.status).toBe(200);
    return res.body.workers as Record<string, any>[];
  };
  const refusedOf = (phone: Phone) =>
    http(
      t.baseUrl,
      'GET',
      `/api/v5/fraud/events?workerId=${phone.workerId}&type=timestamp_too_old&from=2026-10-01`,
      { key: t.keys.admin },
    );

  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' }, { clock });
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    otherSite = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('should keep the punch of a timestamp_too_old refusal in its event and count it in the payroll by its claimed local day', async () => {
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    // 3 October, synced the same day: paid as usual
    clock.set('2026-10-03T14:00:00.000Z');
    await syncPunches(t.baseUrl, phone, [
      ['check_in', '2026-10-03T03:30:00.000Z'],
      ['check_out', '2026-10-03T12:00:00.000Z'],
    ]);
    // 5 October 09:00 IST to 00:30 IST on the 6th (a late night), synced nine days later
    clock.set('2026-10-14T06:00:00.000Z');
    await syncRefused(
      t.baseUrl,
      phone,
      [
        ['check_in', '2026-10-05T03:30:00.000Z'],
        ['check_out', '2026-10-05T19:00:00.000Z'],
      ],
      'timestamp_too_old',
    );

    // the events say what was refused: the punch's type, claimed time and site
    const listed = await refusedOf(phone);
    expect(listed.status).toBe(200);
    const events = (listed.body as any[]).sort((a, b) => (a.punch.at < b.punch.at ? -1 : 1));
    expect(events.map((e) => [e.punch, e.integrity, e.siteId])).toEqual([
      [{ type: 'check_in', at: '2026-10-05T03:30:00.000Z', siteId }, 'verified', siteId],
      [{ type: 'check_out', at: '2026-10-05T19:00:00.000Z', siteId }, 'verified', siteId],
    ]);

    // the month: one day paid, two refused punches to pay from the register
    const [month] = await payroll('2026-10-01', '2026-10-31', phone.workerId);
    expect(month).toMatchObject({ daysPresent: 1, hours: 8.5, refusedPunches: 2 });
    // by the site's local days: the check-out at 00:30 IST is the 6th's
    expect((await payroll('2026-10-01', '2026-10-05', phone.workerId))[0].refusedPunches).toBe(1);
    expect(await payroll('2026-10-06', '2026-10-31', phone.workerId)).toEqual([
      expect.objectContaining({ workerId: phone.workerId, daysPresent: 0, refusedPunches: 1 }),
    ]);
    // the CSV carries the same count, in its last column
    const csv = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll.csv?from=2026-10-01&to=2026-10-31&workerId=${phone.workerId}`,
      { key: t.keys.auditor },
    );
    expect(csv.status).toBe(200);
    const header = (csv.body as string).split('\r\n')[0].split(',');
    expect(header[header.length - 1]).toBe('refused_punches');
    const [row] = parse<Record<string, string>>(csv.body as string, { columns: true });
    expect(row).toMatchObject({ worker_id: phone.workerId, refused_punches: '2' });
  });

  it('should give a worker whose every punch was refused a payroll row, and keep the punch of a site_not_allowed refusal', async () => {
    clock.set('2026-10-15T00:00:00.000Z');
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    clock.set('2026-10-24T06:00:00.000Z');
    const res = await sync(t.baseUrl, phone, [
      punch(phone, 'check_in', '2026-10-16T03:30:00.000Z'),
      punch(phone, 'check_out', '2026-10-16T12:30:00.000Z'),
      // signed by the phone for a site its token does not allow
      signPacket(phone, {
        type: 'check_in',
        siteId: otherSite,
        timestamp: '2026-10-24T04:00:00.000Z',
      }),
    ]);
    expect(res.results.map((r) => (r as any).reason)).toEqual([
      'timestamp_too_old',
      'timestamp_too_old',
      'site_not_allowed',
    ]);
    const all = await payroll('2026-10-01', '2026-10-31');
    expect(all.find((w) => w.workerId === phone.workerId)).toMatchObject({
      name: 'Sita Devi',
      daysPresent: 0,
      hours: 0,
      flaggedDays: 0,
      refusedPunches: 2,
    });
    // rows stay in worker order
    const ids = all.map((w) => w.workerId);
    expect(ids).toEqual([...ids].sort());
    const other = await http(
      t.baseUrl,
      'GET',
      `/api/v5/fraud/events?workerId=${phone.workerId}&type=site_not_allowed`,
      { key: t.keys.admin },
    );
    expect(other.body.map((e: any) => e.punch)).toEqual([
      { type: 'check_in', at: '2026-10-24T04:00:00.000Z', siteId: otherSite },
    ]);
  });

  it('should read an event whose stored punch was changed as tampered, and not count it', async () => {
    if (t.config.database.driver !== 'sqlite') return;
    clock.set('2026-10-25T00:00:00.000Z');
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    clock.set('2026-11-02T06:00:00.000Z');
    await sync(t.baseUrl, phone, [punch(phone, 'check_in', '2026-10-26T03:30:00.000Z')]);
    expect((await payroll('2026-10-01', '2026-10-31', phone.workerId))[0].refusedPunches).toBe(1);
    const [event] = (await refusedOf(phone)).body as any[];
    const file = new Database(join(t.dataDir, 'mdai.sqlite'));
    try {
      // a check-in moved to another day in the database: the tag covers the punch
      file
        .prepare('UPDATE fraud_events SET punch_at = ? WHERE id = ?')
        .run('2026-10-27T03:30:00.000Z', event.id);
    } finally {
      file.close();
    }
    const [changed] = (await refusedOf(phone)).body as any[];
    expect([changed.id, changed.integrity]).toEqual([event.id, 'tampered']);
    expect(await payroll('2026-10-01', '2026-10-31', phone.workerId)).toEqual([]);
  });
});

/**
 * A refused punch counts once per packet (its device and packetId), and not at all once the
 * same packet was accepted when sent again: a `timestamp_in_future` refusal is not final (the
 * server's clock catches up), and one packet can be refused for two reasons over its resends.
 */
describe('timesheets: refused punches counted per packet (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-12-01T00:00:00.000Z');
  let siteId: string;

  const payroll = async (workerId: string) => {
    const q = `from=2026-12-01&to=2026-12-31&workerId=${workerId}`;
    const res = await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll?${q}`, {
      key: t.keys.auditor,
    });
    expect(res.status).toBe(200);
    return res.body.workers as Record<string, any>[];
  };
  const reasons = (res: Awaited<ReturnType<typeof sync>>) =>
    res.results.map((r) => (r as any).reason ?? r.status);

  beforeAll(async () => {
    t = await startTestApp(
      { TRUST_AUTO_BLOCK_FLOOR: '0', SYNC_MAX_OFFLINE_AGE_HOURS: '2' },
      { clock },
    );
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('should not count a timestamp_in_future refusal whose packet was accepted when sent again', async () => {
    clock.set('2026-12-02T02:00:00.000Z');
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    // the phone's clock runs half an hour ahead of the server's
    clock.set('2026-12-02T03:00:00.000Z');
    const checkIn = punch(phone, 'check_in', '2026-12-02T03:30:00.000Z');
    expect(reasons(await sync(t.baseUrl, phone, [checkIn]))).toEqual(['timestamp_in_future']);
    // the same packet once the server's clock caught up: accepted, in the hours
    clock.set('2026-12-02T03:40:00.000Z');
    expect(reasons(await sync(t.baseUrl, phone, [checkIn]))).toEqual(['accepted']);
    clock.set('2026-12-02T12:00:00.000Z');
    const checkOut = punch(phone, 'check_out', '2026-12-02T12:00:00.000Z');
    expect(reasons(await sync(t.baseUrl, phone, [checkOut]))).toEqual(['accepted']);
    expect(await payroll(phone.workerId)).toEqual([
      expect.objectContaining({ daysPresent: 1, hours: 8.5, refusedPunches: 0 }),
    ]);
  });

  it('should count a punch refused twice for two reasons once', async () => {
    clock.set('2026-12-03T02:00:00.000Z');
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    // stamped before the token's start
    const early = punch(phone, 'check_in', '2026-12-03T01:00:00.000Z');
    clock.set('2026-12-03T03:00:00.000Z');
    expect(reasons(await sync(t.baseUrl, phone, [early]))).toEqual(['outside_token_window']);
    clock.set('2026-12-03T04:30:00.000Z');
    expect(reasons(await sync(t.baseUrl, phone, [early]))).toEqual(['timestamp_too_old']);
    expect(await payroll(phone.workerId)).toEqual([
      expect.objectContaining({ daysPresent: 0, refusedPunches: 1 }),
    ]);
  });

  it('should not list at a site a worker never assigned to it whose phone signed a punch for it (site_not_allowed), and keep that punch in its fraud events', async () => {
    clock.set('2026-12-04T02:00:00.000Z');
    // NY: a site of its own crew; the stranger is a worker of siteId only
    const ny = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    const crew = await phoneAt(t.baseUrl, t.keys.admin, ny);
    const stranger = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    clock.set('2026-12-04T06:00:00.000Z');
    const res = await sync(t.baseUrl, stranger, [
      signPacket(stranger, { type: 'check_in', siteId: ny, timestamp: '2026-12-04T04:00:00.000Z' }),
    ]);
    expect(reasons(res)).toEqual(['site_not_allowed']);
    // NY's own worker, with a punch refused for its age at NY: still NY's row, counted
    clock.set('2026-12-14T06:00:00.000Z');
    await syncRefused(
      t.baseUrl,
      crew,
      [['check_in', '2026-12-04T03:30:00.000Z']],
      'timestamp_too_old',
    );

    const q = 'from=2026-12-01&to=2026-12-31';
    const read = (path: string) => http(t.baseUrl, 'GET', path, { key: t.keys.auditor });
    const listed = await read(`/api/v5/sites/${ny}/payroll?${q}`);
    expect(listed.status).toBe(200);
    expect(listed.body.workers).toEqual([
      expect.objectContaining({ workerId: crew.workerId, daysPresent: 0, refusedPunches: 1 }),
    ]);
    const csv = await read(`/api/v5/sites/${ny}/payroll.csv?${q}`);
    expect(csv.status).toBe(200);
    expect(parse(csv.body as string, { columns: true })).toEqual([
      expect.objectContaining({ worker_id: crew.workerId, refused_punches: '1' }),
    ]);
    // as its own filter says: no worker of NY
    const one = await read(`/api/v5/sites/${ny}/payroll?${q}&workerId=${stranger.workerId}`);
    expect([one.status, one.body.code]).toEqual([404, 'worker_not_found']);
    // the refused punch is where it belongs: the fraud events, naming NY
    const events = await http(
      t.baseUrl,
      'GET',
      `/api/v5/fraud/events?workerId=${stranger.workerId}&type=site_not_allowed`,
      { key: t.keys.admin },
    );
    expect(events.body.map((e: any) => [e.punch, e.integrity])).toEqual([
      [{ type: 'check_in', at: '2026-12-04T04:00:00.000Z', siteId: ny }, 'verified'],
    ]);
  });
});
