import { parse } from 'csv-parse/sync';
import { ManualClock } from '@app/common';
import { e2eDriver, http, startTestApp, TestApp } from './support/test-app';
import {
  createSite,
  crewPhone,
  phoneAt,
  punch,
  signedBy,
  sync,
  ThekedarDevice,
  thekedarWithDevice,
} from './support/timesheet-client';
import { Phone } from './support/worker-client';

/**
 * A page of worker-days visits at most TIMESHEET_PAGE_MAX_WORKERS workers (SQLite): over a
 * sparse period a page is short, even empty, and still has a nextCursor. Every reader (a
 * client following nextCursor, the CSV export, the payroll) must still get every day once.
 */
describe('timesheets over a sparse period: short pages with a cursor (e2e)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  let siteId: string;
  let thekedar: ThekedarDevice;
  let phones: Phone[]; // 5 admin-created workers, then the thekedar's 2
  let crew: string[];
  /** `workerId/date` of every worker-day in the sparse period, in (workerId, day) order. */
  let sparseDays: string[];
  const PERIOD = 'from=2026-03-06&to=2026-03-08';

  const signedNow = (path: string) =>
    signedBy(thekedar, { method: 'GET', path }, clock.now().toISOString());

  /** Every page of `query` (limit 2), following nextCursor; each page's size and cursor. */
  async function pages(query: string, signed = false) {
    const out: Array<{ days: string[]; nextCursor?: string }> = [];
    let cursor: string | undefined;
    do {
      const path = `/api/v5/sites/${siteId}/timesheets?${query}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = signed
        ? await http(t.baseUrl, 'GET', path, { headers: signedNow(path) })
        : await http(t.baseUrl, 'GET', path, { key: t.keys.admin });
      expect(res.status).toBe(200);
      expect(res.body.days.length).toBeLessThanOrEqual(2);
      out.push({
        days: res.body.days.map((d: any) => `${d.workerId}/${d.date}`),
        nextCursor: res.body.nextCursor,
      });
      cursor = res.body.nextCursor;
    } while (cursor && out.length < 100);
    return out;
  }

  beforeAll(async () => {
    t = await startTestApp(
      {
        SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 30),
        TRUST_AUTO_BLOCK_FLOOR: '0',
        TIMESHEET_PAGE_MAX_WORKERS: '2',
      },
      { clock },
    );
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    thekedar = await thekedarWithDevice(t.baseUrl, t.keys.admin, [siteId]);
    phones = [];
    for (let i = 0; i < 5; i++) phones.push(await phoneAt(t.baseUrl, t.keys.admin, siteId));
    for (let i = 0; i < 2; i++) {
      // a signed request is single-use: each onboarding signs its own timestamp
      const at = new Date(clock.now().getTime() + i * 1000).toISOString();
      phones.push(await crewPhone(t.baseUrl, thekedar, siteId, at));
    }
    crew = phones.slice(5).map((p) => p.workerId);
    clock.set('2026-03-10T06:00:00.000Z');
    // everyone worked on 2 and 3 March; in the period 6–8 March only three workers did
    const worked: Array<[number, string]> = [];
    for (let i = 0; i < phones.length; i++) worked.push([i, '2026-03-02'], [i, '2026-03-03']);
    worked.push([1, '2026-03-06'], [4, '2026-03-07'], [4, '2026-03-08'], [6, '2026-03-08']);
    for (let i = 0; i < phones.length; i++) {
      const days = worked.filter(([w]) => w === i).map(([, d]) => d);
      await sync(
        t.baseUrl,
        phones[i],
        days.flatMap((d) => [
          punch(phones[i], 'check_in', `${d}T03:30:00Z`),
          punch(phones[i], 'check_out', `${d}T12:30:00Z`),
        ]),
      );
    }
    sparseDays = worked
      .filter(([, d]) => d >= '2026-03-06')
      .map(([i, d]) => `${phones[i].workerId}/${d}`)
      .sort();
  });
  afterAll(async () => t.close());

  it('should give every day of the site once, in order, following the cursor across short pages', async () => {
    const walked = await pages(PERIOD);
    expect(walked.flatMap((p) => p.days)).toEqual(sparseDays);
    // on SQLite a page visits two workers at most: seven workers, four of them with no day in
    // the period, make short pages that still have a cursor (MongoDB visits what a page needs)
    const short = walked.filter((p) => p.days.length < 2 && p.nextCursor);
    if (e2eDriver === 'sqlite') expect(short.length).toBeGreaterThan(0);
    // the whole history: every page full or the last
    const all = await pages('from=2026-03-01&to=2026-03-10');
    expect(all.flatMap((p) => p.days)).toHaveLength(2 * phones.length + sparseDays.length);
  });

  it('should give one worker its days, and a thekedar its crew, across short pages', async () => {
    const four = phones[4].workerId;
    expect((await pages(`${PERIOD}&workerId=${four}`)).flatMap((p) => p.days)).toEqual(
      sparseDays.filter((d) => d.startsWith(four)),
    );
    const theirs = await pages(PERIOD, true);
    expect(theirs.flatMap((p) => p.days)).toEqual(
      sparseDays.filter((d) => crew.includes(d.split('/')[0])),
    );
    const crewHistory = await pages('from=2026-03-01&to=2026-03-05', true);
    expect(crewHistory.flatMap((p) => p.days)).toEqual(
      crew.sort().flatMap((w) => [`${w}/2026-03-02`, `${w}/2026-03-03`]),
    );
  });

  it('should export every day as CSV and sum it in the payroll, whatever the pages', async () => {
    const res = await fetch(`${t.baseUrl}/api/v5/sites/${siteId}/timesheets.csv?${PERIOD}`, {
      headers: { 'x-api-key': t.keys.auditor },
    });
    expect(res.status).toBe(200);
    const rows = parse<Record<string, string>>(await res.text(), { columns: true });
    expect(rows.map((r) => `${r.worker_id}/${r.date}`)).toEqual(sparseDays);
    const payroll = await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll?${PERIOD}`, {
      key: t.keys.auditor,
    });
    expect(payroll.status).toBe(200);
    const present = new Map<string, number>();
    for (const d of sparseDays)
      present.set(d.split('/')[0], (present.get(d.split('/')[0]) ?? 0) + 1);
    expect(payroll.body.workers.map((w: any) => [w.workerId, w.daysPresent, w.hours])).toEqual(
      [...present].map(([w, n]) => [w, n, 9 * n]),
    );
    // each worker's name and phone, read with the pages its days came in, as the CSV has them
    const csvPerson = new Map(
      rows.map((r) => [r.worker_id, [r.worker_name, r.worker_phone.replace(/^'/, '')]]),
    );
    expect(payroll.body.workers.map((w: any) => [w.workerId, w.name, w.phone])).toEqual(
      [...present.keys()].map((w) => [w, ...csvPerson.get(w)!]),
    );
    expect(new Set(payroll.body.workers.map((w: any) => w.name))).toEqual(
      new Set(['Sita Devi', 'Crew member']),
    );
    // the thekedar's export: its crew's days only
    const path = `/api/v5/sites/${siteId}/timesheets.csv?${PERIOD}`;
    const signed = await http(t.baseUrl, 'GET', path, { headers: signedNow(path) });
    const theirs = parse<Record<string, string>>(signed.body as string, { columns: true });
    expect(theirs.map((r) => `${r.worker_id}/${r.date}`)).toEqual(
      sparseDays.filter((d) => crew.includes(d.split('/')[0])),
    );
  });
});
