import { loadOpenApi } from './support/openapi-walk';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

/**
 * A listing's id filter (`deviceId`, `workerId`, `siteId`, `fileId`, …) and its keyset `after`
 * are checked as the ids they name are everywhere else: a value that can be no id answers 400
 * `validation_failed` naming the field, not an empty list (a typo would look like "nothing
 * there"). Every GET operation of docs/openapi.json with such a query parameter is tried, so
 * a new listing is held to the same rule without being named here.
 */
describe('listing filters that name an id (e2e)', () => {
  let t: TestApp;
  let siteId: string;
  const GARBAGE = 'not an id!';
  const filtered = loadOpenApi()
    .operations.filter((op) => op.method === 'GET')
    .flatMap((op) =>
      op.parameters
        .filter((p) => p.in === 'query' && (/Id$/.test(p.name) || p.name === 'after'))
        .filter((p) => p.schema?.type !== 'integer' && p.schema?.type !== 'number')
        .map((p) => ({ path: op.path, name: p.name })),
    );

  const get = (path: string, key = t.keys.admin) => http(t.baseUrl, 'GET', path, { key });

  beforeAll(async () => {
    t = await startTestApp();
    siteId = (await createSite(t.baseUrl, t.keys.admin)).siteId;
  });
  afterAll(async () => t.close());

  it('should find the id filters of the listings', () => {
    const names = filtered.map((f) => `${f.path}?${f.name}`);
    for (const expected of [
      '/api/v5/fraud/events?deviceId',
      '/api/v5/fraud/events?workerId',
      '/api/v5/fraud/events?siteId',
      '/api/v5/devices?workerId',
      '/api/v5/devices?after',
      '/api/kiosks?after',
      '/api/v5/workers?siteId',
      '/api/v5/sites/{siteId}/timesheets?workerId',
      '/api/v5/vault/audit?fileId',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it('should answer a value that can be no id 400 validation_failed naming the field, on every listing', async () => {
    const answers = [];
    for (const { path, name } of filtered) {
      // the other required parameters are given, so the field is the only fault
      const rest =
        path.includes('/timesheets') || path.includes('/payroll')
          ? '&from=2026-03-01&to=2026-03-02'
          : '';
      const url = `${path.replace('{siteId}', siteId)}?${name}=${encodeURIComponent(GARBAGE)}${rest}`;
      const res = await get(url, path.includes('/vault/') ? t.keys.auditor : t.keys.admin);
      answers.push({
        url,
        status: res.status,
        code: res.body?.code,
        names: (res.body?.errors ?? []).some((e: { field: string }) => e.field === name),
      });
    }
    expect(answers).toEqual(
      answers.map(({ url }) => ({ url, status: 400, code: 'validation_failed', names: true })),
    );
  });

  it('should check GET /api/v5/fraud/events?deviceId= as the deviceId of a device path is checked', async () => {
    const path = await get('/api/v5/devices/not-a-device');
    const query = await get('/api/v5/fraud/events?deviceId=not-a-device');
    expect(query.status).toBe(400);
    expect([query.status, query.body.code]).toEqual([path.status, path.body.code]);
    expect(query.body.errors).toEqual(path.body.errors);
  });

  it('should still answer a well-formed id of nothing with an empty list', async () => {
    const nobody = '0123456789abcdef01234567';
    for (const name of ['deviceId', 'workerId', 'siteId']) {
      const res = await get(`/api/v5/fraud/events?${name}=${nobody}`);
      expect({ name, status: res.status, body: res.body }).toEqual({ name, status: 200, body: [] });
    }
    expect((await get(`/api/v5/devices?after=${nobody}`)).status).toBe(200);
    expect((await get('/api/kiosks?after=TEE-RDKX5-0001')).status).toBe(200);
  });
});
