import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite, phoneAt, punch, sync } from './support/timesheet-client';
import { Phone } from './support/worker-client';

/**
 * A timesheet page's nextCursor is a place in one listing's (workerId, day) order: the site,
 * the period and the workerId filter it was given for. Handed to another listing it would be
 * read as a place in that one's order (skipping or repeating days without a word), so it is
 * refused: 400 `invalid_cursor`.
 */
describe('timesheet cursors are bound to their listing (e2e)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  const sites: string[] = [];
  const phones: Phone[][] = [];
  const MARCH = 'from=2026-03-01&to=2026-03-31';

  const list = (siteId: string, query: string) =>
    http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/timesheets?${query}`, { key: t.keys.admin });

  /** The first page (one day) of a listing, and its cursor. */
  async function firstCursor(siteId: string, query: string): Promise<string> {
    const res = await list(siteId, `${query}&limit=1`);
    expect(res.status).toBe(200);
    expect(typeof res.body.nextCursor).toBe('string');
    return res.body.nextCursor as string;
  }

  beforeAll(async () => {
    t = await startTestApp({ SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 30) }, { clock });
    for (let s = 0; s < 2; s++) {
      sites.push((await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId);
      phones.push([
        await phoneAt(t.baseUrl, t.keys.admin, sites[s]),
        await phoneAt(t.baseUrl, t.keys.admin, sites[s]),
      ]);
    }
    clock.set('2026-03-10T06:00:00.000Z');
    for (const phone of phones.flat()) {
      await sync(
        t.baseUrl,
        phone,
        ['2026-03-02', '2026-03-03', '2026-03-04'].flatMap((d) => [
          punch(phone, 'check_in', `${d}T03:30:00Z`),
          punch(phone, 'check_out', `${d}T12:30:00Z`),
        ]),
      );
    }
  });
  afterAll(() => t.close());

  it('should take a cursor back on the listing it came from', async () => {
    const cursor = await firstCursor(sites[0], MARCH);
    const next = await list(sites[0], `${MARCH}&limit=1&cursor=${cursor}`);
    expect(next.status).toBe(200);
    expect(next.body.days).toHaveLength(1);
  });

  it("should refuse another site's cursor with 400 invalid_cursor", async () => {
    const fromA = await firstCursor(sites[0], MARCH);
    const onB = await list(sites[1], `${MARCH}&limit=1&cursor=${fromA}`);
    expect(onB.status).toBe(400);
    expect(onB.body).toMatchObject({ statusCode: 400, code: 'invalid_cursor' });
    const fromB = await firstCursor(sites[1], MARCH);
    const onA = await list(sites[0], `${MARCH}&limit=1&cursor=${fromB}`);
    expect([onA.status, onA.body.code]).toEqual([400, 'invalid_cursor']);
  });

  it("should refuse another period's cursor (another from or to) with 400 invalid_cursor", async () => {
    const cursor = await firstCursor(sites[0], MARCH);
    for (const period of [
      'from=2026-03-01&to=2026-03-30',
      'from=2026-03-02&to=2026-03-31',
      'from=2026-04-01&to=2026-04-30',
    ]) {
      const res = await list(sites[0], `${period}&limit=1&cursor=${cursor}`);
      expect({ period, status: res.status, code: res.body.code }).toEqual({
        period,
        status: 400,
        code: 'invalid_cursor',
      });
    }
  });

  it('should refuse a cursor of another workerId filter (or none) with 400 invalid_cursor', async () => {
    const [one, two] = phones[0].map((p) => p.workerId).sort();
    const unfiltered = await firstCursor(sites[0], MARCH);
    const filtered = await list(sites[0], `${MARCH}&workerId=${one}&limit=1&cursor=${unfiltered}`);
    expect([filtered.status, filtered.body.code]).toEqual([400, 'invalid_cursor']);
    const ofOne = await firstCursor(sites[0], `${MARCH}&workerId=${one}`);
    const ofTwo = await list(sites[0], `${MARCH}&workerId=${two}&limit=1&cursor=${ofOne}`);
    expect([ofTwo.status, ofTwo.body.code]).toEqual([400, 'invalid_cursor']);
    const none = await list(sites[0], `${MARCH}&limit=1&cursor=${ofOne}`);
    expect([none.status, none.body.code]).toEqual([400, 'invalid_cursor']);
    // and back on its own listing it goes on with that worker
    const own = await list(sites[0], `${MARCH}&workerId=${one}&limit=1&cursor=${ofOne}`);
    expect(own.status).toBe(200);
    expect(own.body.days.map((d: any) => d.workerId)).toEqual([one]);
  });

  it('should refuse an unbound cursor (a place without its listing) with 400 invalid_cursor', async () => {
    const [worker] = phones[0].map((p) => p.workerId).sort();
    const bare = Buffer.from(`${worker}|2026-03-02`).toString('base64url');
    const res = await list(sites[0], `${MARCH}&limit=1&cursor=${bare}`);
    expect([res.status, res.body.code]).toEqual([400, 'invalid_cursor']);
  });
});
