import { http, startTestApp, TestApp } from './support/test-app';
import { createSite, crewPhone, thekedarWithDevice } from './support/timesheet-client';

/**
 * The tester's 500: `payroll?from=9999-12-31&to=9999-12-31` read the period up to the start of
 * the day after its end, which has no 4-digit year (`RangeError: Invalid time value`). Every
 * endpoint that takes a local day (timesheets, their CSV, the payroll, its CSV, closes and their
 * listing) takes the same range, 1970-01-01 to 9998-12-31, and answers anything else 400
 * `validation_failed` naming the field and the range; the other date-taking endpoints (fraud
 * events, corrections) answer the extreme values 4xx or 200, never 5xx.
 */
describe('timesheets: the days a period may name (e2e)', () => {
  let t: TestApp;
  const sites: string[] = [];
  const RANGE = 'must be a calendar day YYYY-MM-DD from 1970-01-01 to 9998-12-31';
  const OUT = ['9999-12-31', '9999-12-30', '9999-01-01', '1969-12-31', '0001-01-01', '0000-01-01'];

  beforeAll(async () => {
    t = await startTestApp({});
    // the zones furthest east and west of UTC, and one between
    for (const zone of ['Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Asia/Kolkata']) {
      sites.push((await createSite(t.baseUrl, t.keys.admin, zone)).siteId);
    }
  });
  afterAll(async () => t?.close());

  const get = (path: string) => http(t.baseUrl, 'GET', path, { key: t.keys.admin });

  it('should refuse a day outside 1970-01-01..9998-12-31 with 400 validation_failed on every timesheet and payroll read, and read the bounds themselves', async () => {
    for (const siteId of sites) {
      for (const file of ['payroll', 'payroll.csv', 'timesheets', 'timesheets.csv']) {
        for (const day of OUT) {
          const res = await get(`/api/v5/sites/${siteId}/${file}?from=${day}&to=${day}`);
          expect([file, day, res.status, res.body.code, res.body.errors]).toEqual([
            file,
            day,
            400,
            'validation_failed',
            [
              { field: 'from', message: RANGE },
              { field: 'to', message: RANGE },
            ],
          ]);
        }
        // the last day taken, at its end in any zone, and a period ending on it
        for (const q of ['from=9998-12-31&to=9998-12-31', 'from=9998-12-01&to=9998-12-31']) {
          expect([file, q, (await get(`/api/v5/sites/${siteId}/${file}?${q}`)).status]).toEqual([
            file,
            q,
            200,
          ]);
        }
        expect(
          (await get(`/api/v5/sites/${siteId}/${file}?from=1970-01-01&to=1970-01-01`)).status,
        ).toBe(200);
        // a year of more than 4 digits is no day either
        const long = await get(`/api/v5/sites/${siteId}/${file}?from=275760-09-13&to=275760-09-13`);
        expect([long.status, long.body.code]).toEqual([400, 'validation_failed']);
      }
    }
  });

  it('should refuse such a day in a close and in the listing of closes, and never answer 5xx to one on the fraud events and corrections', async () => {
    const siteId = sites[2];
    for (const day of OUT) {
      const close = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/payroll/closes`, {
        key: t.keys.admin,
        body: { from: day, to: day },
      });
      expect([day, close.status, close.body.code, close.body.errors]).toEqual([
        day,
        400,
        'validation_failed',
        [
          { field: 'from', message: RANGE },
          { field: 'to', message: RANGE },
        ],
      ]);
      const list = await get(`/api/v5/sites/${siteId}/payroll/closes?before=${day}`);
      expect([day, list.status, list.body.errors]).toEqual([
        day,
        400,
        [{ field: 'before', message: RANGE }],
      ]);
    }
    // instants: the fraud events take any year of 4 digits, the corrections refuse a future
    // (a real worker at the site of the furthest zone: the date handling answers, not a 404)
    const kiritimati = sites[0];
    const k = await thekedarWithDevice(t.baseUrl, t.keys.admin, [kiritimati]);
    const { workerId } = await crewPhone(t.baseUrl, k, kiritimati, new Date().toISOString());
    for (const day of [...OUT, '9998-12-31', '275760-09-13']) {
      const events = await get(`/api/v5/fraud/events?from=${day}&to=${day}`);
      expect([day, events.status < 500]).toEqual([day, true]);
      for (const at of [`${day}T00:00:00.000Z`, `${day}T23:59:59.999Z`]) {
        const res = await http(t.baseUrl, 'POST', `/api/v5/sites/${kiritimati}/corrections`, {
          key: t.keys.admin,
          body: {
            action: 'add_shift',
            workerId,
            at,
            until: at,
            reason: 'paper register',
          },
        });
        expect([at, res.status >= 400 && res.status < 500]).toEqual([at, true]);
        // the date answers (a future, or out of range), never the worker
        expect({ at, code: res.body.code }).toEqual({
          at,
          code: expect.stringMatching(/^(time_in_future|validation_failed)$/),
        });
      }
    }
  });
});
