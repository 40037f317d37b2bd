import { request as httpRequest } from 'node:http';
import { http, startTestApp, TestApp } from './support/test-app';
import { jpegBytes } from './support/image-bytes';

/** A raw HTTP request, so the test controls Host and X-Forwarded-* exactly as a proxy sends them. */
function raw(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer | string,
): Promise<{ status: number; body: any }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function openSession(t: TestApp, headers: Record<string, string> = {}) {
  const opened = await raw(
    t.baseUrl,
    'POST',
    '/api/auth/mobile',
    { 'content-type': 'application/json', 'x-api-key': t.keys.mobile, ...headers },
    JSON.stringify({ user_id: 'u-1', platform_id: 'PLT_publicUrl0001' }),
  );
  expect(opened.status).toBe(201);
  return opened.body.qr_payload.ws_device_url as string;
}

async function challengeQrUrl(t: TestApp, headers: Record<string, string> = {}) {
  const { generateKeyPairSync } = await import('node:crypto');
  const deviceId = `TEE-URL-${Math.random().toString(36).slice(2, 10)}`;
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
  const registered = await http(t.baseUrl, 'POST', '/api/register-device', {
    key: t.keys.provisioner,
    body: { device_id: deviceId, public_key: pem },
  });
  expect(registered.status).toBe(201);
  const issued = await raw(
    t.baseUrl,
    'POST',
    '/api/generate-challenge',
    { 'content-type': 'application/json', 'x-api-key': t.keys.admin, ...headers },
    JSON.stringify({ device_id: deviceId, wifi_ssid: 'site-7', wifi_password: 'correct horse' }),
  );
  expect(issued.status).toBe(200);
  return issued.body.qr_url as string;
}

/** Uploads a file with the given headers and answers the client address the vault audited. */
async function auditedIp(t: TestApp, headers: Record<string, string>): Promise<string> {
  const stored = await raw(
    t.baseUrl,
    'POST',
    '/api/v5/vault',
    { 'content-type': 'image/jpeg', 'x-api-key': t.keys.admin, ...headers },
    jpegBytes(64, 7),
  );
  expect(stored.status).toBe(201);
  const records = await http(t.baseUrl, 'GET', `/api/v5/vault/audit?fileId=${stored.body.fileId}`, {
    key: t.keys.auditor,
  });
  expect(records.body).toHaveLength(1);
  return records.body[0].ip as string;
}

describe('absolute URLs and client addresses behind a proxy (e2e)', () => {
  describe('with PUBLIC_URL', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ PUBLIC_URL: 'https://mdai.example.org:8443/' });
    });
    afterAll(async () => t.close());

    it('should build the QR ws_device_url and qr_url on PUBLIC_URL whatever Host the request had', async () => {
      const headers = { host: 'internal-replica:3000', 'x-forwarded-proto': 'http' };
      expect(await openSession(t, headers)).toBe('wss://mdai.example.org:8443/ws/device');
      expect(await challengeQrUrl(t, headers)).toMatch(
        /^https:\/\/mdai\.example\.org:8443\/api\/challenges\/[0-9a-f]{24}\/qr\?format=png$/,
      );
    });
  });

  describe('without PUBLIC_URL (development)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp();
    });
    afterAll(async () => t.close());

    it('should keep the port of the Host the client used (nginx passing $http_host)', async () => {
      expect(await openSession(t, { host: 'proxy.local:8090' })).toBe(
        'ws://proxy.local:8090/ws/device',
      );
      expect(await challengeQrUrl(t, { host: 'proxy.local:8090' })).toMatch(
        /^http:\/\/proxy\.local:8090\/api\/challenges\/[0-9a-f]{24}\/qr\?format=png$/,
      );
    });

    it('should believe X-Forwarded-Proto from a trusted (loopback) proxy', async () => {
      expect(await openSession(t, { host: 'mdai.example.org', 'x-forwarded-proto': 'https' })).toBe(
        'wss://mdai.example.org/ws/device',
      );
    });

    it('should give a QR whose ws_device_url a client can follow verbatim', async () => {
      const url = await openSession(t, { host: new URL(t.baseUrl).host });
      expect(url).toBe(`${t.wsUrl}/ws/device`);
      const qrUrl = await challengeQrUrl(t, { host: new URL(t.baseUrl).host });
      const png = await fetch(qrUrl, { headers: { 'x-api-key': t.keys.admin } });
      expect([png.status, png.headers.get('content-type')]).toEqual([200, 'image/png']);
    });
  });

  describe('TRUST_PROXY', () => {
    const forwarded = { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' };
    let apps: TestApp[] = [];
    afterEach(async () => {
      await Promise.all(apps.map((a) => a.close()));
      apps = [];
    });

    it('should trust only a proxy on loopback by default, never a private address in the chain', async () => {
      const t = await startTestApp();
      apps.push(t);
      const before = t.logs();
      // a proxy on this host (trusted) forwarding a client on a private network that forged
      // its own header: the client's address is the last one the proxy added, not the forged one
      expect(await auditedIp(t, { 'x-forwarded-for': '203.0.113.9, 10.0.0.5' })).toBe('10.0.0.5');
      expect(await auditedIp(t, { 'x-forwarded-for': '203.0.113.9, 192.168.1.7' })).toBe(
        '192.168.1.7',
      );
      expect(await auditedIp(t, { 'x-forwarded-for': '203.0.113.9, fd00::7' })).toBe('fd00::7');
      // loopback is trusted: nothing to warn about
      expect(t.logs().slice(before.length)).not.toContain('X-Forwarded-For');
    });

    it('should warn once when a peer it does not trust sends X-Forwarded-For', async () => {
      const t = await startTestApp({ TRUST_PROXY: '10.0.0.0/8' });
      apps.push(t);
      await auditedIp(t, {});
      expect(t.logs()).not.toContain('carried X-Forwarded-For');
      await auditedIp(t, forwarded);
      await auditedIp(t, forwarded);
      const warnings = t
        .logs()
        .split('\n')
        .filter((l) => l.includes('carried X-Forwarded-For'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('TRUST_PROXY');
      expect(warnings[0]).not.toContain('198.51.100.1');
    });

    it('should take the client address from exactly one proxy hop with TRUST_PROXY=1', async () => {
      const t = await startTestApp({ TRUST_PROXY: '1' });
      apps.push(t);
      expect(await auditedIp(t, forwarded)).toBe('203.0.113.7');
    });

    it('should use the socket address and ignore X-Forwarded-For with TRUST_PROXY=false', async () => {
      const t = await startTestApp({ TRUST_PROXY: 'false' });
      apps.push(t);
      expect(await auditedIp(t, forwarded)).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    });

    it('should not believe X-Forwarded-For from a peer outside the trusted list', async () => {
      const t = await startTestApp({ TRUST_PROXY: '10.0.0.0/8' });
      apps.push(t);
      expect(await auditedIp(t, forwarded)).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    });
  });
});
