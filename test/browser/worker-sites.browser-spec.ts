import { http, TestApp } from '../support/test-app';
import { nextPhoneNumber } from '../support/worker-client';
import type { Route } from 'playwright-core';
import { ConsoleTab } from './console-driver';
import { consoleSuite, ConsoleSite, startConsoleSite } from './console-site';

jest.setTimeout(120_000);

const title = "console: a worker's sites and status in Chromium";

/**
 * The worker page's admin controls, through the REST API only: change the sites, deactivate
 * with a reason, reactivate; the workers list shows the status and filters by it.
 */
consoleSuite(title, () => {
  let app: ConsoleSite;
  let t: TestApp;
  let tab: ConsoleTab;

  beforeAll(async () => {
    app = await startConsoleSite();
    t = app.t;
    tab = await app.signedIn(t.keys.admin);
  });

  afterAll(() => app?.close());

  const site = async (name: string) => {
    const res = await http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      body: { name, geo: { lat: 28.6139, lng: 77.209 }, radiusM: 150 },
    });
    return res.body.siteId as string;
  };
  const worker = async (workerId: string) =>
    (await http(t.baseUrl, 'GET', `/api/v5/workers/${workerId}`, { key: t.keys.admin })).body;

  it("should move a worker to another site, deactivate and reactivate it, each with the API's answer shown", async () => {
    const a = await site('Tower A');
    const b = await site('Tower B');
    const created = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Sita Devi', phone: nextPhoneNumber(), siteIds: [a] },
    });
    const workerId = created.body.workerId as string;

    await tab.goto(`#/workers/${workerId}`);
    const sites = tab.page.locator('form', {
      has: tab.page.getByRole('button', { name: 'Save sites' }),
    });
    await sites.getByLabel('Tower B').waitFor();
    expect(await sites.getByLabel('Tower A').isChecked()).toBe(true);
    await sites.getByLabel('Tower A').uncheck();
    await sites.getByLabel('Tower B').check();
    await sites.getByRole('button', { name: 'Save sites' }).click();
    await tab.page.locator('table', { hasText: 'sites changed' }).waitFor();
    expect((await worker(workerId)).siteIds).toEqual([b]);
    await tab.check('worker-sites');

    await tab.page.getByLabel('Reason to deactivate').fill('left for another contractor');
    await tab.page.getByRole('button', { name: 'Deactivate worker' }).click();
    await tab.page.getByRole('button', { name: 'Reactivate worker' }).waitFor();
    expect((await worker(workerId)).status).toBe('inactive');
    expect(await tab.page.locator('[data-status]').innerText()).toMatch(
      /^inactive \(left\) since /,
    );
    expect(await tab.page.locator('table', { hasText: 'Worker history' }).innerText()).toContain(
      'left for another contractor',
    );

    // the list shows the status and filters by it
    await tab.goto('#/workforce');
    await tab.page.getByLabel('Status').selectOption('inactive');
    const row = tab.page.locator('table tbody tr', { hasText: 'Sita Devi' });
    await row.waitFor();
    expect(await row.innerText()).toContain('inactive');
    await tab.page.getByLabel('Status').selectOption('active');
    await tab.page.getByText('No workers here yet.').waitFor();

    await tab.goto(`#/workers/${workerId}`);
    await tab.page.getByLabel('Reason to reactivate').fill('back for the monsoon');
    await tab.page.getByRole('button', { name: 'Reactivate worker' }).click();
    await tab.page.getByRole('button', { name: 'Deactivate worker' }).waitFor();
    expect((await worker(workerId)).status).toBe('active');
  });

  it('should show the refusal of a site whose claim another worker holds, and change nothing', async () => {
    const a = await site('Tower C');
    const b = await site('Tower D');
    const phone = nextPhoneNumber();
    const first = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Meena', phone, siteIds: [a] },
    });
    await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Meena K', phone, siteIds: [b] },
    });
    const workerId = first.body.workerId as string;
    await tab.goto(`#/workers/${workerId}`);
    const sites = tab.page.locator('form', {
      has: tab.page.getByRole('button', { name: 'Save sites' }),
    });
    await sites.getByLabel('Tower D').check();
    await sites.getByRole('button', { name: 'Save sites' }).click();
    const refused = await tab.shownError();
    expect(refused.code).toBe('worker_exists');
    expect((await worker(workerId)).siteIds).toEqual([a]);
  });

  describe('when the site list did not load, or missed a site', () => {
    const isSites = (url: URL) => url.pathname === '/api/v5/sites';
    /** Every GET of the site list answered 500 (the server down a moment). */
    const failSites = (route: Route) =>
      route.request().method() === 'GET'
        ? route.fulfill({
            status: 500,
            contentType: 'application/json',
            body: JSON.stringify({ statusCode: 500, code: 'internal', message: 'Internal error' }),
          })
        : route.fallback();
    /** The server's site list without `missing` (a site a stale read would miss). */
    const withoutSite = (missing: string) => async (route: Route) => {
      if (route.request().method() !== 'GET') return route.fallback();
      const res = await route.fetch();
      const rows = ((await res.json()) as { siteId: string }[]).filter((s) => s.siteId !== missing);
      // a route unrouted while this handler waits for the server's answer (afterEach, or the
      // test's next step) is let through by Playwright: handled already, nothing to fulfill
      return route.fulfill({ response: res, json: rows }).catch((error: Error) => {
        if (!/already handled/.test(error.message)) throw error;
      });
    };
    afterEach(async () => {
      await tab.page.unroute(isSites);
    });
    /** The page at `hash` built anew (the same hash again would not read the sites again). */
    const fresh = async (hash: string) => {
      await tab.goto('#/fraud');
      await tab.goto(hash);
    };

    const thekedar = async (name: string, siteIds: string[]) =>
      (
        await http(t.baseUrl, 'POST', '/api/v5/thekedars', {
          key: t.keys.admin,
          body: { name, phone: nextPhoneNumber(), siteIds },
        })
      ).body.thekedarId as string;
    const thekedarSites = async (thekedarId: string) =>
      (
        (await http(t.baseUrl, 'GET', '/api/v5/thekedars', { key: t.keys.admin })).body as {
          thekedarId: string;
          siteIds: string[];
        }[]
      ).find((k) => k.thekedarId === thekedarId)!.siteIds;

    it("should not let a thekedar's sites be saved while the site list failed to load", async () => {
      const a = await site('Tower E');
      const thekedarId = await thekedar('Ramesh Lal', [a]);
      await tab.page.route(isSites, failSites);
      await fresh('#/workforce');
      const row = tab.page.locator('table tbody tr', { hasText: 'Ramesh Lal' });
      await row.getByLabel('Change the sites of Ramesh Lal').click();
      await row.getByText('The sites could not be read').waitFor();
      // an empty list saved would have taken Tower E away
      expect(await row.getByRole('button', { name: 'Save sites' }).isDisabled()).toBe(true);
      expect(await thekedarSites(thekedarId)).toEqual([a]);
    });

    it("should keep a thekedar's site the loaded list does not have", async () => {
      const a = await site('Tower F');
      const b = await site('Tower G');
      const c = await site('Tower H');
      const thekedarId = await thekedar('Mohan Lal', [a, b]);
      await tab.page.route(isSites, withoutSite(b));
      await fresh('#/workforce');
      // the editor's choices are the page's site list: wait until it is in
      await tab.page
        .locator('select[name=siteId] option', { hasText: 'Tower H' })
        .waitFor({ state: 'attached' });
      const row = tab.page.locator('table tbody tr', { hasText: 'Mohan Lal' });
      await row.getByLabel('Change the sites of Mohan Lal').click();
      const kept = row.getByLabel(`${b} (not in the site list)`);
      expect(await kept.isChecked()).toBe(true);
      await row.getByLabel('Tower H').check();
      await row.getByRole('button', { name: 'Save sites' }).click();
      // saved, the table is read again: the row shows what the server holds
      await row.locator('.thekedar-sites', { hasText: 'Tower H' }).waitFor();
      expect([...(await thekedarSites(thekedarId))].sort()).toEqual([a, b, c].sort());
    });

    it("should not let a worker's sites be saved while the site list failed to load, and keep a site the list missed", async () => {
      const a = await site('Tower J');
      const b = await site('Tower K');
      const created = await http(t.baseUrl, 'POST', '/api/v5/workers', {
        key: t.keys.admin,
        body: { name: 'Kamla Devi', phone: nextPhoneNumber(), siteIds: [a, b] },
      });
      const workerId = created.body.workerId as string;
      const form = tab.page.locator('form', {
        has: tab.page.getByRole('button', { name: 'Save sites' }),
      });

      await tab.page.route(isSites, failSites);
      await fresh(`#/workers/${workerId}`);
      await form.getByText('The sites could not be read').waitFor();
      expect(await form.getByRole('button', { name: 'Save sites' }).isDisabled()).toBe(true);
      await tab.page.unroute(isSites);

      await tab.page.route(isSites, withoutSite(b));
      await fresh(`#/workers/${workerId}`);
      await form.getByLabel('Tower J').waitFor();
      expect(await form.getByLabel(`${b} (not in the site list)`).isChecked()).toBe(true);
      expect(await form.getByRole('button', { name: 'Save sites' }).isDisabled()).toBe(false);
      await form.getByLabel('Tower J').uncheck();
      await form.getByRole('button', { name: 'Save sites' }).click();
      await tab.page.locator('table', { hasText: 'sites changed' }).waitFor();
      expect((await worker(workerId)).siteIds).toEqual([b]);
    });
  });

  it('should move the focus to the content on "Skip to content", the page staying', async () => {
    await tab.goto('#/workforce');
    await tab.page.getByRole('heading', { name: 'Workforce', exact: true }).waitFor();
    await tab.page.locator('a.skip').focus();
    await tab.page.keyboard.press('Enter');
    expect(await tab.page.evaluate('location.hash')).toBe('#/workforce');
    expect(await tab.page.evaluate('document.activeElement && document.activeElement.id')).toBe(
      'main',
    );
    await tab.settled();
    expect(await tab.page.getByText('Not available').count()).toBe(0);
    await tab.page.getByRole('heading', { name: 'Workforce', exact: true }).waitFor();
  });
});
