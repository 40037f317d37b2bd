import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '@app/common';
import { imageBytes } from '../support/image-bytes';
import { TestKiosk } from '../support/kiosk';
import { http, TestApp } from '../support/test-app';
import { punch, sync } from '../support/timesheet-client';
import { Phone } from '../support/worker-client';
import { ARTIFACTS, Browser, ConsoleTab } from './console-driver';
import { consoleSuite, ConsoleSite, startConsoleSite } from './console-site';

jest.setTimeout(600_000);

/** A phone, a tablet held upright, a laptop. */
const WIDTHS = [390, 768, 1400] as const;
const HEIGHT = 900;
const MONTH = '2026-03';

const title = 'console layout at phone, tablet and laptop widths in Chromium';

/** What one page looks like at one width, measured in the page. */
interface Layout {
  innerWidth: number;
  /** document.scrollingElement.scrollWidth: more than innerWidth is a page scrolling sideways. */
  scrollWidth: number;
  /** html's and body's overflow-x: `hidden` there would hide the overflow, not fix it. */
  rootOverflow: string[];
  /** Elements reaching past the viewport's right edge, not inside a scroll container. */
  outside: string[];
  /** Elements whose overflowing content is clipped (overflow hidden or clip), not scrollable. */
  clipped: string[];
  /** Navigation links not wholly on screen. */
  navOffscreen: string[];
  navLinks: number;
  mainWidth: number;
}

/**
 * Runs in the page (a function, not a string: the console's CSP forbids eval). The test's own
 * types know no DOM, hence the `any`.
 */
function measure(): Layout {
  const doc = (globalThis as any).document;
  const win = globalThis as any;
  const vw: number = win.innerWidth;
  const label = (el: any): string => {
    const cls =
      typeof el.className === 'string' && el.className
        ? `.${el.className.trim().split(/\s+/).join('.')}`
        : '';
    const text = (el.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 40);
    return `${el.tagName.toLowerCase()}${cls} "${text}"`;
  };
  const scrolls = (el: any): boolean => {
    const x = win.getComputedStyle(el).overflowX;
    return x === 'auto' || x === 'scroll';
  };
  const inScroller = (el: any): boolean => {
    for (
      let p = el.parentElement;
      p && p !== doc.body && p !== doc.documentElement;
      p = p.parentElement
    )
      if (scrolls(p)) return true;
    return false;
  };
  const outside: string[] = [];
  const clipped: string[] = [];
  for (const el of doc.body.querySelectorAll('*')) {
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) continue;
    const style = win.getComputedStyle(el);
    if (style.visibility === 'hidden') continue;
    if (rect.right > vw + 1 && !inScroller(el))
      outside.push(`${label(el)} right=${Math.round(rect.right)}`);
    const formControl = ['INPUT', 'TEXTAREA', 'SELECT', 'OPTION'].includes(el.tagName);
    if (
      !formControl &&
      (style.overflowX === 'hidden' || style.overflowX === 'clip') &&
      el.scrollWidth > el.clientWidth + 1
    )
      clipped.push(`${label(el)} ${el.scrollWidth}>${el.clientWidth}`);
  }
  const links = [...doc.querySelectorAll('nav.nav a')];
  const navOffscreen = links
    .filter((a: any) => {
      const r = a.getBoundingClientRect();
      return r.width === 0 || r.height === 0 || r.left < -1 || r.right > vw + 1;
    })
    .map(label);
  return {
    innerWidth: vw,
    scrollWidth: doc.scrollingElement.scrollWidth,
    rootOverflow: [doc.documentElement, doc.body].map(
      (el: any) => win.getComputedStyle(el).overflowX,
    ),
    outside: outside.slice(0, 8),
    clipped: clipped.slice(0, 8),
    navOffscreen,
    navLinks: links.length,
    mainWidth: doc.querySelector('main').getBoundingClientRect().width,
  };
}

/** Waits for the page to render a frame at its new size (its resize observers have run). */
async function nextFrame(tab: ConsoleTab): Promise<void> {
  await tab.page.evaluate(
    () =>
      new Promise<void>((resolve) =>
        (globalThis as any).requestAnimationFrame(() =>
          (globalThis as any).requestAnimationFrame(() => resolve()),
        ),
      ),
  );
}

