import { createServer, request, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { ManualClock } from '@app/common';
import { TestApp } from '../support/test-app';
import { crewPhone, punch, sync, thekedarWithDevice } from '../support/timesheet-client';
import { Phone, signPacket, syncBatch } from '../support/worker-client';
import { Browser, ConsoleTab, launchBrowser } from './console-driver';
import { consoleSuite, ConsoleSite, startConsoleSite } from './console-site';

jest.setTimeout(600_000);

/** The browser's zone: neither UTC (the API's) nor the site's (Asia/Kolkata). */
const BROWSER_ZONE = 'America/New_York';
const SITE_NAME = 'Okhla Phase II Depot';
const WORKERS = ['Sita Devi', 'Mohammed Irfan Qureshi'];
/** Names of 200 characters without a space: a fraud table's column must still wrap them. */
const LONG_WORKER = 'SitaDevi'.repeat(25);
const LONG_SITE = 'OkhlaPhaseIIDepot'.repeat(12).slice(0, 200);

const title =
  "console for a site manager: payroll closes, names, local times, the fraud table's width";

/**
 * A site manager's findings, each fixed and held here: the payroll period can be closed from
 * the console (admin only, after a confirmation, the close's refusals explained) and shows its
 * closed state and the changes since; ids show as names (the id on hover); times are local to
 * the browser, the zone named, the ISO instant on hover; every column of the fraud events is
 * reachable at a 1400 px wide window.
 */
consoleSuite(title, () => {
  let site: ConsoleSite;
  let t: TestApp;
  let browser: Browser;
  let admin: ConsoleTab;
  let auditor: ConsoleTab;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  let siteId: string;
  let phones: Phone[];
  let crew: Phone;
  let thekedarId: string;

  const api: ConsoleSite['api'] = (...args) => site.api(...args);

  beforeAll(async () => {
    site = await startConsoleSite(
      {
        SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 40),
        OFFLINE_TOKEN_TTL_DAYS: '60',
        TRUST_AUTO_BLOCK_FLOOR: '0',
      },
      { clock, timezoneId: BROWSER_ZONE },
    );
    ({ t, browser } = site);
    siteId = await site.site(SITE_NAME);
    phones = [];
    for (const name of WORKERS) phones.push(await site.workerPhone(name, siteId));
    // a thekedar with a phone, and a worker it onboarded
    const thekedar = await thekedarWithDevice(t.baseUrl, t.keys.admin, [siteId]);
    thekedarId = thekedar.thekedarId;
    crew = await crewPhone(t.baseUrl, thekedar, siteId, clock.now().toISOString());

    // a worker and a site with unbroken 200-character names (its phone teleports below)
    const hopper = await site.workerPhone(LONG_WORKER, await site.site(LONG_SITE));

    // March 2-6 at the site, 09:00-17:00 IST, synced on the 20th (the month not over yet)
    clock.set('2026-03-20T06:00:00.000Z');
    for (const phone of phones) {
      const packets = [];
      for (let day = 2; day <= 6; day++) {
        packets.push(punch(phone, 'check_in', `2026-03-0${day}T03:30:00Z`));
        packets.push(punch(phone, 'check_out', `2026-03-0${day}T11:30:00Z`));
      }
      await sync(t.baseUrl, phone, packets);
    }
    // a phone that teleports: fraud events, with a long detail each
    await site.teleport(phones[0], '2026-03-19T14:00:00.000Z');
    const events = await api('GET', '/api/v5/fraud/events?limit=5');
    expect(events.body.length).toBeGreaterThan(0);
    // one reviewed, with a long reason: the Review column's widest cell
    const reviewed = await api('POST', `/api/v5/fraud/events/${events.body[0].id}/review`, {
      decision: 'dismissed',
      reason:
        'The worker took the company bus from the depot to the Parwanoo site; the supervisor confirmed it by phone at 21:10',
    });
    expect(reviewed.status).toBe(201);

    // its phone teleporting back and forth: more than a page of fraud events (25)
    const hops = await syncBatch(
      t.baseUrl,
      hopper.token,
      Array.from({ length: 40 }, (_, i) =>
        signPacket(hopper, {
          type: i % 2 ? 'check_out' : 'check_in',
          timestamp: new Date(Date.parse('2026-03-18T10:00:00.000Z') + i * 60_000).toISOString(),
          geo: { lat: i % 2 ? 31.31 : 28.6139, lng: 77.209, accuracyM: 8 },
        }),
      ),
    );
    expect(hops.body).toMatchObject({ accepted: 40 });
    const hopEvents = await api(
      'GET',
      `/api/v5/fraud/events?workerId=${hopper.workerId}&limit=100`,
    );
    expect(hopEvents.body.length).toBeGreaterThan(25);

    admin = await site.signedIn(t.keys.admin);
    auditor = await site.signedIn(t.keys.auditor);
  });

  afterAll(() => site?.close());

  /** Where the fraud table's box and its column headers are, the box scrolled to its start. */
  const fraudGeometry = () =>
    admin.page.evaluate(() => {
      const doc = (globalThis as any).document;
      const table = doc.querySelector('main table');
      const box = table.parentElement;
      box.scrollLeft = 0;
      const r = box.getBoundingClientRect();
      return {
        innerWidth: (globalThis as any).innerWidth,
        box: { left: r.left, right: r.right },
        scrollWidth: box.scrollWidth as number,
        clientWidth: box.clientWidth as number,
        headers: [...table.querySelectorAll('thead th')].map((th: any) => {
          const c = th.getBoundingClientRect();
          return { text: th.textContent as string, left: c.left, right: c.right };
        }),
      };
    });

  it('should show every column of the fraud events at a 1400 px wide window, a review form open', async () => {
    await admin.page.setViewportSize({ width: 1400, height: 900 });
    await admin.goto('#/fraud');
    await admin.page.locator('table tbody tr summary').first().click();
    await admin.settled();
    await admin.screenshot('site-manager-fraud-1400');
    const g = await fraudGeometry();
    // the 200-character names are on the page, wrapped
    expect(await admin.page.locator('table tbody').innerText()).toContain(LONG_WORKER);
    expect(await admin.page.locator('table tbody').innerText()).toContain(LONG_SITE);
    expect(g.headers.map((h) => h.text)).toEqual(
      expect.arrayContaining(['When', 'Device', 'Worker', 'Site', 'Detail', 'Review']),
    );
    // the table fits its box: nothing to scroll to, every column (the Review last) in view
    expect(g.scrollWidth).toBeLessThanOrEqual(g.clientWidth + 1);
    expect(g.box.right).toBeLessThanOrEqual(g.innerWidth);
    const outside = g.headers.filter((h) => h.left < g.box.left - 1 || h.right > g.box.right + 1);
    expect(outside).toEqual([]);
    // a phone's width does not fit it: the table then scrolls in its box, a keyboard region
    await admin.page.setViewportSize({ width: 390, height: 900 });
    await admin.page.waitForFunction(
      () => !!(globalThis as any).document.querySelector('main .table-wrap[role=region]'),
    );
    const narrow = await fraudGeometry();
    expect(narrow.scrollWidth).toBeGreaterThan(narrow.clientWidth);
    await admin.page.setViewportSize({ width: 1360, height: 900 });
    expect(admin.pageErrors).toEqual([]);
  });

  it('should name the workers, sites, devices and thekedars it used to show by id, the id on hover', async () => {
    await admin.goto(`#/fraud?workerId=${phones[0].workerId}`);
    const row = admin.page.locator('table tbody tr').first();
    const named = (kind: string) => row.locator(`.named[data-kind=${kind}]`);
    expect(await named('worker').innerText()).toBe(WORKERS[0]);
    expect(await named('worker').getAttribute('title')).toContain(phones[0].workerId);
    expect(await named('site').innerText()).toBe(SITE_NAME);
    expect(await named('site').getAttribute('data-id')).toBe(siteId);
    expect(await named('device').innerText()).toBe(`Redmi Note 12 of ${WORKERS[0]}`);
    expect(await named('device').getAttribute('title')).toContain(phones[0].deviceId);
    expect(await row.innerText()).not.toContain(phones[0].workerId.slice(-6));

    // the phones' users, the thekedar's too
    await admin.goto('#/devices');
    const users = await admin.page.locator('table tbody .named').allInnerTexts();
    expect(users).toEqual(expect.arrayContaining([WORKERS[0], WORKERS[1], 'Ramesh']));

    // a worker onboarded by the thekedar: its sites and its thekedar by name
    await admin.goto(`#/workers/${crew.workerId}`);
    const facts = admin.page.locator('dl.facts').first();
    expect(await facts.innerText()).toContain(SITE_NAME);
    expect(await facts.locator('.named[data-kind=thekedar]').innerText()).toBe('Ramesh');
    expect(await facts.locator('.named[data-kind=thekedar]').getAttribute('data-id')).toBe(
      thekedarId,
    );

    // the ledger of the site, headed by its name, the id beside it
    await admin.goto(`#/ledgers/${siteId}`);
    expect(await admin.page.locator('main section h2').first().innerText()).toBe(
      `${SITE_NAME} ${siteId}`,
    );
    expect(admin.pageErrors).toEqual([]);
  });

  it("should show times in the browser's zone, named, the exact instant on hover", async () => {
    const events = await api('GET', `/api/v5/fraud/events?workerId=${phones[0].workerId}`);
    const at = events.body[0].at as string;
    // flagged when synced (the clock's 06:00 UTC): 02:00 in New York, on daylight time
    expect(at).toBe('2026-03-20T06:00:00.000Z');
    await admin.goto(`#/fraud?workerId=${phones[0].workerId}`);
    const time = admin.page.locator('table tbody tr').first().locator('td').first().locator('time');
    expect(await time.getAttribute('datetime')).toBe(at);
    expect(await time.getAttribute('title')).toBe(at);
    const text = (await time.innerText()).replace(/\s+/g, ' ');
    expect(text).toBe('2026-03-20 02:00:00 GMT-4 (America/New_York)');
    // the filters take local times too, and say so
    expect(await admin.page.locator('form.filters').innerText()).toContain(
      `From (local time, ${BROWSER_ZONE})`,
    );
    expect(admin.pageErrors).toEqual([]);
  });

  it('should read each name once a session: turning fraud pages back and forth reads none again', async () => {
    // the server's requests counted on their way: a proxy in front of the app
    const reads: string[] = [];
    const target = new URL(t.baseUrl);
    const proxy: Server = createServer((req, res) => {
      const path = req.url ?? '/';
      if (req.method === 'GET' && /^\/api\/v5\/(workers|devices|thekedars)\/[^/?]+$/.test(path))
        reads.push(path);
      const onward = request(
        {
          host: target.hostname,
          port: target.port,
          path,
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(onward);
    });
    await new Promise<void>((ready) => proxy.listen(0, '127.0.0.1', ready));
    const tab = await ConsoleTab.open(
      browser,
      `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    );
    try {
      await tab.signIn(t.keys.admin);
      const turn = async (name: 'Next page' | 'Previous page') => {
        await tab.page.getByRole('button', { name }).first().click();
        await tab.settled();
      };
      await tab.goto('#/fraud');
      const first = reads.length;
      expect(first).toBeGreaterThan(0);
      // no name read twice on a page
      expect(new Set(reads).size).toBe(reads.length);
      await turn('Next page');
      const second = reads.length;
      // back and forth: the names are known
      await turn('Previous page');
      await turn('Next page');
      await turn('Previous page');
      expect(reads.length).toBe(second);
      expect(new Set(reads).size).toBe(reads.length);
      // a visit to another page (naming the other phones' users) and back: none again
      await tab.goto('#/devices');
      const devices = reads.length;
      await tab.goto('#/fraud');
      expect(reads.length).toBe(devices);
      expect(new Set(reads).size).toBe(reads.length);
      // signing in again (a key perhaps changed) starts afresh
      await tab.signOut();
      await tab.signIn(t.keys.admin);
      await tab.goto('#/fraud');
      expect(reads.length).toBeGreaterThan(devices);
      expect(tab.pageErrors).toEqual([]);
    } finally {
      await tab.page.close();
      proxy.closeAllConnections();
      await new Promise<void>((done) => proxy.close(() => done()));
    }
  });

  it('should name the zone by its current IANA name where Chrome reports a legacy one', async () => {
    // Chrome's ICU says Asia/Calcutta for a browser in Asia/Kolkata
    const indian = await launchBrowser({ timezoneId: 'Asia/Kolkata' });
    try {
      const tab = await ConsoleTab.open(indian, t.baseUrl);
      await tab.signIn(t.keys.admin);
      await tab.goto('#/fraud');
      const filters = await tab.page.locator('form.filters').innerText();
      expect(filters).toContain('From (local time, Asia/Kolkata)');
      expect(await tab.page.locator('table tbody time').first().innerText()).toContain(
        '(Asia/Kolkata)',
      );
      expect(await tab.page.locator('main').innerText()).not.toContain('Calcutta');
      expect(tab.pageErrors).toEqual([]);
    } finally {
      await indian.close();
    }
  });

  describe('payroll close', () => {
    const month = () => `#/timesheets/${siteId}?month=2026-03`;
    const closes = async () =>
      (await api('GET', `/api/v5/sites/${siteId}/payroll/closes`)).body.closes as Array<{
        from: string;
        to: string;
      }>;
    const confirmButton = () => admin.page.getByRole('button', { name: 'Yes, close the period' });

    it('should close the month after a confirmation, and explain a month not over yet', async () => {
      await admin.goto(month());
      expect(
        await admin.page.locator('[data-period-state]').getAttribute('data-period-state'),
      ).toBe('open');
      // the first click only asks; Cancel takes it back
      await admin.page.getByRole('button', { name: 'Close period…' }).click();
      expect(await admin.page.locator('.close-period').innerText()).toContain(
        `Close ${SITE_NAME} for March 2026 (2026-03-01 to 2026-03-31)?`,
      );
      await admin.page.getByRole('button', { name: 'Cancel' }).click();
      expect(await confirmButton().count()).toBe(0);
      expect(await closes()).toEqual([]);

      // on the 20th the month is not over at the site
      await admin.page.getByRole('button', { name: 'Close period…' }).click();
      await confirmButton().click();
      await admin.settled();
      const refused = await admin.shownError();
      expect(refused.code).toBe('period_not_over');
      expect(refused.text).toContain('close it from the day after its last day');
      expect(await closes()).toEqual([]);
      await admin.check('site-manager-close-refused');

      // on April 2nd it is
      clock.set('2026-04-02T00:00:00.000Z');
      await confirmButton().click();
      await admin.page.locator('[data-period-state=closed]').waitFor();
      await admin.settled();
      expect(await closes()).toEqual([
        expect.objectContaining({ from: '2026-03-01', to: '2026-03-31' }),
      ]);
      expect(await admin.page.locator('[data-period-state]').innerText()).toContain(
        'Nothing changed since.',
      );
      expect(
        await admin.page.locator('table', { hasText: 'Closed periods of this site' }).innerText(),
      ).toContain('2026-03-31');
      expect(await admin.page.getByRole('button', { name: 'Close period…' }).count()).toBe(0);
      expect(admin.pageErrors).toEqual([]);
    });

    it('should show what changed since the close, per worker, and no close action to an auditor', async () => {
      // a late sync of a March shift: 8 hours more for the second worker
      await sync(t.baseUrl, phones[1], [
        punch(phones[1], 'check_in', '2026-03-10T03:30:00Z'),
        punch(phones[1], 'check_out', '2026-03-10T11:30:00Z'),
      ]);
      for (const tab of [admin, auditor]) {
        await tab.goto('#/kiosks');
        await tab.goto(month());
        await tab.page.locator('[data-period-state=closed]').waitFor();
        expect(await tab.page.locator('[data-period-state]').innerText()).toContain(
          '1 worker changed since',
        );
        const grid = tab.page.locator('table.timesheet');
        expect(await grid.locator(`td[data-since-close="${phones[1].workerId}"]`).innerText()).toBe(
          '+8 h, +1 day',
        );
        expect(await grid.locator(`td[data-since-close="${phones[0].workerId}"]`).innerText()).toBe(
          '—',
        );
        const changes = tab.page.locator('table', { hasText: 'Changes since the close' });
        expect(await changes.locator('tbody tr').count()).toBe(1);
        expect(await changes.innerText()).toContain(WORKERS[1]);
      }
      // an auditor reads the closes but has no way to close: April, open, says who can
      await auditor.goto(`#/timesheets/${siteId}?month=2026-04`);
      expect(
        await auditor.page.locator('[data-period-state]').getAttribute('data-period-state'),
      ).toBe('open');
      expect(await auditor.page.getByRole('button', { name: 'Close period…' }).count()).toBe(0);
      expect(await auditor.page.locator('[data-close=admin-only]').innerText()).toBe(
        'Only an admin can close a period.',
      );
      expect(auditor.pageErrors).toEqual([]);
    });

    it('should show a month overlapping a closed period as such, and explain the refusal to close it', async () => {
      const first = await api('POST', `/api/v5/sites/${siteId}/payroll/closes`, {
        from: '2026-04-01',
        to: '2026-04-01',
      });
      expect(first.status).toBe(201);
      clock.set('2026-05-02T00:00:00.000Z');
      await admin.goto(`#/timesheets/${siteId}?month=2026-04`);
      expect(
        await admin.page.locator('[data-period-state]').getAttribute('data-period-state'),
      ).toBe('overlaps');
      expect(await admin.page.locator('[data-period-state]').innerText()).toContain(
        '2026-04-01 to 2026-04-01',
      );
      await admin.page.getByRole('button', { name: 'Close period…' }).click();
      await confirmButton().click();
      await admin.settled();
      const refused = await admin.shownError();
      expect(refused.code).toBe('period_overlaps_close');
      expect(refused.text).toContain('a day is closed once');
      expect((await closes()).length).toBe(2);
      expect(admin.pageErrors).toEqual([]);
    });
  });
});
