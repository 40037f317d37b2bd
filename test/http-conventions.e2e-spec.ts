import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { TestKiosk } from './support/kiosk';
import { createSite, phoneAt, punch, sync } from './support/timesheet-client';
import { http, startTestApp, TestApp } from './support/test-app';
import { jpegBytes, pngBytes } from './support/image-bytes';

/**
 * The HTTP conventions every route shares (docs/architecture.md, "HTTP conventions"): answers
 * under /api and /auth are not cached, downloads say so, a JSON route refuses another body type
 * with 415 while the fielded kiosks' JSON keeps working, and Swagger UI loads from its addresses.
 */
describe('HTTP conventions (e2e)', () => {
  let t: TestApp;
  let siteId: string;
  let fileId: string;

  beforeAll(async () => {
    t = await startTestApp();
    siteId = (await createSite(t.baseUrl, t.keys.admin)).siteId;
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const recorded = await sync(t.baseUrl, phone, [
      punch(phone, 'check_in', new Date(Date.now() - 60_000).toISOString()),
    ]);
    expect(recorded.accepted).toBe(1);
    const stored = await http(t.baseUrl, 'POST', '/api/v5/vault', {
      key: t.keys.admin,
      rawBody: jpegBytes(64),
      headers: { 'content-type': 'image/jpeg' },
    });
    expect(stored.status).toBe(201);
    fileId = stored.body.fileId;
  });
  afterAll(async () => t.close());

  const get = (path: string, key?: string, headers: Record<string, string> = {}) =>
    fetch(`${t.baseUrl}${path}`, { headers: { ...(key ? { 'x-api-key': key } : {}), ...headers } });

  describe('Cache-Control', () => {
    it('should say no-store on every authenticated answer carrying personal data', async () => {
      const period = 'from=2026-03-01&to=2026-03-05';
      const answers = [
        await get('/api/v5/workers', t.keys.admin),
        await get(`/api/v5/workers?siteId=${siteId}`, t.keys.admin),
        await get('/api/kiosks', t.keys.admin),
        await get(`/api/v5/sites/${siteId}/timesheets?${period}`, t.keys.auditor),
        await get(`/api/v5/sites/${siteId}/timesheets.csv?${period}`, t.keys.auditor),
        await get(`/api/v5/ledger/${siteId}/export`, t.keys.auditor),
        await get(`/api/v5/vault/${fileId}`, t.keys.admin, { 'x-access-purpose': 'audit' }),
        await get('/api/whoami', t.keys.admin),
      ];
      expect(answers.map((res) => [res.url, res.status, res.headers.get('cache-control')])).toEqual(
        answers.map((res) => [res.url, 200, 'no-store']),
      );
      await Promise.all(answers.map((res) => res.arrayBuffer()));
    });

    it('should say no-store on refusals and errors under /api, and on the legacy /auth', async () => {
      const refused = await get('/api/v5/workers');
      const missing = await get('/api/v5/nothing-here', t.keys.admin);
      const auth = await http(t.baseUrl, 'POST', '/auth', { body: { api_key: t.keys.hardware } });
      expect([refused.status, refused.headers.get('cache-control')]).toEqual([401, 'no-store']);
      expect([missing.status, missing.headers.get('cache-control')]).toEqual([404, 'no-store']);
      expect([auth.status, auth.headers.get('cache-control')]).toEqual([200, 'no-store']);
      await Promise.all([refused.text(), missing.text()]);
    });

    it('should leave the headers of paths outside /api as they were', async () => {
      const health = await get('/health');
      const css = await get('/docs/swagger-ui.css');
      expect(health.headers.get('cache-control')).toBe('no-cache, no-store, must-revalidate');
      // swagger-ui-dist's assets are served by express.static with its own header
      expect(css.headers.get('cache-control')).toBe('public, max-age=0');
      await Promise.all([health.text(), css.text()]);
    });
  });

  describe('Content-Disposition', () => {
    it('should send the ledger export and the timesheet CSV as named attachments', async () => {
      const ledger = await get(`/api/v5/ledger/${siteId}/export`, t.keys.auditor);
      const csv = await get(
        `/api/v5/sites/${siteId}/timesheets.csv?from=2026-03-01&to=2026-03-05`,
        t.keys.auditor,
      );
      expect(ledger.headers.get('content-disposition')).toBe(
        `attachment; filename="ledger-${siteId}.ndjson"`,
      );
      expect(csv.headers.get('content-disposition')).toBe(
        `attachment; filename="timesheets-${siteId}-2026-03-01-2026-03-05.csv"`,
      );
      expect((await ledger.text()).split('\n').filter(Boolean)).toHaveLength(1);
      await csv.text();
    });
  });

  describe('request body types', () => {
    const site = { name: 'Tower C', geo: { lat: 28.6, lng: 77.2 }, radiusM: 100 };
    const send = (
      path: string,
      body: string | Buffer | undefined,
      headers: Record<string, string>,
    ) => http(t.baseUrl, 'POST', path, { key: t.keys.admin, rawBody: body, headers });

    it.each([
      ['text/plain', 'text/plain'],
      ['text/plain;charset=UTF-8', 'text/plain'],
      ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
      ['multipart/form-data; boundary=x', 'multipart/form-data'],
    ])('should answer 415 unsupported_media_type to a JSON route sent %s', async (type, shown) => {
      const res = await send('/api/v5/sites', JSON.stringify(site), { 'content-type': type });
      expect(res.status).toBe(415);
      expect(res.body).toMatchObject({
        statusCode: 415,
        code: 'unsupported_media_type',
        message: `Content-Type "${shown}" is not accepted here: send the body as application/json (or application/*+json)`,
        correlationId: expect.any(String),
      });
      expect(res.body.errors).toBeUndefined();
    });

    it('should answer 415 to a body without a Content-Type on a JSON route', async () => {
      // fetch sends a Buffer body without a Content-Type
      const res = await send('/api/v5/sites', Buffer.from(JSON.stringify(site)), {});
      expect([res.status, res.body.code, res.body.message]).toEqual([
        415,
        'unsupported_media_type',
        'The request body has no Content-Type: send it as application/json (or application/*+json)',
      ]);
    });

    it('should check the key first: a stranger gets 401, not 415', async () => {
      const res = await http(t.baseUrl, 'POST', '/api/v5/sites', {
        rawBody: JSON.stringify(site),
        headers: { 'content-type': 'text/plain' },
      });
      expect([res.status, res.body.code]).toEqual([401, 'unauthorized']);
    });

    it('should take JSON as application/json, with a charset, and as application/*+json', async () => {
      for (const type of [
        'application/json',
        'application/json; charset=utf-8',
        'Application/JSON',
        'application/vnd.mdai+json',
        'application/merge-patch+json',
      ]) {
        const res = await send('/api/v5/sites', JSON.stringify(site), { 'content-type': type });
        expect([type, res.status]).toEqual([type, 201]);
      }
    });

    it('should say in the 415 answer, the error catalog and the OpenAPI document that application/*+json is taken', async () => {
      const refused = await send('/api/v5/sites', JSON.stringify(site), {
        'content-type': 'text/plain',
      });
      expect(refused.body.message).toContain('application/*+json');
      const openapi = JSON.parse(
        readFileSync(join(__dirname, '..', 'docs', 'openapi.json'), 'utf8'),
      ) as { info: { description: string } };
      expect(openapi.info.description).toContain('application/*+json');
      expect(openapi.info.description).toContain('415 unsupported_media_type');
      expect(readFileSync(join(__dirname, '..', 'docs', 'errors.md'), 'utf8')).toMatch(
        /unsupported_media_type.*application\/\*\+json/,
      );
      const taken = await send('/api/v5/sites', JSON.stringify(site), {
        'content-type': 'application/merge-patch+json',
      });
      expect(taken.status).toBe(201);
    });

    it('should answer an empty body without a Content-Type as before (the fields are named)', async () => {
      const kiosk = await TestKiosk.registered(t, 'TEE-HTTP-EMPTY');
      const res = await send(`/api/kiosks/${kiosk.deviceId}/block`, undefined, {});
      expect([res.status, res.body.code]).toEqual([400, 'validation_failed']);
      expect(res.body.errors).toEqual([{ field: 'reason', message: 'is required' }]);
      const deleted = await fetch(`${t.baseUrl}/api/v5/vault/${fileId}`, {
        method: 'DELETE',
        headers: { 'x-api-key': t.keys.admin, 'x-access-purpose': 'erasure request' },
      });
      expect(deleted.status).toBe(200);
    });

    it('should keep the vault upload on its own types', async () => {
      const res = await send('/api/v5/vault', 'plain words', { 'content-type': 'text/plain' });
      expect([res.status, res.body.code]).toEqual([415, 'unsupported_media_type']);
      expect(res.body.message).not.toContain('application/json');
      const png = await send('/api/v5/vault', pngBytes(64), { 'content-type': 'image/png' });
      expect(png.status).toBe(201);
    });

    it('should keep the fielded kiosks routes working on the JSON they send', async () => {
      const kiosk = new TestKiosk('TEE-HTTP-LEGACY');
      const json = { 'content-type': 'application/json' };
      const registered = await http(t.baseUrl, 'POST', '/api/register-device', {
        key: t.keys.provisioner,
        rawBody: JSON.stringify({ device_id: kiosk.deviceId, public_key: kiosk.publicKeyPem }),
        headers: json,
      });
      expect(registered.status).toBe(201);
      const generated = await http(t.baseUrl, 'POST', '/api/generate-challenge', {
        key: t.keys.admin,
        rawBody: JSON.stringify({
          device_id: kiosk.deviceId,
          wifi_ssid: 'Site-9',
          wifi_password: 'wifi-pass-999',
        }),
        headers: json,
      });
      expect(generated.status).toBe(200);
      const challenge = generated.body.qr_payload as { bson_id: string; challenge: string };
      const validated = await http(t.baseUrl, 'POST', '/api/validate-challenge', {
        rawBody: JSON.stringify({
          bson_id: challenge.bson_id,
          challenge_response: kiosk.decryptChallenge(challenge.challenge).toString('base64'),
        }),
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
      expect([validated.status, validated.headers.get('cache-control')]).toEqual([200, 'no-store']);
      const auth = await http(t.baseUrl, 'POST', '/auth', {
        rawBody: JSON.stringify({ api_key: t.keys.hardware }),
        headers: json,
      });
      expect([auth.status, typeof auth.body.token]).toEqual([200, 'string']);
    });
  });

  describe('what no route answers', () => {
    it('should answer a method a path does not serve 405 with Allow, and an unknown path 404', async () => {
      const res = await fetch(`${t.baseUrl}/api/v5/sites/${siteId}`, {
        method: 'DELETE',
        headers: { 'x-api-key': t.keys.admin },
      });
      const body = (await res.json()) as { code: string; message: string; correlationId: string };
      expect([res.status, body.code, res.headers.get('allow')]).toEqual([
        405,
        'method_not_allowed',
        'GET, HEAD, PATCH',
      ]);
      expect(body.correlationId).toBe(res.headers.get('x-correlation-id'));
      const sync = await fetch(`${t.baseUrl}/api/v5/sync`, { method: 'PUT' });
      expect([sync.status, sync.headers.get('allow')]).toEqual([405, 'POST']);
      const unknown = await fetch(`${t.baseUrl}/api/v5/nothing-here`, { method: 'DELETE' });
      expect([unknown.status, ((await unknown.json()) as { code: string }).code]).toEqual([
        404,
        'not_found',
      ]);
      // a segment that does not decode is the router's 400, as before
      const odd = await fetch(`${t.baseUrl}/api/v5/sites/%zz`, { method: 'DELETE' });
      expect([odd.status, ((await odd.json()) as { code: string }).code]).toEqual([
        400,
        'bad_request',
      ]);
    });

    it('should refuse a JSON body declared in a charset other than UTF-8 (415), before reading it', async () => {
      for (const charset of ['ebcdic', 'utf-16', '"latin1"']) {
        const res = await http(t.baseUrl, 'POST', '/api/v5/sites', {
          key: t.keys.admin,
          rawBody: JSON.stringify({ name: 'Charset', geo: { lat: 1, lng: 2 }, radiusM: 50 }),
          headers: { 'content-type': `application/json; charset=${charset}` },
        });
        expect([charset, res.status, res.body.code]).toEqual([charset, 415, 'unsupported_charset']);
      }
      for (const charset of ['UTF-8', 'utf8', 'us-ascii']) {
        const res = await http(t.baseUrl, 'POST', '/api/v5/sites', {
          key: t.keys.admin,
          rawBody: JSON.stringify({ name: 'Charset', geo: { lat: 1, lng: 2 }, radiusM: 50 }),
          headers: { 'content-type': `application/json;charset=${charset}` },
        });
        expect([charset, res.status]).toEqual([charset, 201]);
      }
    });

    it('should answer what the HTTP parser refuses with the error body and a correlation id', async () => {
      const tooLarge = await fetch(`${t.baseUrl}/api/kiosks`, {
        headers: { 'x-api-key': 'k'.repeat(20_000) },
      });
      const body = (await tooLarge.json()) as { code: string; correlationId: string };
      expect([tooLarge.status, body.code]).toEqual([431, 'headers_too_large']);
      expect(tooLarge.headers.get('x-correlation-id')).toBe(body.correlationId);
      expect(JSON.stringify(body)).not.toContain('kkkk');
      const raw = await rawRequest(t.baseUrl, 'NOT HTTP AT ALL\r\n\r\n');
      expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      const [, rawBody] = raw.split('\r\n\r\n');
      expect(JSON.parse(rawBody)).toMatchObject({ statusCode: 400, code: 'malformed_request' });
    });

    it('should close a refused connection itself, though the client never closes its side', async () => {
      const server = t.app.getHttpServer() as import('node:http').Server;
      const connections = () =>
        new Promise<number>((resolve, reject) =>
          server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
        );
      const { hostname, port } = new URL(t.baseUrl);
      const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true });
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      const open = await connections();
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
      const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
      socket.write('NOT HTTP AT ALL\r\n\r\n');
      await ended; // the answer is in; this side stays open (allowHalfOpen, never ended)
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      // the server's side is gone all the same: its count falls below what it was with ours
      while ((await connections()) >= open) await new Promise((r) => setTimeout(r, 20));
      socket.destroy();
    });

    it('should name only the type when a query value is of the wrong type', async () => {
      const res = await http(t.baseUrl, 'GET', '/api/kiosks?limit=abc', { key: t.keys.admin });
      expect([res.status, res.body.code]).toEqual([400, 'validation_failed']);
      expect(res.body.errors).toEqual([
        { field: 'limit', message: expect.stringMatching(/integer/) },
      ]);
      const range = await http(t.baseUrl, 'GET', '/api/kiosks?limit=0', { key: t.keys.admin });
      expect(range.body.errors).toEqual([
        { field: 'limit', message: expect.stringMatching(/less than 1/) },
      ]);
    });

    it('should refuse a query parameter the ledger export does not take (limit=abc), as the listings refuse theirs, not ignore it', async () => {
      const path = `/api/v5/ledger/${siteId}/export`;
      for (const query of ['limit=abc', 'limit=5', 'after=3']) {
        const res = await http(t.baseUrl, 'GET', `${path}?${query}`, { key: t.keys.admin });
        const field = query.split('=')[0];
        expect([res.status, res.body.code, res.body.errors]).toEqual([
          400,
          'validation_failed',
          [{ field, message: `property ${field} should not exist` }],
        ]);
      }
      // without one, the export as before: NDJSON
      const plain = await fetch(`${t.baseUrl}${path}`, { headers: { 'x-api-key': t.keys.admin } });
      expect(plain.status).toBe(200);
      expect(plain.headers.get('content-type')).toContain('application/x-ndjson');
    });
  });

  describe('Authorization header', () => {
    it('should take the Bearer scheme in any case (RFC 7235), with one space or more', async () => {
      const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
      const at = Date.now() - 30_000;
      for (const [i, scheme] of ['bearer ', 'BEARER ', 'Bearer   '].entries()) {
        const res = await http(t.baseUrl, 'POST', '/api/v5/sync', {
          headers: { authorization: `${scheme}${phone.token}` },
          body: { packets: [punch(phone, 'check_in', new Date(at + i * 1000).toISOString())] },
        });
        expect([scheme, res.status]).toEqual([scheme, 200]);
      }
    });

    it("should say in an HTTP route's words which token it takes", async () => {
      const session = await http(t.baseUrl, 'POST', '/api/auth/mobile', {
        key: t.keys.mobile,
        body: { user_id: 'u1', platform_id: 'PLT_httpConventions001' },
      });
      const device = await http(t.baseUrl, 'GET', '/api/sessions/qr', {
        headers: { authorization: `bearer ${session.body.qr_payload.token}` },
      });
      expect([device.status, device.body.code, device.body.message]).toEqual([
        401,
        'wrong_token_type',
        "This route takes the phone's mobile token; the QR's token opens only /ws/device",
      ]);
      const none = await http(t.baseUrl, 'GET', '/api/sessions/qr');
      expect([none.status, none.body.code, none.body.message]).toEqual([
        401,
        'not_authenticated',
        'Authorization: Bearer <mobile token> is required',
      ]);
    });
  });

  describe('Swagger UI', () => {
    it.each(['/docs', '/docs/', '/docs/index.html', '/docs/?deepLinking=1', '/docs?x=1'])(
      'should load every asset of the page at %s',
      async (path) => {
        const page = await fetch(`${t.baseUrl}${path}`);
        expect([page.status, page.headers.get('content-type')]).toEqual([
          200,
          'text/html; charset=utf-8',
        ]);
        const html = await page.text();
        const links = [...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]);
        expect(links).toContain('./docs/swagger-ui-init.js');
        for (const link of links) {
          const asset = await fetch(new URL(link, page.url));
          expect([link, asset.status]).toEqual([link, 200]);
          await asset.arrayBuffer();
        }
      },
    );

    it('should serve the page, its assets and the document unframeable, scripts from here only', async () => {
      for (const path of ['/docs', '/docs/swagger-ui-init.js', '/docs-json']) {
        const res = await fetch(`${t.baseUrl}${path}`);
        expect([path, res.status]).toEqual([path, 200]);
        const csp = res.headers.get('content-security-policy') ?? '';
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).toContain("script-src 'self';");
        expect(res.headers.get('x-frame-options')).toBe('DENY');
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        await res.arrayBuffer();
      }
    });

    it('should send /docs/ and /docs/index.html to /docs, with their query', async () => {
      for (const [path, location] of [
        ['/docs/', '../docs'],
        ['/docs/index.html', '../docs'],
        ['/docs/?a=1&b=2', '../docs?a=1&b=2'],
      ]) {
        const res = await fetch(`${t.baseUrl}${path}`, { redirect: 'manual' });
        expect([path, res.status, res.headers.get('location')]).toEqual([path, 301, location]);
        await res.text();
      }
    });
  });
});

/** Sends `text` as is on a new connection and returns all the server wrote until it closed. */
function rawRequest(baseUrl: string, text: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(text));
    let out = '';
    socket.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}
