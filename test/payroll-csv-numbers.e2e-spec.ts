import { parse } from 'csv-parse/sync';
import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite, phoneAt, syncPunches } from './support/timesheet-client';
import { nextPhoneNumber } from './support/worker-client';

/**
 * The tester's wrong pay: a closed November, then an admin voids a 9 h shift of it. The
 * payroll's change since the close is negative, and `payroll.csv` wrote it as text
 * (`"'-1","'-9.00","'-32400"`): the CSV-injection guard put its quote before every cell
 * starting with `-`. The guard is for text from users (names, phones, ids); the numbers the
 * server computes are written as numbers, in `payroll.csv` and `timesheets.csv` alike.
 */
describe('payroll.csv and timesheets.csv: numbers as numbers, text guarded (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-11-09T00:00:00.000Z');
  const NOV = 'from=2026-11-01&to=2026-11-30';
  afterAll(async () => t?.close());

  const csvOf = async (siteId: string, file: string, q: string) => {
    const res = await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/${file}?${q}`, {
      key: t.keys.auditor,
    });
    expect(res.status).toBe(200);
    return res.body as string;
  };

  it('should write a negative change since the close as a number, and still quote a name typed as a formula', async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' }, { clock });
    const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata');
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    clock.set('2026-11-10T14:00:00.000Z');
    // 10 November, 09:00 to 18:00 IST: 9 h
    const [inSeq] = await syncPunches(t.baseUrl, phone, [
      ['check_in', '2026-11-10T03:30:00.000Z'],
      ['check_out', '2026-11-10T12:30:00.000Z'],
    ]);
    // a worker whose name is arithmetic a spreadsheet would run: it stays text
    const named = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: '-2+3', phone: nextPhoneNumber(), siteIds: [siteId] },
    });
    expect(named.status).toBe(201);
    const shift = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      key: t.keys.admin,
      body: {
        action: 'add_shift',
        workerId: named.body.workerId,
        at: '2026-11-09T03:30:00.000Z',
        until: '2026-11-09T11:30:00.000Z',
        reason: 'paper register',
      },
    });
    expect(shift.status).toBe(201);

    clock.set('2026-12-02T09:00:00.000Z');
    const closed = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/payroll/closes`, {
      key: t.keys.admin,
      body: { from: '2026-11-01', to: '2026-11-30' },
    });
    expect(closed.status).toBe(201);
    // the admin voids the check-in: the 9 h shift is gone from a paid month
    const voided = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      key: t.keys.admin,
      body: { action: 'void', target: { siteId, seq: inSeq }, reason: 'not on site' },
    });
    expect(voided.status).toBe(201);

    const payroll = await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll?${NOV}`, {
      key: t.keys.auditor,
    });
    const json = payroll.body.workers.find((w: any) => w.workerId === phone.workerId);
    expect(json.sinceClose).toEqual({
      daysPresent: -1,
      hours: -9,
      workedSeconds: -32400,
      flaggedDays: 1,
    });

    const csv = await csvOf(siteId, 'payroll.csv', NOV);
    const lines = csv.split('\r\n');
    const voidedRow = lines.find((l) => l.startsWith(phone.workerId))!;
    // the since-close cells as the numbers they are: no quote, no apostrophe
    expect(voidedRow.split(',').slice(-5)).toEqual(['-1', '-9.00', '-32400', '1', '0']);
    const rows = parse<Record<string, string>>(csv, { columns: true });
    expect(rows.find((r) => r.worker_id === phone.workerId)).toMatchObject({
      since_close_days_present: '-1',
      since_close_hours: '-9.00',
      since_close_worked_seconds: '-32400',
    });
    // the name is text from a user: its cell keeps the guard
    const namedRow = lines.find((l) => l.startsWith(named.body.workerId))!;
    expect(namedRow.split(',')[1]).toBe(`"'-2+3"`);
    expect(rows.find((r) => r.worker_id === named.body.workerId)!.worker_name).toBe(`'-2+3`);

    // timesheets.csv: the same rule, the name guarded and the hours a number
    const days = parse<Record<string, string>>(
      await csvOf(siteId, 'timesheets.csv', `${NOV}&workerId=${named.body.workerId}`),
      { columns: true },
    );
    expect(days).toEqual([
      expect.objectContaining({ worker_name: `'-2+3`, date: '2026-11-09', hours: '8.00' }),
    ]);
  });
});
