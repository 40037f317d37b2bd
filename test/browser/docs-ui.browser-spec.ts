import { startTestApp, TestApp } from '../support/test-app';
import { Browser, CHROMIUM, chromiumPresent, launchBrowser } from './console-driver';

jest.setTimeout(120_000);

const suite = chromiumPresent ? describe : describe.skip;
const title = chromiumPresent
  ? 'Swagger UI at /docs under its Content-Security-Policy in Chromium (browser)'
  : `Swagger UI at /docs under its Content-Security-Policy in Chromium (browser) (skipped: no Chromium at ${CHROMIUM})`;

/** /docs is served with a CSP (apps/api/src/openapi.ts, DOCS_CSP): the page must still work. */
suite(title, () => {
  let t: TestApp;
  let browser: Browser;
  beforeAll(async () => {
    t = await startTestApp();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('should render every operation and expand one, with nothing refused by the policy', async () => {
    const page = await browser.context.newPage();
    const messages: string[] = [];
    const errors: string[] = [];
    page.on('console', (m) => messages.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => errors.push(e.message));
    const response = await page.goto(`${t.baseUrl}/docs`);
    expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await page.waitForSelector('.opblock-summary', { timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(50);
    // an operation opens (React renders it, with its inline styles)
    await page.locator('.opblock-summary').first().click();
    await page.waitForSelector('.opblock-body', { timeout: 10_000 });
    expect(errors).toEqual([]);
    expect(messages.filter((m) => /Content Security Policy|Refused to/i.test(m))).toEqual([]);
    await page.close();
  });
});
