import { gzipSync } from 'node:zlib';
import { openSession } from './support/pairing';
import { rawExchange } from './support/raw-http';
import { http, startTestApp, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

function bodyOf(answer: string): { code?: string; message?: string; correlationId?: string } {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { code?: string };
}

const PLATFORM_ID = 'PLT_FUZZFINDINGS01';

/** What an outside fuzzer found (e2e): each answered as the API answers, at once. */
describe('fuzzer findings (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it.each([
    ['POST /api/v5/sites', 'admin', '99999999999'],
    ['POST /api/v5/sites', 'admin', '50000000'],
    ['POST /api/v5/sync', 'none', '99999999999'],
    ['POST /api/v5/sync', 'none', '1048577'],
  ])(
    'should refuse %s (%s key) declaring a %s-byte JSON body at once: 413, before any byte of it',
    async (route, key, length) => {
      const [method, path] = route.split(' ');
      const answer = await rawExchange(
        t.baseUrl,
        `${method} ${path} HTTP/1.1\r\nHost: x\r\n` +
          (key === 'admin' ? `x-api-key: ${t.keys.admin}\r\n` : '') +
          `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{}`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toMatch(/\r\nConnection: close\r\n/i);
      expect(answer).toMatch(/\r\nx-correlation-id: /i);
      expect(bodyOf(answer)).toMatchObject({ code: 'payload_too_large' });
    },
  );

  it.each([
    ['POST /api/v5/sync', 'none', '1048577', 'gzip'],
    ['POST /api/v5/sync', 'none', '99999999999', 'br'],
    ['POST /api/v5/sites', 'admin', '50000000', 'deflate'],
  ])(
    'should refuse %s (%s key) declaring a %s-byte %s JSON body at once: 413, before any byte of it',
    async (route, key, length, encoding) => {
      const [method, path] = route.split(' ');
      // two bytes of a body declared over the limit compressed: more once decoded
      const answer = await rawExchange(
        t.baseUrl,
        `${method} ${path} HTTP/1.1\r\nHost: x\r\n` +
          (key === 'admin' ? `x-api-key: ${t.keys.admin}\r\n` : '') +
          `Content-Type: application/json\r\nContent-Encoding: ${encoding}\r\n` +
          `Content-Length: ${length}\r\n\r\n\x1f\x8b`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toMatch(/\r\nConnection: close\r\n/i);
      expect(bodyOf(answer)).toMatchObject({ code: 'payload_too_large' });
    },
  );

  it('should answer Expect: 100-continue for a gzip JSON body declared over the JSON limit with 413, not 100', async () => {
    const answer = await rawExchange(
      t.baseUrl,
      `POST /api/v5/sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        'Content-Encoding: gzip\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).not.toContain('100 Continue');
    expect(bodyOf(answer)).toMatchObject({ code: 'payload_too_large' });
  });

  it('should still take a gzip JSON body within the limit', async () => {
    const site = { name: 'Fuzz gzip', geo: { lat: 28.6, lng: 77.2 }, radiusM: 150 };
    const res = await fetch(`${t.baseUrl}/api/v5/sites`, {
      method: 'POST',
      headers: {
        'x-api-key': t.keys.admin,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
      body: gzipSync(JSON.stringify(site)),
    });
    expect(res.status).toBe(201);
  });

  it('should answer Expect: 100-continue for a JSON body over the JSON limit with 413, not 100', async () => {
    const answer = await rawExchange(
      t.baseUrl,
      `POST /api/v5/sites HTTP/1.1\r\nHost: x\r\nx-api-key: ${t.keys.admin}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).not.toContain('100 Continue');
    expect(bodyOf(answer)).toMatchObject({ code: 'payload_too_large' });
  });

  it('should still take a JSON body within the limit, and one told to continue', async () => {
    const site = { name: 'Fuzz', geo: { lat: 28.6, lng: 77.2 }, radiusM: 150 };
    const body = JSON.stringify(site);
    const res = await http(t.baseUrl, 'POST', '/api/v5/sites', { key: t.keys.admin, body: site });
    expect(res.status).toBe(201);
    const answer = await rawExchange(
      t.baseUrl,
      `POST /api/v5/sites HTTP/1.1\r\nHost: x\r\nx-api-key: ${t.keys.admin}\r\nConnection: close\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Expect: 100-continue\r\n\r\n${body}`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
  });

  it('should answer an HTTP/1.1 request without Host 400 malformed_request with the error body', async () => {
    const answer = await rawExchange(t.baseUrl, 'GET /health HTTP/1.1\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    expect(answer).toMatch(/\r\nx-correlation-id: /i);
    expect(bodyOf(answer)).toMatchObject({
      code: 'malformed_request',
      message: expect.any(String),
    });
    // HTTP/1.0 needs no Host
    const old = await rawExchange(t.baseUrl, 'GET /health HTTP/1.0\r\n\r\n');
    expect(old).toMatch(/^HTTP\/1\.1 200 /);
  });

  it.each([
    [
      '100-continue',
      'POST /api/v5/sites',
      'Content-Type: application/json\r\nContent-Length: 2\r\n',
    ],
    ['foo', 'GET /health', ''],
  ])(
    'should answer an HTTP/1.1 request without Host with Expect: %s 400 malformed_request, no 100 or 417 first',
    async (expect100, route, headers) => {
      const answer = await rawExchange(
        t.baseUrl,
        `${route} HTTP/1.1\r\nx-api-key: ${t.keys.admin}\r\n${headers}Expect: ${expect100}\r\n\r\n`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toMatch(/\r\nx-correlation-id: /i);
      expect(bodyOf(answer)).toMatchObject({ code: 'malformed_request' });
    },
  );

  it('should answer an Expect other than 100-continue 417 expectation_failed with the error body', async () => {
    const answer = await rawExchange(
      t.baseUrl,
      'GET /health HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 417 /);
    expect(answer).toMatch(/\r\nx-correlation-id: /i);
    expect(bodyOf(answer)).toMatchObject({
      code: 'expectation_failed',
      message: expect.any(String),
    });
    expect(t.logs()).not.toContain('"level":50');
  });

  it('should refuse a WebSocket upgrade that repeats its token (not_authenticated, 4401)', async () => {
    const session = await openSession(t, PLATFORM_ID);
    for (const query of [
      `token=${session.mobileToken}&token=x`,
      `token=${session.mobileToken}&token=${session.mobileToken}`,
    ]) {
      const socket = await TestSocket.open(`${t.wsUrl}/ws/mobile?${query}`);
      await socket.error('not_authenticated');
      expect(await socket.waitClose()).toBe(4401);
    }
    // the token alone still opens the socket
    const mobile = await TestSocket.open(`${t.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    await mobile.next('joined');
    mobile.close();
  });
});
