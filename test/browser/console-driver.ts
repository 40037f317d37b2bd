import jsQR from 'jsqr';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrowserContext, chromium, Page } from 'playwright-core';
import { PNG } from 'pngjs';

/** Debian's Chromium: Playwright's own browser downloads do not work here. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumPresent = existsSync(CHROMIUM);
/** Screenshots of every page, rewritten on each run (gitignored). */
export const ARTIFACTS = join(__dirname, '..', '..', 'artifacts', 'console');

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface Browser {
  context: BrowserContext;
  close: () => Promise<void>;
}

/**
 * Headless Chromium with a fresh profile, no background traffic, nothing from the internet;
 * `timezoneId` sets the browser's time zone (the machine's otherwise).
 */
export async function launchBrowser(options: { timezoneId?: string } = {}): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'mdai-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1360, height: 900 },
    acceptDownloads: true,
    ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}),
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: number;
}

/**
 * One browser tab on the console. Records every request, every console message and every
 * page error, so a test can assert that nothing left the origin and the CSP blocked nothing.
 */
export class ConsoleTab {
  readonly requests: string[] = [];
  readonly consoleMessages: string[] = [];
  readonly pageErrors: string[] = [];
  /** Every answer of 400 or more the tab got: `<status> <url>`. */
  readonly failedLoads: string[] = [];
  /** Every page visited, with its accessibility result. */
  static readonly audited = new Map<string, AxeViolation[]>();

  private constructor(
    readonly page: Page,
    readonly baseUrl: string,
  ) {
    page.on('request', (request) => this.requests.push(request.url()));
    // with the URL a message is about (a failed load names it only there)
    page.on('console', (message) =>
      this.consoleMessages.push(
        `${message.type()}: ${message.text()} (${message.location()?.url ?? ''})`,
      ),
    );
    page.on('response', (response) => {
      if (response.status() >= 400) this.failedLoads.push(`${response.status()} ${response.url()}`);
    });
    page.on('pageerror', (error) => this.pageErrors.push(error.message));
  }

  static async open(browser: Browser, baseUrl: string): Promise<ConsoleTab> {
    const tab = new ConsoleTab(await browser.context.newPage(), baseUrl);
    await tab.page.goto(`${baseUrl}/console`);
    return tab;
  }

  async signIn(key: string): Promise<void> {
    await this.page.getByLabel('API key').fill(key);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
    await this.settled();
  }

  async signOut(): Promise<void> {
    await this.page.getByRole('button', { name: 'Sign out' }).click();
    await this.page.getByLabel('API key').waitFor();
  }

  /** No panel still loading. */
  async settled(): Promise<void> {
    // A function, not a string: string predicates need eval, which the console's CSP forbids.
    await this.page.waitForFunction(
      () => !(globalThis as any).document.querySelector('[aria-busy], .loading'),
    );
  }

  async goto(hash: string): Promise<void> {
    await this.page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
    await this.settled();
  }

  /** Visits a page, checks its accessibility and writes its screenshot. */
  async visit(hash: string, name: string): Promise<void> {
    await this.goto(hash);
    await this.check(name);
  }

  /** Accessibility check (axe-core) and screenshot of the page as it is now. */
  async check(name: string): Promise<AxeViolation[]> {
    await this.settled();
    const violations = await this.axe();
    ConsoleTab.audited.set(name, violations);
    await this.screenshot(name);
    return violations;
  }

  async screenshot(name: string): Promise<void> {
    mkdirSync(ARTIFACTS, { recursive: true });
    await this.page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  /** axe-core is evaluated through the DevTools protocol, so the page's CSP stays as served. */
  async axe(): Promise<AxeViolation[]> {
    await this.page.evaluate(AXE_SOURCE);
    // A string, evaluated in the page (the test's own types know no DOM).
    return this.page.evaluate<
      AxeViolation[]
    >(`axe.run(document, { resultTypes: ['violations'] }).then((run) =>
      run.violations.map((v) => ({ id: v.id, impact: String(v.impact), help: v.help, nodes: v.nodes.length })))`);
  }

  /** Decodes the QR shown by an <img> from its pixels on screen. */
  async decodeQr(selector: string): Promise<string> {
    const image = this.page.locator(selector);
    await image.waitFor();
    await this.page.waitForFunction((sel) => {
      const img = (globalThis as any).document.querySelector(sel);
      return !!img && img.complete && img.naturalWidth > 0;
    }, selector);
    const shot = await image.screenshot();
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, `qr-${selector.replace(/[^a-z0-9]+/gi, '_')}.png`), shot);
    const png = PNG.sync.read(shot);
    const code = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    if (!code) throw new Error(`no QR code found in ${selector}`);
    return code.data;
  }

  /** The error box's code, message and correlation id. */
  async shownError(): Promise<{ code: string; correlationId: string; text: string }> {
    const box = this.page.locator('[role=alert]').first();
    await box.waitFor();
    return {
      code: (await box.locator('[data-error-code]').getAttribute('data-error-code')) ?? '',
      correlationId:
        (await box.locator('[data-correlation-id]').getAttribute('data-correlation-id')) ?? '',
      text: await box.innerText(),
    };
  }

  async navLinks(): Promise<string[]> {
    return this.page.locator('nav.nav a').allInnerTexts();
  }
}
