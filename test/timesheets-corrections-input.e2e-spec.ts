import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite, phoneAt, punch, sync } from './support/timesheet-client';
import { Phone } from './support/worker-client';

/**
 * What a correction request is held to before any rule of its action: the site it is sent to
 * (404 before anything about the target), one spelling of its id, a reason that says
 * something, and `at` in the packets' timestamp format.
 */
describe('timesheet corrections: the request (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  let siteId: string;
  let phone: Phone;
  let inSeq: number;

  const correctAt = (site: string, body: Record<string, unknown>) =>
    http(t.baseUrl, 'POST', `/api/v5/sites/${site}/corrections`, {
      body: { reason: 'site register', ...body },
      key: t.keys.admin,
    });
  const correct = (body: Record<string, unknown>) => correctAt(siteId, body);

  beforeAll(async () => {
    t = await startTestApp({ SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 30) }, { clock });
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    clock.set('2026-03-20T06:00:00.000Z');
    const res = await sync(t.baseUrl, phone, [
      punch(phone, 'check_in', '2026-03-02T03:30:00Z'),
      punch(phone, 'check_in', '2026-03-03T03:30:00Z'),
    ]);
    expect(res.accepted).toBe(2);
    inSeq = res.results[0].seq!;
  });
  afterAll(async () => t.close());

  it('should answer 404 site_not_found for an unknown site, whatever the target', async () => {
    const unknown = '000000000000000000000000';
    const realTarget = await correctAt(unknown, {
      action: 'add_check_out',
      target: { siteId, seq: inSeq },
      at: '2026-03-02T11:30:00.000Z',
    });
    expect([realTarget.status, realTarget.body.code]).toEqual([404, 'site_not_found']);
    const bothUnknown = await correctAt(unknown, {
      action: 'void',
      target: { siteId: unknown, seq: 1 },
    });
    expect([bothUnknown.status, bothUnknown.body.code]).toEqual([404, 'site_not_found']);
    // a known site and another site's target is still the target's rule
    const cross = await correct({ action: 'void', target: { siteId: unknown, seq: 1 } });
    expect([cross.status, cross.body.code]).toEqual([422, 'cross_site_correction']);
  });

  it('should name only the action when it is none of ours, not the fields it would take', async () => {
    const res = await correct({
      action: 'explode',
      target: { siteId, seq: inSeq },
      at: '2026-03-02T11:30:00.000Z',
    });
    expect([res.status, res.body.code]).toEqual([400, 'validation_failed']);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['action']);
  });

  it('should refuse a correctionId not in lower case (400), so one UUID is one correction', async () => {
    const id = '6a0c2d4e-1b3f-4a5c-8d7e-9f0a1b2c3d4e';
    const body = {
      action: 'add_check_out',
      target: { siteId, seq: inSeq },
      at: '2026-03-02T11:30:00.000Z',
    };
    const upper = await correct({ ...body, correctionId: id.toUpperCase() });
    expect([upper.status, upper.body.code]).toEqual([400, 'validation_failed']);
    expect(upper.body.errors).toEqual([
      { field: 'correctionId', message: 'must be a lowercase UUID' },
    ]);
    const first = await correct({ ...body, correctionId: id });
    expect(first.status).toBe(201);
    const again = await correct({ ...body, correctionId: id });
    expect([again.status, again.body.status]).toEqual([200, 'duplicate']);
    const upperAgain = await correct({ ...body, correctionId: id.toUpperCase() });
    expect(upperAgain.status).toBe(400);
    const mixed = await correct({ ...body, correctionId: id.replace('a', 'A') });
    expect(mixed.status).toBe(400);
    // nothing but the first was appended
    const day = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets?from=2026-03-02&to=2026-03-02&workerId=${phone.workerId}`,
      { key: t.keys.admin },
    );
    expect(day.body.days[0].seqs).toEqual([inSeq, first.body.seq]);
  });

  it('should refuse a reason of white space, or shorter than 3 characters besides it', async () => {
    for (const reason of ['   ', '\t \n', '  ab  ', '\u00a0\u00a0\u00a0']) {
      const res = await correct({ action: 'void', target: { siteId, seq: inSeq + 1 }, reason });
      expect([JSON.stringify(reason), res.status, res.body.code]).toEqual([
        JSON.stringify(reason),
        400,
        'validation_failed',
      ]);
    }
  });

  it('should refuse a reason of invisible marks only, or holding text-direction or other control characters, naming the field', async () => {
    for (const reason of [
      '   \u200b\u200b\u200b ',
      '\u202e\u202e',
      'left \u202eat 17:00',
      'a\u0000bcd',
    ]) {
      const res = await correct({ action: 'void', target: { siteId, seq: inSeq + 1 }, reason });
      expect([JSON.stringify(reason), res.status, res.body.code]).toEqual([
        JSON.stringify(reason),
        400,
        'validation_failed',
      ]);
      expect(res.body.errors).toEqual(
        expect.arrayContaining([
          {
            field: 'reason',
            message: expect.stringContaining('must hold at least 3 visible characters'),
          },
        ]),
      );
    }
  });

  it("should hold `at` to the packets' timestamp format (UTC, 0 to 3 fraction digits)", async () => {
    for (const at of [
      '2026-03-03T11:30:00.000000Z',
      '2026-03-03T11:30:00.0000Z',
      '2026-03-03T17:00:00+05:30',
      '2026-03-03T11:30Z',
      '2026-02-30T11:30:00Z',
    ]) {
      const res = await correct({
        action: 'add_check_out',
        target: { siteId, seq: inSeq + 1 },
        at,
      });
      expect([at, res.status, res.body.code]).toEqual([at, 400, 'validation_failed']);
    }
    const whole = await correct({
      action: 'add_check_out',
      target: { siteId, seq: inSeq + 1 },
      at: '2026-03-03T11:30:00Z',
      reason: '  left at 17:00  ',
    });
    expect(whole.status).toBe(201);
  });

  it('should refuse `at: null` with a 400 naming `at`, for every action (it answered 500)', async () => {
    const target = { siteId, seq: inSeq + 1 };
    for (const body of [
      { action: 'void', target },
      { action: 'move', target },
      { action: 'add_check_out', target },
      { action: 'acknowledge_over_max_hours', target },
      { action: 'add_shift', workerId: phone.workerId, until: '2026-03-04T11:30:00.000Z' },
    ]) {
      const res = await correct({ ...body, at: null });
      expect([body.action, res.status, res.body.code, res.body.errors]).toEqual([
        body.action,
        400,
        'validation_failed',
        [{ field: 'at', message: 'must not be null' }],
      ]);
    }
  });

  it('should say what is wrong with a null field an action does not take, not "is required"', async () => {
    const shift = await correct({
      action: 'add_shift',
      workerId: phone.workerId,
      at: '2026-03-04T03:30:00.000Z',
      until: '2026-03-04T11:30:00.000Z',
      target: null,
    });
    expect([shift.status, shift.body.errors]).toEqual([
      400,
      [
        {
          field: 'target',
          message:
            'is taken by void, add_check_out, add_check_in, move, acknowledge_over_max_hours only',
        },
      ],
    ]);
    const voided = await correct({
      action: 'void',
      target: { siteId, seq: inSeq + 1 },
      workerId: null,
      until: null,
    });
    expect([voided.status, voided.body.errors]).toEqual([
      400,
      [
        { field: 'workerId', message: 'is taken by add_shift only' },
        { field: 'until', message: 'is taken by add_shift only' },
      ],
    ]);
  });

  it('should tell an `at` out of range by the range accepted, not as "not ISO 8601"', async () => {
    for (const at of ['0001-01-01T00:00:00Z', '1969-12-31T23:59:59.999Z']) {
      const res = await correct({
        action: 'add_check_out',
        target: { siteId, seq: inSeq + 1 },
        at,
      });
      expect([at, res.status, res.body.errors]).toEqual([
        at,
        400,
        [
          {
            field: 'at',
            message:
              'must be a real day and time (hours 00-23, minutes and seconds 00-59) from 1970-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z',
          },
        ],
      ]);
    }
  });
});
