import { http, startTestApp, TestApp } from './support/test-app';

/**
 * The OpenAPI document states the limits class-validator enforces (apps/api/src/openapi-limits.ts
 * writes them from the validator's metadata). For a sample of DTOs, body, query and path: the
 * document says the limit, and a value just past the limit it says is refused by the server
 * with 400 naming that field, while the value at the limit is not refused for that field.
 */
describe('OpenAPI limits from the validators (e2e)', () => {
  let t: TestApp;
  let doc: any;
  let siteId: string;
  beforeAll(async () => {
    t = await startTestApp();
    doc = (await http(t.baseUrl, 'GET', '/docs-json')).body;
    const site = await http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      body: { name: 'Limits', geo: { lat: 28.6, lng: 77.2 }, radiusM: 100 },
    });
    expect(site.status).toBe(201);
    siteId = site.body.siteId;
  });
  afterAll(async () => t.close());

  const schemaOf = (name: string, property: string) =>
    doc.components.schemas[name].properties[property];
  const parameterOf = (path: string, name: string) =>
    doc.paths[path].get.parameters.find((p: any) => p.name === name).schema;
  /** The fields a 400 names (none for another answer). */
  const refusedFields = (res: { status: number; body: any }): string[] =>
    res.status === 400 ? (res.body.errors ?? []).map((e: any) => e.field) : [];

  const site = (over: Record<string, unknown>) =>
    http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      body: { name: 'Yard', geo: { lat: 28.6, lng: 77.2 }, radiusM: 100, ...over },
    });

  it('should state a site body limits (number range, length) and enforce exactly them', async () => {
    const radius = schemaOf('CreateSiteDto', 'radiusM');
    expect(radius).toMatchObject({ minimum: 10, maximum: 50_000 });
    expect(refusedFields(await site({ radiusM: radius.minimum - 1 }))).toEqual(['radiusM']);
    expect(refusedFields(await site({ radiusM: radius.maximum + 1 }))).toEqual(['radiusM']);
    expect((await site({ radiusM: radius.maximum })).status).toBe(201);
    const name = schemaOf('CreateSiteDto', 'name');
    expect(name).toMatchObject({ minLength: 1, maxLength: 200 });
    expect(refusedFields(await site({ name: 'x'.repeat(name.maxLength + 1) }))).toEqual(['name']);
    expect((await site({ name: 'x'.repeat(name.maxLength) })).status).toBe(201);
    const lat = schemaOf('GeoPointDto', 'lat');
    expect(lat).toMatchObject({ minimum: -90, maximum: 90 });
    expect(refusedFields(await site({ geo: { lat: 90.0001, lng: 0 } }))).toEqual(['geo.lat']);
  });

  it('should state a nested DTO string length and enforce it', async () => {
    const simHash = schemaOf('DeviceFingerprintDto', 'simHash');
    expect(simHash).toMatchObject({ minLength: 8, maxLength: 128 });
    const register = (hash: string) =>
      http(t.baseUrl, 'POST', '/api/v5/device/register', {
        body: {
          enrollmentCode: 'AAAA-BBBB-CCCC-DDDD',
          fingerprint: { os: 'Android 14', model: 'X', simHash: hash },
        },
      });
    expect(refusedFields(await register('a'.repeat(simHash.minLength - 1)))).toEqual([
      'fingerprint.simHash',
    ]);
    expect(refusedFields(await register('a'.repeat(simHash.maxLength + 1)))).toEqual([
      'fingerprint.simHash',
    ]);
    // at the limits: past validation (an unknown enrollment code)
    expect((await register('a'.repeat(simHash.minLength))).status).toBe(403);
  });

  it('should state a reason length and enforce it', async () => {
    const reason = schemaOf('WorkerDeviceStatusChangeDto', 'reason');
    expect(reason).toMatchObject({ minLength: 3, maxLength: 500 });
    const block = (text: string) =>
      http(t.baseUrl, 'POST', '/api/v5/devices/0123456789abcdef01234567/block', {
        key: t.keys.admin,
        body: { reason: text },
      });
    expect(refusedFields(await block('x'.repeat(reason.minLength - 1)))).toEqual(['reason']);
    expect(refusedFields(await block('x'.repeat(reason.maxLength + 1)))).toEqual(['reason']);
    expect((await block('x'.repeat(reason.minLength))).status).toBe(404);
  });

  it("should state a query DTO's integer range and a path pattern, and enforce them", async () => {
    const path = '/api/v5/ledger/{siteId}/checkpoints';
    const limit = parameterOf(path, 'limit');
    expect(limit).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000 });
    const list = (query: string, id = siteId) =>
      http(t.baseUrl, 'GET', `/api/v5/ledger/${id}/checkpoints?${query}`, {
        key: t.keys.admin,
      });
    expect(refusedFields(await list(`limit=${limit.maximum + 1}`))).toEqual(['limit']);
    expect(refusedFields(await list(`limit=${limit.minimum - 1}`))).toEqual(['limit']);
    expect(refusedFields(await list('limit=1.5'))).toEqual(['limit']);
    expect((await list(`limit=${limit.maximum}`)).status).toBe(200);
    const id = parameterOf(path, 'siteId');
    expect(id.pattern).toBe('^[0-9a-f]{24}$');
    expect(new RegExp(id.pattern).test(siteId)).toBe(true);
    expect(refusedFields(await list('', siteId.toUpperCase()))).toEqual(['siteId']);
  });

  it('should state an enum of allowed query values and enforce it', async () => {
    const receipts = doc.paths['/api/v5/sync'].post.parameters.find(
      (p: any) => p.name === 'receipts',
    ).schema;
    expect(receipts.enum).toEqual(['true', 'false']);
    const res = await http(t.baseUrl, 'POST', '/api/v5/sync?receipts=maybe', {
      body: { packets: [] },
    });
    expect(refusedFields(res)).toEqual(['receipts']);
  });
});
