import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import {
  createSite,
  flagTypes as types,
  phoneAt,
  Punches,
  punch,
  startTimesheetApp,
  sync,
  syncPunches,
  workerDay,
  workerPayroll,
} from './support/timesheet-client';
import { Phone } from './support/worker-client';

/**
 * A month of a site manager and a payroll clerk (outside tester, /tmp/siteops repro-1, -2, -4):
 * a real 18 h shift recorded as one shift, a fraud flag that follows its review, a stray
 * check-out flagged on the night it belongs to, and a `workerId` filter that names no worker
 * of the site.
 */
describe('timesheets: a payroll month (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-10-01T00:00:00.000Z');
  let siteId: string;
  let london: string;

  const correct = (site: string, body: Record<string, unknown>) =>
    http(t.baseUrl, 'POST', `/api/v5/sites/${site}/corrections`, {
      body: { correctionId: randomUUID(), reason: 'site register', ...body },
      key: t.keys.admin,
    });
  const dayOf = (site: string, phone: Phone, day: string) => workerDay(t, site, phone, day);
  const payrollOf = (phone: Phone) => workerPayroll(t, siteId, phone, '2026-10-01', '2026-10-31');
  const punches = (phone: Phone, list: Punches) => syncPunches(t.baseUrl, phone, list);

  beforeAll(async () => {
    t = await startTimesheetApp(clock);
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    london = (await createSite(t.baseUrl, t.keys.admin, 'Europe/London')).siteId;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('should refuse an 18 h add_shift past TIMESHEET_MAX_SHIFT_HOURS, the message naming the limit and how to raise it', async () => {
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    // 08:00 IST on 2 October to 02:00 IST on 3 October: past TIMESHEET_MAX_SHIFT_HOURS (16)
    clock.set('2026-10-03T06:00:00.000Z');
    const [inSeq, outSeq] = await punches(phone, [
      ['check_in', '2026-10-02T02:30:00.000Z'],
      ['check_out', '2026-10-02T20:30:00.000Z'],
    ]);
    expect(types(await dayOf(siteId, phone, '2026-10-02'))).toEqual(['open_shift']);
    // an added check-out that far cannot pair; the answer names the limit and the knob
    const far = await correct(siteId, {
      action: 'add_check_out',
      target: { siteId, seq: inSeq },
      at: '2026-10-02T20:29:59.000Z',
    });
    expect([far.status, far.body.code]).toEqual([422, 'check_out_out_of_range']);
    expect(far.body.message).toContain('TIMESHEET_MAX_SHIFT_HOURS (16 h)');
    expect(far.body.message).toContain('raise TIMESHEET_MAX_SHIFT_HOURS (up to 36');
    // nor is the shift added whole: an added shift longer than the limit is not seen by the
    // overlap check and the recompute windows, which reach back that limit
    for (const seq of [inSeq, outSeq]) {
      expect((await correct(siteId, { action: 'void', target: { siteId, seq } })).status).toBe(201);
    }
    const added = await correct(siteId, {
      action: 'add_shift',
      workerId: phone.workerId,
      at: '2026-10-02T02:30:00.000Z',
      until: '2026-10-02T20:30:00.000Z',
    });
    expect([added.status, added.body.code]).toEqual([422, 'shift_out_of_range']);
    expect(added.body.message).toContain('TIMESHEET_MAX_SHIFT_HOURS (16 h)');
    expect(added.body.message).toContain('raise TIMESHEET_MAX_SHIFT_HOURS (up to 36');
    expect(await dayOf(siteId, phone, '2026-10-02')).toMatchObject({ hours: 0 });
    expect(await payrollOf(phone)).toMatchObject({ hours: 0 });
  });

  it('should show a dismissed fraud flag as reviewed and not count its day; a confirmed one, or a dismissal written into the store, flags it', async () => {
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    clock.set('2026-10-06T06:00:00.000Z');
    // a double-tapped check-in (rapid_repeat)
    const [, twice] = await punches(phone, [
      ['check_in', '2026-10-05T03:30:00.000Z'],
      ['check_in', '2026-10-05T03:30:40.000Z'],
      ['check_out', '2026-10-05T12:00:00.000Z'],
    ]);
    expect((await correct(siteId, { action: 'void', target: { siteId, seq: twice } })).status).toBe(
      201,
    );
    const listed = await http(t.baseUrl, 'GET', `/api/v5/fraud/events?deviceId=${phone.deviceId}`, {
      key: t.keys.admin,
    });
    const event = (listed.body as any[]).find((e) => e.type === 'rapid_repeat');
    expect(event).toBeDefined();
    let day = await dayOf(siteId, phone, '2026-10-05');
    expect(day.flags).toContainEqual({ type: 'fraud', seq: twice, detail: 'rapid_repeat' });
    expect(day.flagged).toBe(true);
    const review = (decision: string) =>
      http(t.baseUrl, 'POST', `/api/v5/fraud/events/${event.id}/review`, {
        key: t.keys.admin,
        body: { decision, reason: `double tap, ${decision}` },
      });
    expect((await review('dismissed')).status).toBe(201);
    day = await dayOf(siteId, phone, '2026-10-05');
    expect(day.flags).toContainEqual({
      type: 'fraud_dismissed',
      seq: twice,
      detail: 'rapid_repeat',
    });
    expect(types(day)).not.toContain('fraud');
    expect(day.flagged).toBe(false);
    expect((await payrollOf(phone)).flaggedDays).toBe(0);
    const csv = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets.csv?from=2026-10-05&to=2026-10-05&workerId=${phone.workerId}`,
      { key: t.keys.admin },
    );
    const [row] = parse<Record<string, string>>(csv.body as string, { columns: true });
    expect(row.flags).toContain(`fraud_dismissed:rapid_repeat@${twice}`);
    // a later review confirms it: flagged again
    expect((await review('confirmed')).status).toBe(201);
    day = await dayOf(siteId, phone, '2026-10-05');
    expect(day.flags).toContainEqual({ type: 'fraud', seq: twice, detail: 'rapid_repeat' });
    expect((await payrollOf(phone)).flaggedDays).toBe(1);
    if (t.config.database.driver !== 'sqlite') return;
    // a dismissal written into the store by hand breaks the event's tag: the day stays flagged
    const file = new Database(join(t.dataDir, 'mdai.sqlite'));
    try {
      file
        .prepare("UPDATE fraud_events SET review_decision = 'dismissed' WHERE id = ?")
        .run(event.id);
    } finally {
      file.close();
    }
    day = await dayOf(siteId, phone, '2026-10-05');
    expect(day.flags).toContainEqual({ type: 'fraud_tampered', seq: twice });
    expect(day.flagged).toBe(true);
    expect((await payrollOf(phone)).flaggedDays).toBe(1);
  });

  it("should flag a night's stray check-out on the night's day, not on the next", async () => {
    const phone = await phoneAt(t.baseUrl, t.keys.admin, london);
    clock.set('2026-10-08T08:00:00.000Z');
    // 22:00–06:00 London (BST) with a mistaken check-out at 23:10
    const [, early, real] = await punches(phone, [
      ['check_in', '2026-10-06T21:00:00.000Z'],
      ['check_out', '2026-10-06T22:10:00.000Z'],
      ['check_out', '2026-10-07T05:00:00.000Z'],
    ]);
    const night = await dayOf(london, phone, '2026-10-06');
    expect([night.hours, night.flagged]).toEqual([1.17, true]);
    expect(night.flags).toContainEqual({ type: 'check_out_without_check_in', seq: real });
    expect(await dayOf(london, phone, '2026-10-07')).toBeUndefined();
    // the supervisor voids the mistaken check-out: the night is whole, nothing left to look at
    expect(
      (await correct(london, { action: 'void', target: { siteId: london, seq: early } })).status,
    ).toBe(201);
    const fixed = await dayOf(london, phone, '2026-10-06');
    expect([fixed.hours, fixed.flagged]).toEqual([8, false]);
  });

  it('should answer 404 worker_not_found for a workerId of no worker or of another site only', async () => {
    const here = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const elsewhere = await phoneAt(t.baseUrl, t.keys.admin, london);
    const unknown = '0123456789abcdef01234567';
    const period = 'from=2026-10-01&to=2026-10-31';
    for (const path of ['timesheets', 'timesheets.csv', 'payroll']) {
      for (const workerId of [unknown, elsewhere.workerId]) {
        const res = await http(
          t.baseUrl,
          'GET',
          `/api/v5/sites/${siteId}/${path}?${period}&workerId=${workerId}`,
          { key: t.keys.admin },
        );
        expect([path, res.status, res.body.code]).toEqual([path, 404, 'worker_not_found']);
      }
      const own = await http(
        t.baseUrl,
        'GET',
        `/api/v5/sites/${siteId}/${path}?${period}&workerId=${here.workerId}`,
        { key: t.keys.admin },
      );
      expect([path, own.status]).toEqual([path, 200]);
    }
    // a worker moved off the site keeps its days there: still read
    const moved = await http(t.baseUrl, 'PATCH', `/api/v5/workers/${here.workerId}`, {
      key: t.keys.admin,
      body: { siteIds: [london] },
    });
    expect(moved.status).toBe(200);
    const after = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll?${period}&workerId=${here.workerId}`,
      { key: t.keys.admin },
    );
    expect(after.status).toBe(200);
  });
});

