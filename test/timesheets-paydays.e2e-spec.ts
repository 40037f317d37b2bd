import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite, phoneAt, punch, sync } from './support/timesheet-client';
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
  const dayOf = async (site: string, phone: Phone, day: string) => {
    const res = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${site}/timesheets?from=${day}&to=${day}&workerId=${phone.workerId}`,
      { key: t.keys.admin },
    );
    expect(res.status).toBe(200);
    return res.body.days[0];
  };
  const payrollOf = async (phone: Phone) => {
    const res = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll?from=2026-10-01&to=2026-10-31&workerId=${phone.workerId}`,
      { key: t.keys.auditor },
    );
    expect(res.status).toBe(200);
    return res.body.workers[0];
  };
  const punches = async (phone: Phone, list: ['check_in' | 'check_out', string][]) => {
    const res = await sync(
      t.baseUrl,
      phone,
      list.map(([type, at]) => punch(phone, type, at)),
    );
    expect(res.accepted).toBe(list.length);
    return res.results.map((r) => r.seq!);
  };
  const types = (day: { flags: { type: string }[] }) => day.flags.map((f) => f.type);

  beforeAll(async () => {
    t = await startTestApp(
      { SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 30), TRUST_AUTO_BLOCK_FLOOR: '0' },
      { clock },
    );
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    london = (await createSite(t.baseUrl, t.keys.admin, 'Europe/London')).siteId;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('should record a real 18 h shift as one shift, flagged over_max_hours until acknowledged', async () => {
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    // 08:00 IST on 2 October to 02:00 IST on 3 October: past TIMESHEET_MAX_SHIFT_HOURS (16)
    clock.set('2026-10-03T06:00:00.000Z');
    const [inSeq, outSeq] = await punches(phone, [
      ['check_in', '2026-10-02T02:30:00.000Z'],
      ['check_out', '2026-10-02T20:30:00.000Z'],
    ]);
    expect(types(await dayOf(siteId, phone, '2026-10-02'))).toEqual(['open_shift']);
    // an added check-out that far cannot pair; the answer says how the shift is recorded
    const far = await correct(siteId, {
      action: 'add_check_out',
      target: { siteId, seq: inSeq },
      at: '2026-10-02T20:29:59.000Z',
    });
    expect([far.status, far.body.code]).toEqual([422, 'check_out_out_of_range']);
    expect(far.body.message).toContain('add_shift');
    // the punches are voided, the shift added whole: 18 h, not 16 h + 1 s lost to a split
    for (const seq of [inSeq, outSeq]) {
      expect((await correct(siteId, { action: 'void', target: { siteId, seq } })).status).toBe(201);
    }
    const added = await correct(siteId, {
      action: 'add_shift',
      workerId: phone.workerId,
      at: '2026-10-02T02:30:00.000Z',
      until: '2026-10-02T20:30:00.000Z',
    });
    expect(added.status).toBe(201);
    const day = await dayOf(siteId, phone, '2026-10-02');
    expect(day.shifts).toHaveLength(1);
    expect([day.hours, day.workedSeconds, day.lastOut]).toEqual([
      18,
      18 * 3600,
      '2026-10-03T02:00:00+05:30',
    ]);
    expect(day.flags).toContainEqual({ type: 'over_max_hours', seq: added.body.seq });
    expect(day.flagged).toBe(true);
    expect(await payrollOf(phone)).toMatchObject({ hours: 18, flaggedDays: 1 });
    // the day after holds nothing now (its stray check-out voided)
    expect(await dayOf(siteId, phone, '2026-10-03')).toMatchObject({ hours: 0, flagged: false });
    const ack = await correct(siteId, {
      action: 'acknowledge_over_max_hours',
      target: { siteId, seq: added.body.seq },
    });
    expect(ack.status).toBe(201);
    expect((await dayOf(siteId, phone, '2026-10-02')).flagged).toBe(false);
    expect(await payrollOf(phone)).toMatchObject({ hours: 18, flaggedDays: 0 });
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
