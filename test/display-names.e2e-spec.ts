import { http, startTestApp, TestApp } from './support/test-app';

/**
 * Names shown to people (sites, thekedars, workers) are trimmed, and refused when blank or when
 * they hold control characters or text-direction overrides (which reorder a console cell or a
 * spreadsheet's text around them).
 */
describe('display names (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  const site = (name: string) =>
    http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      body: { name, geo: { lat: 19.07, lng: 72.87 }, radiusM: 200 },
    });

  const siteName = async (siteId: string): Promise<string> =>
    (await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}`, { key: t.keys.admin })).body
      .name as string;

  it('should trim a name, and refuse one that is blank or holds hidden characters', async () => {
    const trimmed = await site('  Yard 7 \t');
    expect(trimmed.status).toBe(201);
    expect(await siteName(trimmed.body.siteId as string)).toBe('Yard 7');
    for (const name of [
      '   ',
      '\t\n',
      'a\u202eb',
      'nul\u0000here',
      'line\nbreak',
      'x\u2067y',
      '\u200b',
      'a\u2028b',
      'x\u200fy',
      '---',
    ]) {
      const res = await site(name);
      expect([JSON.stringify(name), res.status, res.body.code]).toEqual([
        JSON.stringify(name),
        400,
        'validation_failed',
      ]);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['name']);
    }
    // letters of any script, and marks that join them, stay as written
    const devanagari = await site('साइट १');
    expect(await siteName(devanagari.body.siteId as string)).toBe('साइट १');
  });

  it('should hold workers and thekedars, created or renamed, to the same rule', async () => {
    const siteId = (await site('Names yard')).body.siteId as string;
    const worker = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: ' Sita Devi ', phone: '+91 98100 55501', siteIds: [siteId] },
    });
    expect(worker.status).toBe(201);
    const read = await http(t.baseUrl, 'GET', `/api/v5/workers/${worker.body.workerId}`, {
      key: t.keys.admin,
    });
    expect(read.body.name).toBe('Sita Devi');
    const renamed = await http(t.baseUrl, 'PATCH', `/api/v5/workers/${worker.body.workerId}`, {
      key: t.keys.admin,
      body: { name: 'Sita\u202e' },
    });
    expect([renamed.status, renamed.body.code]).toEqual([400, 'validation_failed']);
    const thekedar = await http(t.baseUrl, 'POST', '/api/v5/thekedars', {
      key: t.keys.admin,
      body: { name: '  ', phone: '+91 98100 55502' },
    });
    expect([thekedar.status, thekedar.body.code]).toEqual([400, 'validation_failed']);
    const renamedSite = await http(t.baseUrl, 'PATCH', `/api/v5/sites/${siteId}`, {
      key: t.keys.admin,
      body: { name: 'Names\u0007yard' },
    });
    expect([renamedSite.status, renamedSite.body.code]).toEqual([400, 'validation_failed']);
  });
});
