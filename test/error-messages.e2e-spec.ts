import { http, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';

/** Messages an outside tester found wrong or misleading, asked from the outside. */
describe('error messages say what is wrong (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SYNC_MAX_PACKETS: '3', TRUST_AUTO_BLOCK_FLOOR: '0' });
  });
  afterAll(async () => t.close());

  it('should name the configured batch limit, and no count at all for packets that are not an array', async () => {
    const notArray = await http(t.baseUrl, 'POST', '/api/v5/sync', { body: { packets: {} } });
    expect(notArray.status).toBe(400);
    expect(notArray.body.errors).toContainEqual({ field: 'packets', message: 'must be an array' });
    for (const e of notArray.body.errors) expect(e.message).not.toMatch(/\d|elements/);
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const tooMany = await syncBatch(t.baseUrl, phone.token, [
      signPacket(phone),
      signPacket(phone),
      signPacket(phone),
      signPacket(phone),
    ]);
    expect(tooMany.status).toBe(413);
    expect(tooMany.body).toMatchObject({
      code: 'too_many_packets',
      message: 'A batch holds at most 3 packets',
    });
    const fits = await syncBatch(t.baseUrl, phone.token, [signPacket(phone), signPacket(phone)]);
    expect(fits.status).toBe(200);
  });

  it("should describe the sync's device_blocked as the worker's phone, not a kiosk", async () => {
    const doc = (await http(t.baseUrl, 'GET', '/docs-json')).body;
    const text: string = doc.paths['/api/v5/sync'].post.responses['403'].description;
    const line = text.split('\n').find((l) => l.startsWith('- `device_blocked`'));
    expect(line).toMatch(/phone is blocked/);
    expect(line).not.toMatch(/kiosk/);
    // a kiosk route keeps the kiosk's words; a thekedar's signed route names the signing device
    const lineOf = (path: string, verb: string) =>
      (doc.paths[path][verb].responses['403'].description as string)
        .split('\n')
        .find((l) => l.startsWith('- `device_blocked`'));
    expect(lineOf('/api/generate-challenge', 'post')).toMatch(/the kiosk is blocked/);
    expect(lineOf('/api/v5/workers', 'post')).toMatch(/the signing device is blocked/);
    expect(lineOf('/api/v5/sites/{siteId}/timesheets', 'get')).toMatch(/signing device/);
  });

  it.each([['"str"'], ['null'], ['[]'], ['[{"name":"x"}]'], ['42'], ['true']])(
    'should say a body of valid JSON %s must be a JSON object',
    async (raw) => {
      const res = await http(t.baseUrl, 'POST', '/api/v5/sites', {
        key: t.keys.admin,
        rawBody: raw,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        code: 'invalid_json',
        message: 'The request body must be a JSON object',
      });
    },
  );

  it('should still say a body that does not parse is not valid JSON', async () => {
    for (const raw of ['{', '"str', 'nul', '[1,]']) {
      const res = await http(t.baseUrl, 'POST', '/api/v5/sites', {
        key: t.keys.admin,
        rawBody: raw,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        code: 'invalid_json',
        message: 'The request body is not valid JSON',
      });
    }
  });

  it('should say a repeated query parameter must be given once', async () => {
    const res = await http(
      t.baseUrl,
      'GET',
      '/api/v5/fraud/events?from=2026-01-01T00:00:00Z&from=2026-01-02T00:00:00Z&limit=5',
      { key: t.keys.admin },
    );
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'from', message: 'must be given once' }]);
    const twice = await http(
      t.baseUrl,
      'GET',
      '/api/v5/devices?workerId=a&workerId=b&limit=1&limit=2',
      {
        key: t.keys.admin,
      },
    );
    expect(twice.status).toBe(400);
    expect(twice.body.errors).toEqual([
      { field: 'workerId', message: 'must be given once' },
      { field: 'limit', message: 'must be given once' },
    ]);
  });

  it('should say a latitude given as a string must be a number', async () => {
    const site = (geo: unknown) =>
      http(t.baseUrl, 'POST', '/api/v5/sites', {
        key: t.keys.admin,
        body: { name: 'Yard', geo, radiusM: 100 },
      });
    const asString = await site({ lat: '28.5', lng: 77.2 });
    expect(asString.status).toBe(400);
    expect(asString.body.errors).toEqual([{ field: 'geo.lat', message: 'must be a number' }]);
    const outside = await site({ lat: 28.5, lng: 181 });
    expect(outside.body.errors).toEqual([
      { field: 'geo.lng', message: 'must be a number from -180 to 180' },
    ]);
    expect(JSON.stringify([asString.body, outside.body])).not.toMatch(/string or number/);
  });
});
