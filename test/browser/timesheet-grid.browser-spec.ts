import { newId } from '@app/common';
import { LedgerService } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { WorkforceRepository } from '@app/workforce/infrastructure/persistence/workforce.repository';
import { http, TestApp } from '../support/test-app';
import { createSite } from '../support/timesheet-client';
import { ConsoleTab } from './console-driver';
import { consoleSuite, ConsoleSite, startConsoleSite } from './console-site';

jest.setTimeout(300_000);

const WORKERS = 2000;
const ROWS = 50;

const title = 'console timesheet grid of a large site in Chromium';

/**
 * A site of 2,000 workers, each with a day in March 2026: the grid pages through every one of
 * them (50 rows a page, the API's cursor underneath), names them all, and goes back.
 */
consoleSuite(title, () => {
  let app: ConsoleSite;
  let t: TestApp;
  let tab: ConsoleTab;
  let siteId: string;
  /** The workers in the API's order (by id), with their names. */
  let workers: { id: string; name: string }[];
  let otherSite: string;

  beforeAll(async () => {
    app = await startConsoleSite();
    t = app.t;
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    // seeded through the ports (2,000 HTTP creations and phones would be the slow part)
    const store = t.app.get(WorkforceRepository, { strict: false });
    workers = Array.from({ length: WORKERS }, (_, i) => ({
      id: newId(),
      name: `Worker ${String(i + 1).padStart(4, '0')}`,
    }));
    for (const [i, w] of workers.entries()) {
      const taken = await store.createWorker(
        {
          id: w.id,
          name: w.name,
          phone: `+91 90000 ${String(i).padStart(5, '0')}`,
          siteIds: [siteId],
          trustScore: 50,
          sponsor: { kind: 'admin', actor: 'admin:seed' },
          status: 'active',
          createdAt: new Date(),
        },
        { codeHash: `grid-${w.id}`, personKind: 'worker', personId: w.id, expiresAt: new Date() },
      );
      expect(taken).toBeUndefined();
    }
    workers.sort((a, b) => a.id.localeCompare(b.id));
    const ledger = t.app.get(LedgerService);
    const punches = workers.flatMap((w, i) => [
      punchEntry({
        siteId,
        workerId: w.id,
        type: 'check_in' as const,
        timestamp: `2026-03-${String((i % 28) + 1).padStart(2, '0')}T03:30:00.000Z`,
      }),
      punchEntry({
        siteId,
        workerId: w.id,
        type: 'check_out' as const,
        timestamp: `2026-03-${String((i % 28) + 1).padStart(2, '0')}T11:30:00.000Z`,
      }),
    ]);
    for (let i = 0; i < punches.length; i += 500) await ledger.append(punches.slice(i, i + 500));
    // the first worker also punched at another site during its shift (overlaps_other_site)
    otherSite = (await createSite(t.baseUrl, t.keys.admin, 'UTC')).siteId;
    await ledger.append([
      punchEntry({
        siteId: otherSite,
        workerId: workers[0].id,
        type: 'check_in' as const,
        timestamp: '2026-03-01T05:30:00.000Z',
      }),
      punchEntry({
        siteId: otherSite,
        workerId: workers[0].id,
        type: 'check_out' as const,
        timestamp: '2026-03-01T09:30:00.000Z',
      }),
    ]);
    tab = await app.signedIn(t.keys.auditor);
  });

  afterAll(() => app?.close());

  const rowIds = () =>
    tab.page
      .locator('table.timesheet tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-worker-id')));
  const status = () => tab.page.locator('[data-rows]').getAttribute('data-rows');
  const next = () => tab.page.getByRole('button', { name: 'Next page' });
  const previous = () => tab.page.getByRole('button', { name: 'Previous page' });

  it('should page through all 2,000 workers, 50 rows at a time, each named and with its day', async () => {
    await tab.goto(`#/timesheets/${siteId}?month=2026-03`);
    expect(await status()).toBe(`1-${ROWS}/${WORKERS}`);
    expect(await rowIds()).toEqual(workers.slice(0, ROWS).map((w) => w.id));
    expect(await previous().isDisabled()).toBe(true);
    await tab.check('timesheets-paged');

    const seen: string[] = [];
    for (let page = 1; ; page++) {
      const ids = await rowIds();
      expect(ids).toHaveLength(ROWS);
      expect(ids).toEqual(workers.slice((page - 1) * ROWS, page * ROWS).map((w) => w.id));
      seen.push(...(ids as string[]));
      if (await next().isDisabled()) break;
      await next().click();
      await tab.settled();
    }
    expect(seen).toEqual(workers.map((w) => w.id));
    expect(await status()).toBe(`${WORKERS - ROWS + 1}-${WORKERS}/${WORKERS}`);

    // the last page's rows carry their names (read past the worker list's first pages) and days
    const last = workers[WORKERS - 1];
    const row = tab.page.locator(`tr[data-worker-id="${last.id}"]`);
    expect(await row.locator('th').innerText()).toBe(last.name);
    expect(await row.locator('button.cell').count()).toBe(1);
    expect(await row.locator('button.cell').getAttribute('aria-label')).toMatch(
      new RegExp(`^${last.name}, 2026-03-\\d\\d: 8 hours; no flags$`),
    );

    // and back
    await previous().click();
    await tab.settled();
    expect(await rowIds()).toEqual(
      workers.slice(WORKERS - 2 * ROWS, WORKERS - ROWS).map((w) => w.id),
    );

    // each list of workers and each API page of days was read once, however far it paged
    const reads = (path: string) => tab.requests.filter((url) => url.includes(path)).length;
    // (a walk may end on a page that says there may be more: one read more than the pages)
    expect(reads('/api/v5/workers?')).toBeLessThanOrEqual(Math.ceil(WORKERS / 500) + 1);
    expect(reads('/timesheets?')).toBeLessThanOrEqual(Math.ceil(WORKERS / 1000) + 1);
    expect(reads('/payroll?')).toBe(1);
    expect(tab.pageErrors).toEqual([]);
  });

  it('should name the other site, by its name, on a day whose shift overlaps one there', async () => {
    const first = workers[0];
    const cellOf = () => tab.page.locator(`tr[data-worker-id="${first.id}"] button.cell`);
    // the other site first (the grid is on this site's last page: a new route renders anew)
    await tab.goto(`#/timesheets/${otherSite}?month=2026-03`);
    // (a worker of the other site's list only: named there by its id)
    expect(await cellOf().getAttribute('aria-label')).toMatch(
      /, 2026-03-01: 4 hours; flags: overlaps a shift at another site: Site Asia\/Kolkata$/,
    );
    await tab.goto(`#/timesheets/${siteId}?month=2026-03`);
    expect(await cellOf().getAttribute('aria-label')).toBe(
      `${first.name}, 2026-03-01: 8 hours; flags: overlaps a shift at another site: Site UTC`,
    );
    expect(await cellOf().getAttribute('data-flags')).toBe('overlaps_other_site');
    expect(tab.pageErrors).toEqual([]);
  });

  it("should name a worker moved to another site by the month's payroll, not by its id", async () => {
    const moved = workers[1];
    const other = await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata');
    const res = await http(t.baseUrl, 'PATCH', `/api/v5/workers/${moved.id}`, {
      key: t.keys.admin,
      body: { siteIds: [other.siteId] },
    });
    expect(res.status).toBe(200);
    // the site's worker list no longer has it; its March days here stay (the grid read anew:
    // the same hash again would not reload it)
    await tab.goto('#/sites');
    await tab.goto(`#/timesheets/${siteId}?month=2026-03`);
    const row = tab.page.locator(`table.timesheet tbody tr[data-worker-id="${moved.id}"]`);
    expect(await row.locator('th').innerText()).toBe(moved.name);
    expect(tab.pageErrors).toEqual([]);
  });
});
