import { ManualClock } from '@app/common';
import { phoneAt, syncPunches, syncRefused } from '../support/timesheet-client';
import { Phone } from '../support/worker-client';
import { ConsoleTab } from './console-driver';
import { consoleSuite, ConsoleSite, startConsoleSite } from './console-site';

jest.setTimeout(600_000);

/** The browser's zone: neither UTC (the API's) nor the site's (Asia/Kolkata). */
const BROWSER_ZONE = 'America/New_York';

/**
 * A payroll clerk's month in the console: a phone offline longer than
 * SYNC_MAX_OFFLINE_AGE_HOURS (168 h by default) has its punches refused at sync
 * (`timestamp_too_old`). The month's grid shows each worker's refused punches (a worker whose
 * every punch was refused gets a row), linked to the worker's refusals in the fraud events,
 * which show each refused punch's type and claimed time in the browser's zone.
 */
consoleSuite('console: punches refused at sync in the payroll grid and the fraud events', () => {
  let site: ConsoleSite;
  let admin: ConsoleTab;
  const clock = new ManualClock('2026-10-01T00:00:00.000Z');
  let siteId: string;
  /** A day paid and two punches refused; every punch refused. */
  let paid: Phone;
  let refusedOnly: Phone;

  beforeAll(async () => {
    site = await startConsoleSite(
      { TRUST_AUTO_BLOCK_FLOOR: '0' },
      { clock, timezoneId: BROWSER_ZONE },
    );
    const { t } = site;
    siteId = await site.site('Kalkaji Depot');
    paid = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    refusedOnly = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    // 3 October 09:00-17:30 IST, synced the same day: paid as usual
    clock.set('2026-10-03T14:00:00.000Z');
    await syncPunches(t.baseUrl, paid, [
      ['check_in', '2026-10-03T03:30:00.000Z'],
      ['check_out', '2026-10-03T12:00:00.000Z'],
    ]);
    // 5 and 6 October, synced nine days later: refused
    clock.set('2026-10-14T06:00:00.000Z');
    const tooOld = 'timestamp_too_old';
    await syncRefused(
      t.baseUrl,
      paid,
      [
        ['check_in', '2026-10-05T03:30:00.000Z'],
        ['check_out', '2026-10-05T12:00:00.000Z'],
      ],
      tooOld,
    );
    await syncRefused(t.baseUrl, refusedOnly, [['check_in', '2026-10-06T03:30:00.000Z']], tooOld);

    admin = await site.signedIn(t.keys.admin);
  });

  afterAll(() => site?.close());

  it("should show each worker's refused punches in the month's grid, a worker with refused punches only in a row of its own", async () => {
    const payroll = await site.api(
      'GET',
      `/api/v5/sites/${siteId}/payroll?from=2026-10-01&to=2026-10-31`,
    );
    const workers = payroll.body.workers as Array<{ workerId: string; name: string }>;
    await admin.goto(`#/timesheets/${siteId}?month=2026-10`);
    const grid = admin.page.locator('table.timesheet');
    await grid.waitFor();
    expect(await admin.page.locator('[data-rows]').getAttribute('data-rows')).toBe('1-2/2');
    expect(await grid.locator('thead th').allInnerTexts()).toEqual(
      expect.arrayContaining(['Corrected', 'Refused']),
    );
    const row = (phone: Phone) => grid.locator(`tr[data-worker-id="${phone.workerId}"]`);
    const refused = (phone: Phone) => grid.locator(`td[data-refused="${phone.workerId}"] a`);
    expect(await refused(paid).textContent()).toBe('2!');
    expect(await refused(paid).getAttribute('title')).toContain('2 punches refused at sync');
    // the worker paid nothing this month has a row: no hours, its refused punch
    expect(await row(refusedOnly).locator('th').innerText()).toBe(
      workers.find((w) => w.workerId === refusedOnly.workerId)?.name,
    );
    expect(await row(refusedOnly).locator('td').first().innerText()).toBe('0');
    expect(await refused(refusedOnly).textContent()).toBe('1!');
    expect(await row(refusedOnly).locator('button.cell').count()).toBe(0);
    expect(await row(paid).locator('button.cell').count()).toBe(1);
    expect(await admin.check('refused-punches-grid')).toEqual([]);
    expect(admin.pageErrors).toEqual([]);
  });

  it("should lead from the grid to the worker's refused punches in the fraud events, each punch's type and claimed time local", async () => {
    await admin.goto(`#/timesheets/${siteId}?month=2026-10`);
    await admin.page.locator(`td[data-refused="${paid.workerId}"] a`).click();
    await admin.page.waitForURL(/#\/fraud\?/);
    await admin.settled();
    const filters = admin.page.locator('form.filters');
    expect(await filters.locator('select[name=type]').inputValue()).toBe('refused');
    expect(await filters.locator('input[name=workerId]').inputValue()).toBe(paid.workerId);
    expect(await filters.locator('input[name=siteId]').inputValue()).toBe(siteId);
    const rows = admin.page.locator('table.fraud-events tbody tr');
    expect(await rows.count()).toBe(2);
    const punches = await admin.page.locator('table.fraud-events small.punch').evaluateAll((els) =>
      els.map((el: any) => ({
        type: el.dataset.punch as string,
        text: (el.innerText as string).replace(/\s+/g, ' '),
        at: el.querySelector('time')?.getAttribute('datetime') as string,
      })),
    );
    punches.sort((a, b) => (a.at < b.at ? -1 : 1));
    expect(punches).toEqual([
      {
        type: 'check_in',
        at: '2026-10-05T03:30:00.000Z',
        // 03:30 UTC is the evening before in New York (daylight time), the offset named
        text: 'refused punch: check-in at 2026-10-04 23:30:00 GMT-4 (America/New_York)',
      },
      {
        type: 'check_out',
        at: '2026-10-05T12:00:00.000Z',
        text: 'refused punch: check-out at 2026-10-05 08:00:00 GMT-4 (America/New_York)',
      },
    ]);
    expect(await rows.first().innerText()).toContain('timestamp_too_old');
    expect(await admin.check('refused-punches-fraud')).toEqual([]);

    // any type again: the worker's events, the refused ones with their punch
    await filters.locator('select[name=type]').selectOption('');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await admin.settled();
    expect(await admin.page.locator('table.fraud-events small.punch').count()).toBe(2);
    expect(admin.pageErrors).toEqual([]);
  });
});
