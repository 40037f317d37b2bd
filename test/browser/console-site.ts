/**
 * A console spec's setup and teardown: the console built into a temp dir, an app serving it,
 * a Chromium on it, and the seeding the console specs share (named sites near Delhi, workers
 * with phones, a phone that teleports).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, Env } from '@app/common';
import { buildConsole } from '../../scripts/build-console';
import { http, JsonResponse, startTestApp, TestApp } from '../support/test-app';
import { SITE_GEO } from '../support/timesheet-client';
import {
  nextPhoneNumber,
  Phone,
  registerPhone,
  signPacket,
  syncBatch,
} from '../support/worker-client';
import { Browser, CHROMIUM, chromiumPresent, ConsoleTab, launchBrowser } from './console-driver';

/** `describe` for a console spec in Chromium: skipped, and saying so, where there is none. */
export function consoleSuite(title: string, body: () => void): void {
  if (chromiumPresent) describe(`${title} (browser)`, body);
  else describe.skip(`${title} (browser) (skipped: no Chromium at ${CHROMIUM})`, body);
}

export interface ConsoleSite {
  readonly t: TestApp;
  readonly browser: Browser;
  /** The API as its admin calls it (another role: `key`). */
  api(method: 'GET' | 'POST', path: string, body?: unknown, key?: string): Promise<JsonResponse>;
  /** A new tab on the console, signed in with `key`. */
  signedIn(key: string): Promise<ConsoleTab>;
  /** A site near Delhi (SITE_GEO, 250 m) in Asia/Kolkata, named `name`: its id. */
  site(name: string): Promise<string>;
  /** A worker named `name` at `siteId`, with a registered phone. */
  workerPhone(name: string, siteId: string): Promise<Phone>;
  /**
   * The phone checks in at the site at `at` and out a minute later some 300 km north, both
   * accepted: fraud events.
   */
  teleport(phone: Phone, at: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The console served by a test app (`env` adds settings, `clock` its time) and a Chromium on it
 * (`timezoneId`: its time zone, the machine's otherwise).
 */
export async function startConsoleSite(
  env: Env = {},
  options: { clock?: Clock; timezoneId?: string } = {},
): Promise<ConsoleSite> {
  const consoleDir = await buildConsole(mkdtempSync(join(tmpdir(), 'mdai-console-build-')));
  let t: TestApp | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await t?.close();
    rmSync(consoleDir, { recursive: true, force: true });
  };
  try {
    t = await startTestApp({ CONSOLE_DIR: consoleDir, ...env }, { clock: options.clock });
    browser = await launchBrowser({ timezoneId: options.timezoneId });
  } catch (error) {
    await close();
    throw error;
  }
  const app = t;
  const api: ConsoleSite['api'] = (method, path, body, key) =>
    http(app.baseUrl, method, path, { key: key ?? app.keys.admin, body });
  let sims = 0;
  return {
    t: app,
    browser,
    api,
    close,
    signedIn: async (key) => {
      const tab = await ConsoleTab.open(browser, app.baseUrl);
      await tab.signIn(key);
      return tab;
    },
    site: async (name) => {
      const site = await api('POST', '/api/v5/sites', {
        name,
        geo: SITE_GEO,
        radiusM: 250,
        timeZone: 'Asia/Kolkata',
      });
      expect(site.status).toBe(201);
      return site.body.siteId as string;
    },
    workerPhone: async (name, siteId) => {
      const worker = await api('POST', '/api/v5/workers', {
        name,
        phone: nextPhoneNumber('+91 98100'),
        siteIds: [siteId],
      });
      expect(worker.status).toBe(201);
      sims += 1;
      return registerPhone(app.baseUrl, worker.body, siteId, `console-sim-${sims}`);
    },
    teleport: async (phone, at) => {
      const start = Date.parse(at);
      const moved = await syncBatch(app.baseUrl, phone.token, [
        signPacket(phone, {
          timestamp: new Date(start).toISOString(),
          geo: { ...SITE_GEO, accuracyM: 8 },
        }),
        signPacket(phone, {
          type: 'check_out',
          timestamp: new Date(start + 60_000).toISOString(),
          geo: { lat: 31.31, lng: SITE_GEO.lng, accuracyM: 8 },
        }),
      ]);
      expect(moved.body).toMatchObject({ accepted: 2 });
    },
  };
}