/** The timesheet grid's scroll container, scrolled to its far right; where its first column is. */
function gridAtFarRight(): {
  container: string;
  overflowX: string;
  scrollWidth: number;
  clientWidth: number;
  containerLeft: number;
  containerRight: number;
  innerWidth: number;
  sticky: string[];
  scrolledBy: number;
  /** For each row: its worker cell's left edge, and whether it is on top at its own centre. */
  rows: Array<{ left: number; onTop: boolean }>;
} {
  const doc = (globalThis as any).document;
  const win = globalThis as any;
  const table = doc.querySelector('table.timesheet');
  let box = table.parentElement;
  while (box && !['auto', 'scroll'].includes(win.getComputedStyle(box).overflowX))
    box = box.parentElement;
  box = box ?? doc.scrollingElement;
  box.scrollLeft = box.scrollWidth;
  const rect = box.getBoundingClientRect();
  const firstColumn = [...table.querySelectorAll('thead th:first-child, tbody th[scope=row]')];
  return {
    container: `${box.tagName.toLowerCase()}.${box.className}`,
    overflowX: win.getComputedStyle(box).overflowX,
    scrollWidth: box.scrollWidth,
    clientWidth: box.clientWidth,
    containerLeft: rect.left,
    containerRight: rect.right,
    innerWidth: win.innerWidth,
    sticky: [
      ...new Set(firstColumn.map((th: any) => win.getComputedStyle(th).position)),
    ] as string[],
    scrolledBy: box.scrollLeft,
    rows: [...table.querySelectorAll('tbody th[scope=row]')].map((th: any) => {
      // the row on screen (its cell may scroll the box back: it goes to the far right again)
      th.scrollIntoView({ block: 'center', inline: 'nearest' });
      box.scrollLeft = box.scrollWidth;
      const r = th.getBoundingClientRect();
      const hit = doc.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return { left: r.left, onTop: !!hit && th.contains(hit) };
    }),
  };
}

/**
 * Every console page, with realistic data seeded through the REST API (long site, worker and
 * kiosk names, a month of punches for a dozen workers, fraud flags, vault reads), at a phone's,
 * a tablet's and a laptop's width: the page itself never scrolls sideways, wide tables scroll
 * inside their own box, the navigation stays on screen, nothing is clipped, and the timesheet
 * grid scrolls in its box with the worker column kept in view.
 */