describe('timesheets: a site of real 18 h shifts, TIMESHEET_MAX_SHIFT_HOURS=20 (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-10-01T00:00:00.000Z');
  let siteId: string;

  beforeAll(async () => {
    t = await startTestApp(
      { SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 30), TIMESHEET_MAX_SHIFT_HOURS: '20' },
      { clock },
    );
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('should pair an 18 h shift punched in and out as one shift, paid 18 h once on its check-in day', async () => {
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    // 08:00 IST on 2 October to 02:00 IST on 3 October
    clock.set('2026-10-03T06:00:00.000Z');
    const res = await sync(t.baseUrl, phone, [
      punch(phone, 'check_in', '2026-10-02T02:30:00.000Z'),
      punch(phone, 'check_out', '2026-10-02T20:30:00.000Z'),
    ]);
    expect(res.accepted).toBe(2);
    const read = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets?from=2026-10-02&to=2026-10-03&workerId=${phone.workerId}`,
      { key: t.keys.admin },
    );
    expect(read.status).toBe(200);
    // one day: the check-in's; within the limit, so not over_max_hours, nothing flagged
    expect(read.body.days).toHaveLength(1);
    const [night] = read.body.days;
    expect(night.date).toBe('2026-10-02');
    expect(night.shifts).toHaveLength(1);
    expect([night.hours, night.workedSeconds, night.lastOut]).toEqual([
      18,
      18 * 3600,
      '2026-10-03T02:00:00+05:30',
    ]);
    expect([night.flags, night.flagged]).toEqual([[], false]);
    const payroll = await workerPayroll(t, siteId, phone, '2026-10-01', '2026-10-31');
    expect(payroll).toMatchObject({ hours: 18, flaggedDays: 0 });
  });
});
