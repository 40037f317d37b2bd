import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';
import { nextPhoneNumber } from './support/worker-client';

/**
 * add_shift backfills history the server did not have (a paper register, lost punches): how far
 * back (TIMESHEET_BACKFILL_DAYS, 62 by default) and at which sites. A site given to a worker
 * later reaches back as the sites it was created with do, so a worker registered at A and B at
 * once and one given B a minute later get the same answers for the same dates; a site the worker
 * was moved off, or never had, is refused; a mistyped year is refused before it reaches the
 * immutable ledger.
 */
describe('timesheet corrections: how far back add_shift reaches (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-12-06T10:00:00.000Z');
  let a: string;
  let b: string;
  let c: string;

  beforeAll(async () => {
    t = await startTestApp({}, { clock });
    [a, b, c] = [
      (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId,
      (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId,
      (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId,
    ];
  });
  afterAll(async () => t?.close());

  const newWorker = async (siteIds: string[]) => {
    const res = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Sita Devi', phone: nextPhoneNumber(), siteIds },
    });
    expect(res.status).toBe(201);
    return res.body.workerId as string;
  };
  const setSites = async (workerId: string, siteIds: string[]) => {
    const res = await http(t.baseUrl, 'PATCH', `/api/v5/workers/${workerId}`, {
      key: t.keys.admin,
      body: { siteIds },
    });
    expect(res.status).toBe(200);
  };
  const addShift = (siteId: string, workerId: string, at: string, until: string) =>
    http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      key: t.keys.admin,
      body: { action: 'add_shift', workerId, at, until, reason: 'paper register' },
    });
  const answer = (res: { status: number; body: any }) =>
    res.status === 201 ? '201' : `${res.status} ${res.body.code}`;

  it('should answer a worker registered at A and B at once and one given B a minute later alike, date by date: within TIMESHEET_BACKFILL_DAYS recorded at both sites, past it (and 1970) refused shift_too_old', async () => {
    const atOnce = await newWorker([a, b]);
    const givenLater = await newWorker([a]);
    clock.set('2026-12-06T10:01:00.000Z');
    await setSites(givenLater, [a, b]);
    clock.set('2026-12-06T10:05:00.000Z');
    // the window starts at the start of the site's day 62 days before the clock: 2026-10-05 in
    // Kolkata, from 2026-10-04T18:30:00.000Z (whatever the time of day now)
    const dates: Array<[string, string, string]> = [
      ['2026-12-06T02:00:00.000Z', '2026-12-06T06:00:00.000Z', '201'], // the same day, before both
      ['2026-11-21T03:30:00.000Z', '2026-11-21T11:30:00.000Z', '201'], // the tester's date
      ['2026-10-04T18:30:00.000Z', '2026-10-04T22:00:00.000Z', '201'], // the window's first instant
      ['2026-10-04T18:29:59.999Z', '2026-10-04T18:30:00.000Z', '422 shift_too_old'],
      ['2026-08-01T03:30:00.000Z', '2026-08-01T11:30:00.000Z', '422 shift_too_old'],
      ['1970-01-01T00:00:00.000Z', '1970-01-01T08:00:00.000Z', '422 shift_too_old'],
    ];
    const seen: string[] = [];
    for (const [at, until, expected] of dates) {
      for (const siteId of [a, b]) {
        const first = answer(await addShift(siteId, atOnce, at, until));
        const second = answer(await addShift(siteId, givenLater, at, until));
        seen.push(`${siteId === a ? 'A' : 'B'} ${at}: ${first} / ${second}`);
        expect([first, second]).toEqual([expected, expected]);
      }
    }
    expect(seen).toHaveLength(12);

    // the refusal says what happened and what the bound is
    const typo = await addShift(
      b,
      givenLater,
      '1970-01-01T00:00:00.000Z',
      '1970-01-01T08:00:00.000Z',
    );
    expect(typo.body.message).toBe(
      'The shift begins at 1970-01-01T00:00:00.000Z, more than TIMESHEET_BACKFILL_DAYS (62) days ago: a shift is recorded from 2026-10-04T18:30:00.000Z on (is the date mistyped?)',
    );

    // recorded at B for the worker given B later, as for the other: in B's timesheet and payroll
    const payroll = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${b}/payroll?from=2026-11-01&to=2026-11-30`,
      { key: t.keys.auditor },
    );
    expect(payroll.status).toBe(200);
    const hours = Object.fromEntries(
      (payroll.body.workers as Array<{ workerId: string; workedSeconds: number }>).map((w) => [
        w.workerId,
        w.workedSeconds,
      ]),
    );
    expect(hours).toEqual({ [atOnce]: 8 * 3600, [givenLater]: 8 * 3600 });
  });

  it('should refuse a site the worker was moved off, from the move on (given back since or not), and a site it never had; the shifts there before the move are recorded', async () => {
    clock.set('2026-12-06T11:00:00.000Z');
    const worker = await newWorker([a, c]);
    clock.set('2026-12-06T11:30:00.000Z');
    await setSites(worker, [a]);
    clock.set('2026-12-06T14:00:00.000Z');

    // before the move: C was the worker's
    expect(
      answer(await addShift(c, worker, '2026-11-25T03:30:00.000Z', '2026-11-25T11:30:00.000Z')),
    ).toBe('201');
    // from the move on: not
    const after = await addShift(c, worker, '2026-12-06T12:00:00.000Z', '2026-12-06T13:00:00.000Z');
    expect(answer(after)).toBe('422 worker_not_at_site');
    expect(after.body.message).toBe(
      'The worker was moved off this site at 2026-12-06T11:30:00.000Z, before this shift began: a shift is recorded at a site of the worker',
    );
    // B: never the worker's
    const never = await addShift(b, worker, '2026-11-25T03:30:00.000Z', '2026-11-25T11:30:00.000Z');
    expect(answer(never)).toBe('422 worker_not_at_site');
    expect(never.body.message).toContain('never assigned to this site');

    // C given back: the time between the move and its return stays refused (the record says
    // the worker was elsewhere), the time from the return on is recorded
    clock.set('2026-12-06T15:00:00.000Z');
    await setSites(worker, [a, c]);
    clock.set('2026-12-06T18:00:00.000Z');
    expect(
      answer(await addShift(c, worker, '2026-12-06T12:00:00.000Z', '2026-12-06T13:00:00.000Z')),
    ).toBe('422 worker_not_at_site');
    expect(
      answer(await addShift(c, worker, '2026-12-06T15:30:00.000Z', '2026-12-06T17:00:00.000Z')),
    ).toBe('201');
  });
});

describe('timesheet corrections: TIMESHEET_BACKFILL_DAYS set (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-12-06T10:00:00.000Z');

  beforeAll(async () => {
    t = await startTestApp({ TIMESHEET_BACKFILL_DAYS: '400' }, { clock });
  });
  afterAll(async () => t?.close());

  it('should take the configured window, and answer a retry of a shift the window has passed since as the duplicate it is', async () => {
    const [a, b] = [
      (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId,
      (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId,
    ];
    const created = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Ravi Kumar', phone: nextPhoneNumber(), siteIds: [a] },
    });
    expect(created.status).toBe(201);
    const workerId = created.body.workerId as string;
    clock.set('2026-12-06T10:01:00.000Z');
    expect(
      (
        await http(t.baseUrl, 'PATCH', `/api/v5/workers/${workerId}`, {
          key: t.keys.admin,
          body: { siteIds: [a, b] },
        })
      ).status,
    ).toBe(200);
    const body = {
      action: 'add_shift',
      workerId,
      correctionId: '5b0e7a4c-3f0e-4d0a-9d4b-2f5a8c1e7d21',
      // 391 days before the clock: inside 400
      at: '2025-11-10T03:30:00.000Z',
      until: '2025-11-10T11:30:00.000Z',
      reason: 'paper register',
    };
    const send = (siteId: string, extra: Record<string, unknown> = {}) =>
      http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
        key: t.keys.admin,
        body: { ...body, ...extra },
      });
    const first = await send(b);
    expect(first.status).toBe(201);
    const typo = await send(b, {
      correctionId: undefined,
      at: '1970-01-01T00:00:00.000Z',
      until: '1970-01-01T08:00:00.000Z',
    });
    expect([typo.status, typo.body.code]).toEqual([422, 'shift_too_old']);
    expect(typo.body.message).toContain('TIMESHEET_BACKFILL_DAYS (400)');

    // ten days on the shift's day is past the window (it starts 2025-11-11 in Kolkata,
    // 2025-11-10T18:30:00.000Z): its retry is still the duplicate it is, a new one that day is
    // refused, one on the window's first day recorded
    clock.set('2026-12-16T10:00:00.000Z');
    const retry = await send(b);
    expect([retry.status, retry.body.status, retry.body.seq]).toEqual([
      200,
      'duplicate',
      first.body.seq,
    ]);
    const again = await send(b, {
      correctionId: undefined,
      at: '2025-11-10T12:30:00.000Z',
      until: '2025-11-10T14:30:00.000Z',
    });
    expect([again.status, again.body.code]).toEqual([422, 'shift_too_old']);
    const firstDay = await send(b, {
      correctionId: undefined,
      at: '2025-11-10T18:30:00.000Z',
      until: '2025-11-10T20:30:00.000Z',
    });
    expect(firstDay.status).toBe(201);
  });
});

/**
 * Review LOW: the window's first day was the site's day of (clock − 62 × 24 h), a day off when
 * a DST change lies within the 62 days and the clock is within the hour of local midnight:
 * across spring-forward, just after midnight, it reached 63 days back; across fall-back, just
 * before midnight, 61. It is the site's calendar day 62 days before its day now.
 */
describe('timesheet corrections: the backfill window across a DST change (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-04-30T22:30:00.000Z');

  beforeAll(async () => {
    t = await startTestApp({}, { clock });
  });
  afterAll(async () => t?.close());

  const workerAt = async (siteId: string) => {
    const res = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Sita Devi', phone: nextPhoneNumber(), siteIds: [siteId] },
    });
    expect(res.status).toBe(201);
    return res.body.workerId as string;
  };
  /** The answers to add_shift at `siteId` from each `at` (an hour long, a worker each). */
  const answers = async (siteId: string, ats: string[]) => {
    const out: string[] = [];
    for (const at of ats) {
      const workerId = await workerAt(siteId);
      const res = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
        key: t.keys.admin,
        body: {
          action: 'add_shift',
          workerId,
          at,
          until: new Date(Date.parse(at) + 3_600_000).toISOString(),
          reason: 'paper register',
        },
      });
      out.push(res.status === 201 ? '201' : `${res.status} ${res.body.code}: ${res.body.message}`);
    }
    return out;
  };
  const tooOld = (at: string, from: string) =>
    `422 shift_too_old: The shift begins at ${at}, more than TIMESHEET_BACKFILL_DAYS (62) days ago: a shift is recorded from ${from} on (is the date mistyped?)`;

  it('should start the window 62 calendar days back in Berlin just after midnight, after spring-forward (not 63)', async () => {
    // 00:30 CEST on 1 May: 62 days back is 28 February, from 2026-02-27T23:00:00.000Z (CET);
    // the clock less 62 × 24 h is 23:30 CET on 27 February
    const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'Europe/Berlin');
    const from = '2026-02-27T23:00:00.000Z';
    expect(
      await answers(siteId, [
        '2026-02-27T23:00:00.000Z',
        '2026-02-27T22:59:59.999Z',
        '2026-02-27T08:00:00.000Z',
      ]),
    ).toEqual([
      '201',
      tooOld('2026-02-27T22:59:59.999Z', from),
      tooOld('2026-02-27T08:00:00.000Z', from),
    ]);
  });

  it('should start the window 62 calendar days back in New York just before midnight, after fall-back (not 61)', async () => {
    // 23:30 EST on 1 December: 62 days back is 30 September, from 2026-09-30T04:00:00.000Z
    // (EDT); the clock less 62 × 24 h is 00:30 EDT on 1 October
    clock.set('2026-12-02T04:30:00.000Z');
    const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'America/New_York');
    expect(
      await answers(siteId, [
        '2026-09-30T04:00:00.000Z',
        '2026-09-30T16:00:00.000Z',
        '2026-09-30T03:59:59.999Z',
      ]),
    ).toEqual(['201', '201', tooOld('2026-09-30T03:59:59.999Z', '2026-09-30T04:00:00.000Z')]);
  });
});