consoleSuite(title, () => {
  let site: ConsoleSite;
  let t: TestApp;
  let browser: Browser;
  let admin: ConsoleTab;
  let auditor: ConsoleTab;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  let siteId: string;
  let kioskId: string;
  let phones: Phone[];
  /** Every fault found, `<page> @ <width>: <what>`. */
  const faults: string[] = [];

  const NAMES = [
    'Lakshmi Venkataraman Subramaniam',
    'Mohammed Irfan Qureshi',
    'Sita Devi',
    'Gurpreet Singh Dhillon',
    'Anil Kumar Yadav',
    'Rekha Kumari Prajapati',
    'Suresh Babu Nagarajan',
    'Fatima Bano',
    'Rajendra Prasad Chaudhary',
    'Kavita Ramchandra Patil',
    'Dinesh Chandra Joshi',
    'Bhagwati Prasad Mishra',
  ];

  beforeAll(async () => {
    site = await startConsoleSite(
      {
        // a month of punches synced at its end
        SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 40),
        OFFLINE_TOKEN_TTL_DAYS: '60',
        TRUST_AUTO_BLOCK_FLOOR: '0',
      },
      { clock },
    );
    ({ t, browser } = site);
    const { api } = site;

    siteId = await site.site('Dwarka Sector 21 Metro Depot, Tower B (North Wing Extension)');
    for (const name of ['Noida Sector 62 Data Centre Annexe', 'Gurugram Cyber Hub Phase III'])
      await site.site(name);

    // kiosks with long ids, one with a history of block, unblock and a reason
    for (let i = 1; i <= 6; i++) {
      const id = `TEE-RDKX5-DWARKA-TOWER-B-GATE-NORTH-${String(i).padStart(4, '0')}`;
      await TestKiosk.registered(t, id);
      kioskId ??= id;
    }
    for (const verb of ['block', 'unblock']) {
      const res = await api('POST', `/api/kiosks/${kioskId}/${verb}`, {
        reason: `${verb}: reported by the site supervisor after the night shift handover at gate 2`,
      });
      expect(res.status).toBeLessThan(300);
    }

    // a dozen workers with phones, a thekedar
    phones = [];
    for (const name of NAMES) phones.push(await site.workerPhone(name, siteId));
    const thekedar = await api('POST', '/api/v5/thekedars', {
      name: 'Ramesh Chandra Vishwakarma',
      phone: '+91 98100 49999',
    });
    expect(thekedar.status).toBe(201);

    // March at the site: 09:00-18:00 IST every day but Sundays, synced on the 31st
    clock.set('2026-03-31T20:00:00.000Z');
    for (const [i, phone] of phones.entries()) {
      const packets = [];
      for (let day = 1; day <= 31; day++) {
        const date = `${MONTH}-${String(day).padStart(2, '0')}`;
        if (new Date(`${date}T00:00:00Z`).getUTCDay() === 0) continue;
        packets.push(punch(phone, 'check_in', `${date}T03:30:00Z`));
        // some open shifts: a flagged day
        if ((day + i) % 11 !== 0) packets.push(punch(phone, 'check_out', `${date}T12:30:00Z`));
      }
      await sync(t.baseUrl, phone, packets);
    }
    // a teleporting phone: fraud events
    await site.teleport(phones[0], '2026-03-31T14:00:00.000Z');

    // the vault: a stored file, read with a purpose
    const stored = await http(t.baseUrl, 'POST', '/api/v5/vault', {
      key: t.keys.admin,
      rawBody: imageBytes('image/jpeg', 64),
      headers: { 'content-type': 'image/jpeg' },
    });
    expect(stored.status).toBe(201);
    const read = await fetch(`${t.baseUrl}/api/v5/vault/${stored.body.fileId}`, {
      headers: {
        'x-api-key': t.keys.auditor,
        'x-access-purpose': 'fraud case 2026-114: enrollment photo against the gate camera',
      },
    });
    expect(read.status).toBe(200);

    admin = await site.signedIn(t.keys.admin);
    auditor = await site.signedIn(t.keys.auditor);
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(() => site?.close());

  /** Measures the page as it is at each width, noting every fault; a screenshot of each. */
  async function atEveryWidth(tab: ConsoleTab, name: string, nav = true): Promise<void> {
    // each table from its start (a click may have scrolled one), for the screenshots
    await tab.page.evaluate(() =>
      (globalThis as any).document
        .querySelectorAll('.table-wrap')
        .forEach((box: any) => (box.scrollLeft = 0)),
    );
    for (const width of WIDTHS) {
      await tab.page.setViewportSize({ width, height: HEIGHT });
      await nextFrame(tab);
      const layout = await tab.page.evaluate(measure);
      const at = `${name} @ ${width}`;
      if (layout.scrollWidth > layout.innerWidth)
        faults.push(
          `${at}: the page scrolls sideways (${layout.scrollWidth} > ${layout.innerWidth})`,
        );
      for (const overflow of layout.rootOverflow)
        if (overflow === 'hidden' || overflow === 'clip')
          faults.push(`${at}: the page hides its overflow (${overflow})`);
      for (const el of layout.outside) faults.push(`${at}: past the right edge: ${el}`);
      for (const el of layout.clipped) faults.push(`${at}: clipped: ${el}`);
      for (const el of layout.navOffscreen) faults.push(`${at}: navigation link off screen: ${el}`);
      if (nav && layout.navLinks === 0) faults.push(`${at}: no navigation`);
      // on a phone the content gets the screen, not a sliver beside the navigation
      if (width < 500 && layout.mainWidth < 0.85 * width)
        faults.push(`${at}: the content is ${Math.round(layout.mainWidth)} px wide`);
      // a box that scrolls is a region the keyboard reaches (axe: scrollable-region-focusable)
      const serious = (await tab.axe()).filter(
        (v) => v.impact === 'serious' || v.impact === 'critical',
      );
      for (const v of serious) faults.push(`${at}: accessibility: ${v.id} (${v.nodes})`);
      await tab.page.screenshot({
        path: join(ARTIFACTS, `layout-${name}-${width}.png`),
        fullPage: true,
      });
    }
  }

  it('should fit the sign-in form', async () => {
    const tab = await ConsoleTab.open(browser, t.baseUrl);
    await tab.page.getByLabel('API key').waitFor();
    await atEveryWidth(tab, 'sign-in', false);
    await tab.page.close();
  });

  it('should fit the kiosk list and a kiosk with its history', async () => {
    await admin.goto('#/kiosks');
    await atEveryWidth(admin, 'kiosks');
    await admin.goto(`#/kiosks/${kioskId}`);
    await atEveryWidth(admin, 'kiosk-detail');
  });

  it('should fit the Wi-Fi provisioning page with its challenge QR', async () => {
    await admin.goto('#/wifi');
    await admin.page.getByLabel('Kiosk').fill(kioskId);
    await admin.page.getByLabel('Wi-Fi network (SSID)').fill('Site-7 Office');
    await admin.page.getByLabel('Wi-Fi password').fill('correct horse battery');
    await admin.page.getByRole('button', { name: 'Generate challenge QR' }).click();
    await admin.page.locator('[data-state=waiting]').waitFor();
    await atEveryWidth(admin, 'wifi');
  });

  it('should fit the workforce page with a new enrollment QR, and a worker', async () => {
    await admin.goto('#/workforce');
    const row = admin.page.locator('table tbody tr', { hasText: NAMES[0] });
    await row.getByRole('button', { name: `New enrollment code for ${NAMES[0]}` }).click();
    await admin.page.locator('figure.qr img').waitFor();
    await admin.settled();
    await atEveryWidth(admin, 'workforce');
    await admin.goto(`#/workers/${phones[0].workerId}`);
    await atEveryWidth(admin, 'worker');
  });

  it('should fit the device list and a device with its trust chart', async () => {
    await admin.goto('#/devices');
    await atEveryWidth(admin, 'devices');
    await admin.goto(`#/devices/${phones[0].deviceId}`);
    await admin.page.locator('svg.chart').waitFor();
    await atEveryWidth(admin, 'device-trust');
  });

  it('should fit the fraud events with a review form open', async () => {
    await admin.goto('#/fraud');
    await admin.page.locator('table tbody tr summary').first().click();
    await atEveryWidth(admin, 'fraud');
  });

  it('should fit the ledger of a site, verified', async () => {
    await admin.goto(`#/ledgers/${siteId}`);
    await admin.page.getByRole('button', { name: 'Verify chain' }).click();
    await admin.page.locator('[data-verify=ok]').waitFor();
    await atEveryWidth(admin, 'ledgers');
  });

  it('should fit the vault audit, verified', async () => {
    await auditor.goto('#/vault');
    await auditor.page.getByRole('button', { name: 'Verify audit chain' }).click();
    await auditor.page.locator('[data-verify=ok]').waitFor();
    await atEveryWidth(auditor, 'vault');
  });

  it('should fit the timesheet month, its grid scrolling in its own box with the worker column in view', async () => {
    await auditor.goto(`#/timesheets/${siteId}?month=${MONTH}`);
    expect(await auditor.page.locator('table.timesheet tbody tr').count()).toBe(NAMES.length);
    await auditor.page.locator('table.timesheet button.cell').nth(40).click();
    await auditor.page.locator('.day-detail h4').waitFor();
    await atEveryWidth(auditor, 'timesheets');
    for (const width of WIDTHS) {
      await auditor.page.setViewportSize({ width, height: HEIGHT });
      const grid = await auditor.page.evaluate(gridAtFarRight);
      const at = `timesheets grid @ ${width}`;
      // 31 days and the totals are wider than any of these screens: the grid's own box scrolls
      if (grid.overflowX !== 'auto' && grid.overflowX !== 'scroll')
        faults.push(`${at}: its box (${grid.container}) does not scroll (${grid.overflowX})`);
      if (!(grid.scrollWidth > grid.clientWidth))
        faults.push(`${at}: nothing to scroll (${grid.scrollWidth} <= ${grid.clientWidth})`);
      if (grid.scrolledBy <= 0) faults.push(`${at}: scrolling moved nothing`);
      if (grid.containerRight > grid.innerWidth + 1 || grid.containerLeft < 0)
        faults.push(
          `${at}: its box is not on screen (${grid.containerLeft}-${grid.containerRight})`,
        );
      if (grid.sticky.join() !== 'sticky')
        faults.push(`${at}: the worker column is positioned ${grid.sticky.join(', ')}`);
      // scrolled to the last day, each worker's name is still at the box's left edge, on top
      for (const [i, row] of grid.rows.entries()) {
        if (Math.abs(row.left - grid.containerLeft) > 2)
          faults.push(`${at}: row ${i + 1}'s worker scrolled away (left ${row.left})`);
        if (!row.onTop) faults.push(`${at}: row ${i + 1}'s worker is covered`);
      }
      if (width === 390)
        await auditor.page.screenshot({
          path: join(ARTIFACTS, `layout-timesheets-grid-scrolled-${width}.png`),
        });
    }
  });

  it('should have found no layout fault on any page at any width', () => {
    expect(faults).toEqual([]);
    expect([...admin.pageErrors, ...auditor.pageErrors]).toEqual([]);
    const csp = [...admin.consoleMessages, ...auditor.consoleMessages].filter((m) =>
      /Content Security Policy|Refused to/i.test(m),
    );
    expect(csp).toEqual([]);
  });
});
