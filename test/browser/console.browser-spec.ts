import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConsole } from '../../scripts/build-console';
import { TestKiosk } from '../support/kiosk';
import { connectDevice, openSession } from '../support/pairing';
import { http, startTestApp, TestApp } from '../support/test-app';
import { Phone, signPacket, syncBatch } from '../support/worker-client';
import {
  ARTIFACTS,
  AxeViolation,
  Browser,
  CHROMIUM,
  chromiumPresent,
  ConsoleTab,
  launchBrowser,
} from './console-driver';
import { jpegBytes } from '../support/image-bytes';

jest.setTimeout(120_000);

if (!chromiumPresent) {
  if (process.env.CI === 'true') {
    throw new Error(`CI must run the console browser suite, but Chromium is not at ${CHROMIUM}`);
  }
  process.stdout.write(
    `\nconsole browser suite SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)\n`,
  );
}

const suite = chromiumPresent ? describe : describe.skip;
const title = chromiumPresent
  ? 'operator console in Chromium (browser)'
  : `operator console in Chromium (browser) (skipped: no Chromium at ${CHROMIUM})`;

suite(title, () => {
  let t: TestApp;
  let browser: Browser;
  let consoleDir: string;
  const tabs: ConsoleTab[] = [];

  const open = async (key?: string): Promise<ConsoleTab> => {
    const tab = await ConsoleTab.open(browser, t.baseUrl);
    tabs.push(tab);
    if (key) await tab.signIn(key);
    return tab;
  };

  beforeAll(async () => {
    consoleDir = await buildConsole(mkdtempSync(join(tmpdir(), 'mdai-console-build-')));
    t = await startTestApp({ CONSOLE_DIR: consoleDir });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  });

  describe('sign-in and roles', () => {
    it('should refuse an unknown key and show the error code, message and correlation id', async () => {
      const tab = await open();
      await tab.check('sign-in');
      await tab.signIn('not-a-real-key');
      const error = await tab.shownError();
      expect(error.code).toBe('unauthorized');
      expect(error.correlationId).toMatch(/\S{8,}/);
      expect(error.text).toContain('A valid x-api-key header is required');
      await tab.check('sign-in-error');
    });

    it('should take a key pasted with its quotes (from secrets.json with its comma, from a chat in curly quotes) and refuse, before any request, a text no key can be', async () => {
      const key = t.keys.admin;
      const storedKey = (tab: ConsoleTab) =>
        // a string, evaluated in the page (the test's own types know no DOM)
        tab.page.evaluate<string | null>("sessionStorage.getItem('mdai.console.apiKey')");
      for (const pasted of [
        `"${key}"`,
        `  "${key}",  `,
        `\u201c${key}\u201d`,
        `\u2018${key}\u2019`,
        `'${key}'`,
      ]) {
        const tab = await open(pasted);
        expect(await tab.page.locator('[data-role]').getAttribute('data-role')).toBe('admin');
        // the key as the server lists it, not as pasted
        expect(await storedKey(tab)).toBe(key);
      }

      const tab = await open();
      const whoami = () => tab.requests.filter((url) => url.includes('/api/whoami')).length;
      for (const pasted of [
        `\u201c${key}\u201d (admin)`, // text after the closing quote
        `${key.slice(0, 12)}\u043a\u043b\u044e\u0447${key.slice(12)}`, // Cyrillic
        `${key},${t.keys.auditor}`, // two keys
        `${key}\u{1F511}`,
      ]) {
        await tab.signIn(pasted);
        const error = await tab.shownError();
        expect(error.code).toBe('invalid_key');
        expect(error.text).toContain('This is not a valid key');
        // said without the text pasted
        expect(error.text).not.toContain(key.slice(9));
        expect(await tab.page.locator('[data-role]').count()).toBe(0);
      }
      await tab.signIn('\u201c\u201d');
      expect((await tab.shownError()).text).toContain('there is none between the quotes');
      expect(whoami()).toBe(0);
      expect(tab.failedLoads).toEqual([]);
      expect(await storedKey(tab)).toBeNull();
    });

    it('should show an admin the administration pages, not the vault audit', async () => {
      const tab = await open(t.keys.admin);
      expect(await tab.navLinks()).toEqual([
        'Kiosks',
        'Wi-Fi provisioning',
        'Workforce',
        'Devices and trust',
        'Fraud',
        'Ledgers',
        'Timesheets',
      ]);
      expect(await tab.page.locator('[data-role]').getAttribute('data-role')).toBe('admin');
      await tab.goto('#/vault');
      expect(await tab.page.locator('h1').innerText()).toBe('Not available');
    });

    it('should show a provisioner the kiosks only', async () => {
      const tab = await open(t.keys.provisioner);
      expect(await tab.navLinks()).toEqual(['Kiosks']);
    });

    it('should show an auditor the ledgers and the vault audit, not kiosk administration', async () => {
      const tab = await open(t.keys.auditor);
      expect(await tab.navLinks()).toEqual(['Ledgers', 'Timesheets', 'Vault audit']);
      await tab.goto('#/kiosks');
      expect(await tab.page.locator('h1').innerText()).toBe('Not available');
    });

    it('should tell a mobile or hardware key that it has no console pages', async () => {
      const tab = await open(t.keys.mobile);
      expect(await tab.page.locator('h1').innerText()).toBe('No console pages for this key');
      await tab.check('no-pages');
    });

    it('should keep the key in session storage only, never in the URL, and forget it on sign-out', async () => {
      const tab = await open(t.keys.admin);
      expect(tab.page.url()).not.toContain(t.keys.admin);
      expect(tab.requests.some((url) => url.includes(t.keys.admin))).toBe(false);
      expect(await tab.page.evaluate("sessionStorage.getItem('mdai.console.apiKey')")).toBe(
        t.keys.admin,
      );
      expect(await tab.page.evaluate('localStorage.length')).toBe(0);
      await tab.page.reload();
      await tab.settled();
      expect(await tab.navLinks()).toContain('Kiosks');
      await tab.signOut();
      expect(await tab.page.evaluate('sessionStorage.length')).toBe(0);
      expect(t.logs()).not.toContain(t.keys.admin);
    });
  });

  describe('kiosks', () => {
    let kiosk: TestKiosk;

    it('should register a kiosk, find it by prefix and open its page', async () => {
      kiosk = new TestKiosk('TEE-BROWSER-0001');
      const tab = await open(t.keys.provisioner);
      await tab.page.getByLabel('Device ID', { exact: true }).fill(kiosk.deviceId);
      await tab.page.getByLabel('TrustZone public key (SPKI PEM)').fill(kiosk.publicKeyPem);
      await tab.page.getByRole('button', { name: 'Register kiosk' }).click();
      await tab.page.getByText(`Registered ${kiosk.deviceId}.`).waitFor();
      await TestKiosk.registered(t, 'OTHER-0001');
      await tab.page.getByLabel('Device ID starts with').fill('TEE-BROWSER');
      await tab.page.getByRole('button', { name: 'Search' }).click();
      await tab.settled();
      const rows = tab.page.locator('table tbody tr');
      expect(await rows.count()).toBe(1);
      expect(await rows.first().innerText()).toContain('active');
      const connected = rows.first().locator('[data-connected]');
      expect(await connected.getAttribute('data-connected')).toBe('false');

      // The kiosk joins a pairing session over /ws/device: the list says so after a refresh.
      const session = await openSession(t, 'PLT_consoleBrowser01');
      const socket = await connectDevice(t, kiosk, session);
      await socket.next('joined');
      await tab.page.getByRole('button', { name: 'Refresh' }).click();
      await tab.settled();
      expect(await connected.getAttribute('data-connected')).toBe('true');
      expect(await connected.innerText()).toBe('in a session');
      await tab.check('kiosks');
      socket.close();
      await socket.waitClose();
      // the socket's close reaches the server a moment later: refresh until it shows
      let shown: string | null = 'true';
      for (let i = 0; i < 50 && shown !== 'false'; i++) {
        await tab.page.getByRole('button', { name: 'Refresh' }).click();
        await tab.settled();
        shown = await connected.getAttribute('data-connected');
      }
      expect(shown).toBe('false');
      await tab.page.locator('table').getByRole('link', { name: kiosk.deviceId }).click();
      await tab.settled();
      expect(await tab.page.locator('h1').innerText()).toBe(`Kiosk ${kiosk.deviceId}`);
      expect(
        await tab.page.locator('dl.facts [data-connected]').getAttribute('data-connected'),
      ).toBe('false');
      expect(await tab.page.getByRole('button', { name: 'Block kiosk' }).count()).toBe(0);
    });

    it('should block with a reason, unblock, rotate the key and show the history (admin)', async () => {
      const tab = await open(t.keys.admin);
      await tab.goto(`#/kiosks/${kiosk.deviceId}`);
      await tab.page.getByLabel('Reason to block').fill('reported stolen at gate 2');
      await tab.page.getByRole('button', { name: 'Block kiosk' }).click();
      await tab.page.getByRole('button', { name: 'Unblock kiosk' }).waitFor();
      await tab.settled();
      expect(await tab.page.locator('dl.facts').innerText()).toContain('blocked');
      await tab.page.getByLabel('Reason to unblock').fill('found, checked');
      await tab.page.getByRole('button', { name: 'Unblock kiosk' }).click();
      await tab.page.getByRole('button', { name: 'Block kiosk' }).waitFor();
      const fresh = new TestKiosk(kiosk.deviceId);
      await tab.page.getByLabel('New public key (SPKI PEM)').fill(fresh.publicKeyPem);
      await tab.page.getByLabel('Reason', { exact: true }).fill('board replaced');
      await tab.page.getByRole('button', { name: 'Rotate key' }).click();
      await tab.page.getByText('board replaced').waitFor();
      await tab.settled();
      const history = await tab.page.locator('table').last().innerText();
      expect(history).toMatch(/registered/);
      expect(history).toMatch(/blocked[\s\S]*reported stolen at gate 2/);
      expect(history).toMatch(/unblocked[\s\S]*found, checked/);
      expect(history).toMatch(/key_rotated|rotated/);
      kiosk = fresh;
      await tab.check('kiosk-detail');
    });

    it('should show an API error with its code and correlation id for an unknown kiosk', async () => {
      const tab = await open(t.keys.admin);
      await tab.goto('#/kiosks/NO-SUCH-KIOSK');
      const error = await tab.shownError();
      expect(error.code).toBe('device_not_found');
      expect(error.correlationId).toMatch(/\S{8,}/);
      await tab.check('kiosk-not-found');
    });

    it('should show a Wi-Fi challenge QR that carries the challenge, count down, and follow its state', async () => {
      const tab = await open(t.keys.admin);
      await tab.goto('#/wifi');
      await tab.page.getByLabel('Kiosk').fill(kiosk.deviceId);
      await tab.page.getByLabel('Wi-Fi network (SSID)').fill('Site-7 Office');
      await tab.page.getByLabel('Wi-Fi password').fill('correct horse battery');
      await tab.page.getByRole('button', { name: 'Generate challenge QR' }).click();
      await tab.page.locator('[data-state=waiting]').waitFor();
      const img = tab.page.locator('figure.qr img');
      const box = await img.boundingBox();
      expect(box?.width).toBeGreaterThanOrEqual(400);
      const payload = JSON.parse(await tab.decodeQr('figure.qr img')) as {
        bson_id: string;
        challenge: string;
      };
      expect(payload.bson_id).toBe(await img.getAttribute('data-challenge-id'));
      expect(await tab.page.locator('.countdown').innerText()).toMatch(/^Expires in (9|10):\d\d$/);
      expect(await tab.page.locator('.state').innerText()).toContain('waiting');
      await tab.check('wifi');
      expect(await tab.page.content()).not.toContain('correct horse battery');

      // The kiosk decrypts the challenge it scanned and claims the credentials: the page follows.
      const answer = kiosk.decryptChallenge(payload.challenge);
      const claimed = await http(t.baseUrl, 'POST', '/api/validate-challenge', {
        body: { bson_id: payload.bson_id, challenge_response: answer.toString('base64') },
      });
      expect(claimed.body.wifi_credentials).toEqual({
        ssid: 'Site-7 Office',
        password: 'correct horse battery',
      });
      await tab.page.locator('[data-state=used]').waitFor();
      expect(await tab.page.locator('.countdown').innerText()).toMatch(/^Used at /);
      await tab.screenshot('wifi-used');
    });
  });

  describe('workforce, fraud and ledgers', () => {
    let siteId: string;
    let phone: Phone;
    let registeredAt: number;

    it('should create a site and a worker, and show an enrollment QR a phone can register with', async () => {
      const tab = await open(t.keys.admin);
      await tab.goto('#/workforce');
      await tab.page.getByLabel('Site name').fill('Dwarka Tower B');
      await tab.page.getByLabel('Latitude').fill('28.6139');
      await tab.page.getByLabel('Longitude').fill('77.209');
      await tab.page.getByLabel('Geofence radius (m)').fill('250');
      // the API validates the zone: a wrong one is shown with its field error
      await tab.page.getByLabel('Time zone').fill('Mars/Olympus_Mons');
      await tab.page.getByRole('button', { name: 'Create site' }).click();
      const refused = await tab.shownError();
      expect(refused.code).toBe('validation_failed');
      expect(refused.text).toContain('timeZone');
      await tab.page.getByLabel('Time zone').fill('Asia/Kolkata');
      await tab.page.getByRole('button', { name: 'Create site' }).click();
      await tab.page.getByText('Site created:').waitFor();
      await tab.settled();
      expect(await tab.page.locator('.status .ok').innerText()).toContain('time zone Asia/Kolkata');
      siteId = (await tab.page.locator('.status code').first().innerText()).trim();
      expect(siteId).toMatch(/^[0-9a-f]{24}$/);
      const sites = await tab.page.locator('table').first().innerText();
      expect(sites).toContain('Dwarka Tower B');
      expect(sites).toContain('250 m');
      expect(sites).toContain('Asia/Kolkata');

      const workerForm = tab.page.locator('form', {
        has: tab.page.getByRole('heading', { name: 'New worker' }),
      });
      await workerForm.getByLabel('Name').fill('Sita Devi');
      await workerForm.getByLabel('Phone').fill('+91 98100 00001');
      await workerForm.getByLabel('Dwarka Tower B').check();
      await workerForm.getByRole('button', { name: 'Create worker' }).click();
      await tab.page.locator('figure.qr img').waitFor();
      await tab.settled();
      const shownCode = (await tab.page.locator('.enrollment-code').innerText()).trim();
      const qr = JSON.parse(await tab.decodeQr('figure.qr img')) as Record<string, string>;
      expect(qr).toEqual({ type: 'mdai.enrollment', enrollmentCode: shownCode, api: t.baseUrl });
      expect(await tab.page.locator('table', { hasText: 'Sita Devi' }).count()).toBe(1);
      await tab.check('workforce');

      const reg = await http(t.baseUrl, 'POST', '/api/v5/device/register', {
        body: {
          enrollmentCode: qr.enrollmentCode,
          fingerprint: { os: 'Android 14', model: 'Redmi Note 12', simHash: 'f00dfeedcafe0001' },
        },
      });
      expect(reg.status).toBe(201);
      registeredAt = Date.now();
      const workerId = (await tab.page.locator('[data-person-id]').getAttribute('data-person-id'))!;
      phone = {
        deviceId: reg.body.deviceId,
        workerId,
        siteId,
        secret: Buffer.from(reg.body.deviceSecret, 'base64'),
        token: reg.body.offlineToken,
        tokenExpiresAt: reg.body.offlineTokenExpiresAt,
        trustScore: reg.body.trustScore,
      };
    });

    it('should show a thekedar enrollment QR too', async () => {
      const tab = await open(t.keys.admin);
      await tab.goto('#/workforce');
      const form = tab.page.locator('form', {
        has: tab.page.getByRole('heading', { name: 'New thekedar' }),
      });
      await form.getByLabel('Name').fill('Ramesh Kumar');
      await form.getByLabel('Phone').fill('+91 98100 00009');
      await form.getByLabel('Dwarka Tower B').check();
      await form.getByRole('button', { name: 'Create thekedar' }).click();
      await tab.page.locator('figure.qr img').waitFor();
      const qr = JSON.parse(await tab.decodeQr('figure.qr img')) as Record<string, string>;
      expect(qr.enrollmentCode).toBe(
        (await tab.page.locator('.enrollment-code').innerText()).trim(),
      );
      // the code's expiry, as a new code shows it (POST /api/v5/thekedars answers it)
      expect(await tab.page.locator('dl.facts').last().innerText()).toContain('Expires');
    });

    it("should show a thekedar's sites and let an admin change them", async () => {
      const tab = await open(t.keys.admin);
      await tab.goto('#/workforce');
      const row = tab.page.locator('table tbody tr', { hasText: 'Ramesh Kumar' });
      const sites = (text: string) => row.locator('.thekedar-sites', { hasText: text }).waitFor();
      await sites('Dwarka Tower B');
      const thekedarId = async () =>
        (
          (await http(t.baseUrl, 'GET', '/api/v5/thekedars', { key: t.keys.admin })).body as {
            thekedarId: string;
            name: string;
            siteIds: string[];
          }[]
        ).find((k) => k.name === 'Ramesh Kumar')!;
      expect((await thekedarId()).siteIds).toEqual([siteId]);

      // no site: it onboards nowhere, and the table says so
      await row.getByLabel('Change the sites of Ramesh Kumar').click();
      const box = row.getByLabel('Dwarka Tower B');
      expect(await box.isChecked()).toBe(true);
      await box.uncheck();
      await tab.check('workforce-thekedar-sites');
      await row.getByRole('button', { name: 'Save sites' }).click();
      // saved, the table is read again: the row shows what the server holds
      await sites('none: onboards nowhere');
      expect((await thekedarId()).siteIds).toEqual([]);

      await row.getByLabel('Change the sites of Ramesh Kumar').click();
      await row.getByLabel('Dwarka Tower B').check();
      await row.getByRole('button', { name: 'Save sites' }).click();
      await sites('Dwarka Tower B');
      expect((await thekedarId()).siteIds).toEqual([siteId]);
    });

    it("should show a worker's new enrollment QR, and list both of the worker's phones", async () => {
      const tab = await open(t.keys.admin);
      await tab.goto('#/workforce');
      const row = tab.page.locator('table tbody tr', { hasText: 'Sita Devi' });
      await row.getByRole('button', { name: 'New enrollment code for Sita Devi' }).click();
      await tab.page.locator(`figure.qr img[data-person-id="${phone.workerId}"]`).waitFor();
      await tab.settled();
      expect(await row.locator('.status .ok').innerText()).toContain('earlier unused codes');
      const shownCode = (await tab.page.locator('.enrollment-code').innerText()).trim();
      const qr = JSON.parse(await tab.decodeQr('figure.qr img')) as Record<string, string>;
      expect(qr).toEqual({ type: 'mdai.enrollment', enrollmentCode: shownCode, api: t.baseUrl });
      expect(await tab.page.locator('dl.facts').last().innerText()).toContain('Expires');
      await tab.check('workforce');

      const reg = await http(t.baseUrl, 'POST', '/api/v5/device/register', {
        body: {
          enrollmentCode: qr.enrollmentCode,
          fingerprint: { os: 'Android 15', model: 'Pixel 8', simHash: 'f00dfeedcafe0002' },
        },
      });
      expect(reg.status).toBe(201);
      // the first phone keeps working (the next test syncs with it); both are the worker's
      await tab.goto(`#/workers/${phone.workerId}`);
      const phones = await tab.page
        .locator('table', { hasText: 'Phones registered for this worker' })
        .innerText();
      expect(phones).toContain(phone.deviceId);
      expect(phones).toContain(reg.body.deviceId);
      expect(phones).toContain('Pixel 8');
    });

    it('should show the fraud flags of synced packets, linked to the device and the worker', async () => {
      // Both punches fall inside the offline token's window (it starts at registration).
      const atSite = signPacket(phone, {
        timestamp: new Date(registeredAt + 50).toISOString(),
        geo: { lat: 28.6139, lng: 77.209, accuracyM: 8 },
      });
      // Seconds later, 300 km north: impossible travel, and outside the site's geofence.
      const teleported = signPacket(phone, {
        type: 'check_out',
        timestamp: new Date(Math.max(registeredAt + 1000, Date.now() - 10)).toISOString(),
        geo: { lat: 31.31, lng: 77.209, accuracyM: 8 },
      });
      const synced = await syncBatch(t.baseUrl, phone.token, [atSite, teleported]);
      expect(synced.body).toMatchObject({ accepted: 2, rejected: 0 });

      const tab = await open(t.keys.admin);
      await tab.goto('#/fraud');
      await tab.page.getByLabel('Worker ID').fill(phone.workerId);
      await tab.page.getByRole('button', { name: 'Apply filters' }).click();
      await tab.settled();
      const events = await tab.page.locator('table').innerText();
      expect(events).toContain('impossible_travel');
      expect(events).toContain('outside_geofence');
      await tab.check('fraud');

      await tab.page.getByLabel('Type').selectOption('impossible_travel');
      await tab.page.getByRole('button', { name: 'Apply filters' }).click();
      await tab.settled();
      expect(await tab.page.locator('table tbody tr').count()).toBe(1);

      await tab.page.locator('table tbody tr a[href^="#/devices/"]').first().click();
      await tab.settled();
      // named by its model and its worker, the id beside it
      expect(await tab.page.locator('h1').innerText()).toBe(
        `Redmi Note 12 of Sita Devi ${phone.deviceId}`,
      );
      const score = Number(
        await tab.page.locator('[data-trust-score]').getAttribute('data-trust-score'),
      );
      expect(score).toBeGreaterThanOrEqual(0);
      expect(score).toBeLessThan(100);
      expect(await tab.page.locator('svg.chart rect').count()).toBeGreaterThan(2);
      expect(await tab.page.locator('svg.chart').getAttribute('aria-label')).toContain(
        'fraud_history',
      );
      await tab.check('device-trust');

      await tab.page.getByLabel('Reason to block').fill('teleporting phone');
      await tab.page.getByRole('button', { name: 'Block device' }).click();
      await tab.page.getByRole('button', { name: 'Unblock device' }).waitFor();
      await tab.settled();
      const refused = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
      expect(refused.status).toBe(403);
      await tab.page.getByLabel('Reason to unblock').fill('explained by the site lead');
      await tab.page.getByRole('button', { name: 'Unblock device' }).click();
      await tab.page.getByRole('button', { name: 'Block device' }).waitFor();

      await tab.visit('#/devices', 'devices');
      expect(await tab.page.locator('table').innerText()).toContain(phone.deviceId);
      // the list shows the live score (lower after the fraud events) beside the stored one
      // of registration, each under its own name
      const headers = await tab.page.locator('table thead th').allInnerTexts();
      expect(headers).toContain('Score at registration');
      const liveColumn = headers.indexOf('Trust now');
      expect(liveColumn).toBeGreaterThanOrEqual(0);
      const live = await http(t.baseUrl, 'GET', `/api/v5/devices/${phone.deviceId}/trust`, {
        key: t.keys.admin,
      });
      const cells = await tab.page
        .locator('table tbody tr', { hasText: phone.deviceId })
        .locator('td')
        .allInnerTexts();
      expect(cells[liveColumn]).toBe(String(live.body.score));

      await tab.goto('#/fraud');
      await tab.page
        .locator(`table tbody tr a[href="#/workers/${phone.workerId}"]`)
        .first()
        .click();
      await tab.settled();
      expect(await tab.page.locator('dl.facts').innerText()).toContain('Sita Devi');
      await tab.check('worker');
    });

    it("should dismiss a fraud event with a reason, and the device's trust score goes back up", async () => {
      const trustScore = async () => {
        const res = await http(t.baseUrl, 'GET', `/api/v5/devices/${phone.deviceId}/trust`, {
          key: t.keys.admin,
        });
        return res.body.score as number;
      };
      const flagged = await trustScore();
      const tab = await open(t.keys.admin);
      await tab.goto('#/fraud');
      await tab.page.getByLabel('Worker ID').fill(phone.workerId);
      await tab.page.getByLabel('Type').selectOption('impossible_travel');
      await tab.page.getByLabel('Review', { exact: true }).selectOption('unreviewed');
      await tab.page.getByRole('button', { name: 'Apply filters' }).click();
      await tab.settled();
      const row = tab.page.locator('table tbody tr');
      expect(await row.count()).toBe(1);
      expect(await row.innerText()).toContain('unreviewed');

      await row.locator('summary', { hasText: 'Review' }).click();
      await row.getByLabel('Decision').selectOption('dismissed');
      await row.getByLabel('Reason').fill('GPS jumped while the phone was indoors');
      await row.getByRole('button', { name: 'Save review' }).click();
      // the list reloads with the filter kept: the event is no longer unreviewed
      await tab.page.getByText('No fraud events match.').waitFor();
      await tab.settled();
      await tab.check('fraud-review');

      await tab.page.getByLabel('Review', { exact: true }).selectOption('dismissed');
      await tab.page.getByRole('button', { name: 'Apply filters' }).click();
      await tab.settled();
      expect(await row.count()).toBe(1);
      expect(await row.innerText()).toContain('GPS jumped while the phone was indoors');

      const events = await http(
        t.baseUrl,
        'GET',
        `/api/v5/fraud/events?workerId=${phone.workerId}&type=impossible_travel`,
        { key: t.keys.admin },
      );
      expect(events.body[0].review).toMatchObject({ decision: 'dismissed' });
      expect(await trustScore()).toBeGreaterThan(flagged);
    });

    it('should verify the ledger on the page (admin and auditor) and export it', async () => {
      const tab = await open(t.keys.auditor);
      await tab.goto('#/ledgers');
      await tab.page.getByLabel('Site').selectOption(siteId);
      await tab.settled();
      await tab.page.getByRole('button', { name: 'Verify chain' }).click();
      await tab.page.locator('[data-verify]').waitFor();
      expect(await tab.page.locator('[data-verify]').getAttribute('data-verify')).toBe('ok');
      expect(await tab.page.locator('[data-length]').innerText()).toBe('2');
      expect(await tab.page.locator('[data-verify]').innerText()).toContain(
        'The chain of 2 entries verifies.',
      );
      await tab.page.getByRole('button', { name: 'Export (NDJSON)' }).click();
      const save = tab.page.getByRole('link', { name: 'Save the export' });
      await save.waitFor();
      expect(await tab.page.getByText('2 entries,').count()).toBe(1);
      const download = await Promise.all([tab.page.waitForEvent('download'), save.click()]);
      expect(download[0].suggestedFilename()).toBe(`ledger-${siteId}.ndjson`);
      // the fraud page is not open to an auditor: no link to it
      expect(await tab.page.getByRole('link', { name: 'Timesheets of this site' }).count()).toBe(1);
      expect(await tab.page.getByRole('link', { name: 'Fraud events at this site' }).count()).toBe(
        0,
      );
      await tab.check('ledgers');

      const admin = await open(t.keys.admin);
      await admin.goto(`#/ledgers/${siteId}`);
      expect(
        await admin.page.getByRole('link', { name: 'Fraud events at this site' }).count(),
      ).toBe(1);
      await admin.page.getByRole('button', { name: 'Verify chain' }).click();
      await admin.page.locator('[data-verify=ok]').waitFor();
      await admin.goto('#/ledgers/0123456789abcdef01234567');
      await admin.page.getByRole('button', { name: 'Verify chain' }).click();
      const error = await admin.shownError();
      expect(error.code).toBe('site_not_found');
      expect(error.correlationId).toMatch(/\S{8,}/);
    });

    it('should show the site-month grid with the fraud flags and a correction, and download the CSV', async () => {
      const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Kolkata' }).format(
        new Date(registeredAt),
      );
      const tab = await open(t.keys.auditor);
      await tab.goto('#/timesheets');
      await tab.page.getByLabel('Site').selectOption(siteId);
      expect(await tab.page.getByLabel('Month').inputValue()).toBe(day.slice(0, 7));
      await tab.page.getByRole('button', { name: 'Show' }).click();
      await tab.settled();
      expect(await tab.page.locator('[data-time-zone]').innerText()).toBe('Asia/Kolkata');
      const row = tab.page.locator(`tr[data-worker-id="${phone.workerId}"]`);
      expect(await row.locator('th').innerText()).toBe('Sita Devi');
      const cell = row.locator(`button[data-date="${day}"]`);
      expect((await cell.getAttribute('data-flags'))!.split(' ')).toContain('fraud');
      // the impossible_travel event was dismissed in the fraud review above: the day says so
      expect(await cell.getAttribute('aria-label')).toMatch(
        /^Sita Devi, \d{4}-\d\d-\d\d: [\d.]+ hours; flags: .*fraud flag, dismissed in review: impossible_travel/,
      );
      expect(await row.locator('button.cell').count()).toBe(1);

      // An admin voids the teleported check-out through the API: the grid shows the correction.
      const month = await http(
        t.baseUrl,
        'GET',
        `/api/v5/sites/${siteId}/timesheets?from=${day}&to=${day}`,
        { key: t.keys.admin },
      );
      const seqs = month.body.days[0].seqs as number[];
      const corrected = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
        key: t.keys.admin,
        body: {
          action: 'void',
          target: { siteId, seq: Math.max(...seqs) },
          reason: 'teleported check-out, phone clock',
        },
      });
      expect(corrected.status).toBe(201);
      await tab.page.reload();
      await tab.settled();
      const flags = (await cell.getAttribute('data-flags'))!.split(' ');
      expect(flags).toEqual(expect.arrayContaining(['corrected', 'voided_punch']));
      await cell.click();
      const detail = await tab.page.locator('.day-detail').innerText();
      expect(detail).toContain(`Sita Devi, ${day}`);
      expect(detail).toContain('voided punch');
      expect(detail).toContain('corrected');
      expect(await row.locator('td.num').nth(3).innerText()).toBe('1');
      await tab.check('timesheets');

      const [download] = await Promise.all([
        tab.page.waitForEvent('download'),
        tab.page.getByRole('button', { name: 'Download CSV' }).click(),
      ]);
      const from = `${day.slice(0, 7)}-01`;
      expect(download.suggestedFilename()).toMatch(
        new RegExp(`^timesheets-${siteId}-${from}-${day.slice(0, 7)}-\\d\\d\\.csv$`),
      );
      const file = readFileSync(await download.path(), 'utf8');
      // a byte order mark first: Excel on Windows reads the names as UTF-8
      expect(file.charCodeAt(0)).toBe(0xfeff);
      const csv = file.slice(1).split('\r\n');
      expect(csv[0]).toMatch(/^worker_id,worker_name,worker_phone,date,/);
      expect(
        // the phone typed `+91 98100 00001`, stored in E.164 (as it is: a + and digits, no formula quote)
        csv.filter((line) => line.startsWith(`${phone.workerId},Sita Devi,+919810000001,`)),
      ).toHaveLength(1);
      expect(csv.filter((line) => line.includes(`,${day},`))).toHaveLength(1);
      expect(await tab.page.getByText(/: 1 worker-day, /).count()).toBe(1);
      expect(tab.requests.filter((url) => url.includes('timesheets.csv'))).toHaveLength(1);

      // a provisioner has no timesheets; an unknown site shows the API error
      const admin = await open(t.keys.admin);
      await admin.goto(`#/timesheets/0123456789abcdef01234567?month=${day.slice(0, 7)}`);
      const error = await admin.shownError();
      expect(error.code).toBe('site_not_found');
      expect(error.correlationId).toMatch(/\S{8,}/);
      await admin.check('timesheets-error');
    });
  });

  describe('vault', () => {
    it('should show the audit of a file and verify the audit chain (auditor)', async () => {
      const stored = await http(t.baseUrl, 'POST', '/api/v5/vault', {
        key: t.keys.admin,
        rawBody: jpegBytes(64),
        headers: { 'content-type': 'image/jpeg' },
      });
      expect(stored.status).toBe(201);
      const fileId = stored.body.fileId as string;
      const read = await fetch(`${t.baseUrl}/api/v5/vault/${fileId}`, {
        headers: { 'x-api-key': t.keys.auditor, 'x-access-purpose': 'fraud case 2026-114' },
      });
      expect(read.status).toBe(200);

      const tab = await open(t.keys.auditor);
      await tab.goto('#/vault');
      await tab.page.getByLabel('File ID').fill(fileId);
      await tab.page.getByRole('button', { name: 'Show' }).click();
      await tab.settled();
      const rows = await tab.page.locator('table tbody tr').allInnerTexts();
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatch(/store[\s\S]*allowed/);
      expect(rows[1]).toMatch(/read[\s\S]*allowed[\s\S]*fraud case 2026-114/);
      await tab.page.getByRole('button', { name: 'Verify audit chain' }).click();
      await tab.page.locator('[data-verify]').waitFor();
      expect(await tab.page.locator('[data-verify]').getAttribute('data-verify')).toBe('ok');
      await tab.check('vault');
    });
  });

  describe('workforce pages, at scale and for a blocked phone', () => {
    it('should page the sites table as the other lists, and offer every site in the pickers', async () => {
      // more sites than a page of the table (20), whatever the suite created before
      const names: string[] = [];
      for (let i = 0; i < 23; i++) {
        const name = `Paged site ${String(i).padStart(2, '0')}`;
        const res = await http(t.baseUrl, 'POST', '/api/v5/sites', {
          key: t.keys.admin,
          body: { name, geo: { lat: 28.6, lng: 77.2 }, radiusM: 100 },
        });
        expect(res.status).toBe(201);
        names.push(name);
      }
      const all = await http(t.baseUrl, 'GET', '/api/v5/sites?limit=500', { key: t.keys.admin });
      const total = all.body.length as number;
      expect(total).toBeGreaterThan(20);

      const tab = await open(t.keys.admin);
      await tab.goto('#/workforce');
      const table = tab.page.locator('table', { hasText: 'Site ID' });
      const pager = tab.page.getByRole('navigation', { name: 'Site list pages' });
      expect(await table.locator('tbody tr').count()).toBe(20);
      expect(await pager.getByRole('button', { name: 'Previous page' }).isDisabled()).toBe(true);
      const seen = new Set<string>();
      for (let page = 1; ; page++) {
        expect(await pager.locator('.page-no').innerText()).toBe(`Page ${page}`);
        for (const row of await table.locator('tbody tr td:first-child').allInnerTexts())
          seen.add(row.trim());
        const next = pager.getByRole('button', { name: 'Next page' });
        if (await next.isDisabled()) break;
        await next.click();
        await tab.settled();
      }
      // every site once, across the pages
      expect(seen.size).toBe(new Set(all.body.map((s: any) => s.name)).size);
      for (const name of names) expect(seen.has(name)).toBe(true);
      await pager.getByRole('button', { name: 'Previous page' }).click();
      await tab.settled();
      expect(await table.locator('tbody tr').count()).toBeGreaterThan(0);

      // the worker form and the filter still list every site, not one page of them
      const workerForm = tab.page.locator('form', {
        has: tab.page.getByRole('heading', { name: 'New worker' }),
      });
      expect(await workerForm.locator('input[name=siteIds]').count()).toBe(total);
      expect(await tab.page.locator('select[name=siteId] option').count()).toBe(total + 1);
      await tab.check('workforce-sites-paged');
    });

    it("should show a worker's standing as the baseline, and each phone's live score, low for a blocked phone", async () => {
      const site = await http(t.baseUrl, 'POST', '/api/v5/sites', {
        key: t.keys.admin,
        body: { name: 'Standing site', geo: { lat: 28.6, lng: 77.2 }, radiusM: 100 },
      });
      const worker = await http(t.baseUrl, 'POST', '/api/v5/workers', {
        key: t.keys.admin,
        body: { name: 'Kamla Devi', phone: '+91 98100 00077', siteIds: [site.body.siteId] },
      });
      expect(worker.status).toBe(201);
      const reg = await http(t.baseUrl, 'POST', '/api/v5/device/register', {
        body: {
          enrollmentCode: worker.body.enrollmentCode,
          fingerprint: { os: 'Android 13', model: 'Galaxy A14', simHash: 'f00dfeedcafe0077' },
        },
      });
      expect(reg.status).toBe(201);
      const blocked = await http(t.baseUrl, 'POST', `/api/v5/devices/${reg.body.deviceId}/block`, {
        key: t.keys.admin,
        body: { reason: 'phone reported stolen' },
      });
      expect(blocked.status).toBeLessThan(300);
      const live = await http(t.baseUrl, 'GET', `/api/v5/devices/${reg.body.deviceId}/trust`, {
        key: t.keys.admin,
      });

      const tab = await open(t.keys.admin);
      await tab.goto(`#/workers/${worker.body.workerId}`);
      const facts = tab.page.locator('dl.facts');
      const labels = await facts.locator('dt').allInnerTexts();
      expect(labels).toContain('Standing (baseline trust)');
      expect(labels).not.toContain('Trust score');
      const standing = facts.locator('[data-standing]');
      expect(await standing.getAttribute('data-standing')).toBe(String(worker.body.trustScore));
      // the standing is no verdict on a phone: no green or red badge on it
      expect(await facts.locator('.badge').count()).toBe(0);

      const phones = tab.page.locator('table', { hasText: 'Phones registered for this worker' });
      const headers = await phones.locator('thead th').allInnerTexts();
      const liveColumn = headers.indexOf('Trust now');
      expect(liveColumn).toBeGreaterThanOrEqual(0);
      const row = phones.locator('tbody tr', { hasText: reg.body.deviceId });
      const cell = row.locator('td').nth(liveColumn);
      expect(await cell.innerText()).toBe(String(live.body.score));
      expect(live.body.score).toBeLessThan(40);
      expect(await cell.locator('.badge').getAttribute('class')).toContain('badge-bad');
      expect(await row.innerText()).toContain('blocked');
      await tab.check('worker-blocked-phone');
    });
  });

  describe('every page', () => {
    it('should have been visited, screenshotted and found free of serious or critical accessibility violations', async () => {
      const tab = await open(t.keys.admin);
      for (const page of [
        'kiosks',
        'wifi',
        'workforce',
        'devices',
        'fraud',
        'ledgers',
        'timesheets',
      ]) {
        if (!ConsoleTab.audited.has(page)) await tab.visit(`#/${page}`, page);
      }
      const expected = [
        'sign-in',
        'kiosks',
        'kiosk-detail',
        'wifi',
        'workforce',
        'devices',
        'device-trust',
        'fraud',
        'fraud-review',
        'worker',
        'ledgers',
        'timesheets',
        'vault',
      ];
      for (const name of expected) expect(ConsoleTab.audited.has(name)).toBe(true);
      writeFileSync(
        join(ARTIFACTS, 'axe.json'),
        JSON.stringify(Object.fromEntries(ConsoleTab.audited), null, 2),
      );
      const serious: Record<string, AxeViolation[]> = {};
      for (const [name, violations] of ConsoleTab.audited) {
        const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        if (bad.length) serious[name] = bad;
      }
      expect(serious).toEqual({});
    });

    it('should have loaded nothing from outside the server and broken no CSP rule', () => {
      const outside = tabs.flatMap((tab) =>
        tab.requests.filter(
          (url) =>
            !url.startsWith(t.baseUrl) && !url.startsWith('data:') && !url.startsWith('blob:'),
        ),
      );
      expect(outside).toEqual([]);
      // the key travels in a header only, never in a URL (downloads included)
      const keyed = tabs.flatMap((tab) =>
        tab.requests.filter((url) => Object.values(t.keys).some((key) => url.includes(key))),
      );
      expect(keyed).toEqual([]);
      const csp = tabs.flatMap((tab) =>
        tab.consoleMessages.filter((m) => /Content Security Policy|Refused to/i.test(m)),
      );
      expect(csp).toEqual([]);
      expect(tabs.flatMap((tab) => tab.pageErrors)).toEqual([]);
      // the page declares its icon: the browser asks no /favicon.ico, and nothing the page
      // itself loads (HTML, script, style, icon) fails; API refusals are the tests' own
      const assetFailures = tabs.flatMap((tab) =>
        tab.failedLoads.filter((load) => !new URL(load.split(' ')[1]).pathname.startsWith('/api/')),
      );
      expect(assetFailures).toEqual([]);
      const favicon = tabs.flatMap((tab) =>
        [...tab.requests, ...tab.consoleMessages].filter((m) => m.includes('favicon.ico')),
      );
      expect(favicon).toEqual([]);
    });

    it('should declare a favicon the server serves', async () => {
      const tab = await open();
      const href = await tab.page.locator('head link[rel=icon]').getAttribute('href');
      expect(href).toBe('/console/favicon.svg');
      const icon = await fetch(`${t.baseUrl}${href}`);
      expect(icon.status).toBe(200);
      expect(icon.headers.get('content-type')).toBe('image/svg+xml');
      expect(await icon.text()).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    });
  });
});
