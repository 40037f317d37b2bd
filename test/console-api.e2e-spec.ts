import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProvisioningService } from '@app/provisioning';
import { TestKiosk } from './support/kiosk';
import { http, startTestApp, TestApp } from './support/test-app';

/** The endpoints the console needs beyond the first waves, and how /console is served. */
describe('console endpoints and /console serving (e2e)', () => {
  let t: TestApp;
  let consoleDir: string;

  beforeAll(async () => {
    consoleDir = mkdtempSync(join(tmpdir(), 'mdai-console-'));
    writeFileSync(
      join(consoleDir, 'index.html'),
      '<!doctype html><html lang="en"><title>MDAI</title><script src="/console/app.js"></script></html>',
    );
    writeFileSync(join(consoleDir, 'app.js'), 'console.log(1);');
    writeFileSync(join(consoleDir, 'notes.txt'), 'not a console asset type');
    t = await startTestApp({ CONSOLE_DIR: consoleDir });
  });
  afterAll(async () => {
    await t.close();
    rmSync(consoleDir, { recursive: true, force: true });
  });

  describe('GET /api/whoami', () => {
    it.each(['admin', 'provisioner', 'auditor', 'mobile', 'hardware'] as const)(
      'should name the role of a %s key and its key id, never the key',
      async (role) => {
        const res = await http(t.baseUrl, 'GET', '/api/whoami', { key: t.keys[role] });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ roles: [role], keyId: expect.stringMatching(/^[0-9a-f]{12}$/) });
        expect(JSON.stringify(res.body)).not.toContain(t.keys[role]);
      },
    );

    it('should answer 401 without a key or with an unknown one', async () => {
      expect((await http(t.baseUrl, 'GET', '/api/whoami')).body.code).toBe('unauthorized');
      const wrong = await http(t.baseUrl, 'GET', '/api/whoami', { key: 'nope' });
      expect(wrong.status).toBe(401);
    });
  });

  describe('GET /api/challenges/:bson_id', () => {
    let kiosk: TestKiosk;
    beforeAll(async () => {
      kiosk = await TestKiosk.registered(t, 'TEE-STATE-1');
    });
    const generate = async () => {
      const res = await http(t.baseUrl, 'POST', '/api/generate-challenge', {
        key: t.keys.admin,
        body: { device_id: kiosk.deviceId, wifi_ssid: 'Site-7', wifi_password: 'wifi-pass-123' },
      });
      expect(res.status).toBe(200);
      return res.body as { qr_payload: { bson_id: string; challenge: string } };
    };
    const state = (id: string, key = t.keys.admin) =>
      http(t.baseUrl, 'GET', `/api/challenges/${id}`, { key });

    it('should go from waiting to used, and never show the password or the answer', async () => {
      const issued = await generate();
      const id = issued.qr_payload.bson_id;
      const waiting = await state(id);
      expect(waiting.status).toBe(200);
      expect(waiting.body).toMatchObject({
        bson_id: id,
        device_id: 'TEE-STATE-1',
        wifi_ssid: 'Site-7',
        state: 'waiting',
        wrong_attempts: 0,
        max_attempts: 5,
      });
      expect(JSON.stringify(waiting.body)).not.toContain('wifi-pass-123');
      expect(JSON.stringify(waiting.body)).not.toContain(issued.qr_payload.challenge);
      const answer = kiosk.decryptChallenge(issued.qr_payload.challenge);
      const validated = await http(t.baseUrl, 'POST', '/api/validate-challenge', {
        body: { bson_id: id, challenge_response: answer.toString('base64') },
      });
      expect(validated.status).toBe(200);
      const used = await state(id);
      expect(used.body).toMatchObject({ state: 'used', used_at: expect.any(String) });
    });

    it('should say locked after too many wrong answers', async () => {
      const id = (await generate()).qr_payload.bson_id;
      for (let i = 0; i < 5; i++) {
        await http(t.baseUrl, 'POST', '/api/validate-challenge', {
          body: { bson_id: id, challenge_response: Buffer.alloc(32, i).toString('base64') },
        });
      }
      expect((await state(id)).body).toMatchObject({ state: 'locked', wrong_attempts: 5 });
    });

    it('should say expired for an unanswered challenge past its expiry', async () => {
      const id = (await generate()).qr_payload.bson_id;
      const view = await state(id);
      const later = new Date(Date.parse(view.body.expires_at) + 1);
      expect((await t.app.get(ProvisioningService).state(id, later)).state).toBe('expired');
      expect((await t.app.get(ProvisioningService).state(id, new Date())).state).toBe('waiting');
    });

    it('should answer 404 for an unknown id, 400 for a malformed one, 403 for other roles', async () => {
      expect((await state('0123456789abcdef01234567')).body.code).toBe('challenge_not_found');
      expect((await state('xyz')).status).toBe(400);
      expect((await state('0123456789abcdef01234567', t.keys.provisioner)).status).toBe(403);
      expect((await state('0123456789abcdef01234567', t.keys.auditor)).status).toBe(403);
    });
  });

  it('should find kiosks by device_id prefix, page by page', async () => {
    for (const id of ['CON-A-1', 'CON-A-2', 'CON-A-3', 'CON-B-1'])
      await TestKiosk.registered(t, id);
    const list = (query: string) =>
      http(t.baseUrl, 'GET', `/api/kiosks?${query}`, { key: t.keys.provisioner });
    const ids = (res: { body: Array<{ device_id: string }> }) => res.body.map((k) => k.device_id);
    expect(ids(await list('prefix=CON-A'))).toEqual(['CON-A-1', 'CON-A-2', 'CON-A-3']);
    expect(ids(await list('prefix=CON-A&limit=2&after=CON-A-2'))).toEqual(['CON-A-3']);
    expect(ids(await list('prefix=CON-%25'))).toEqual([]);
    expect((await list(`prefix=${'x'.repeat(129)}`)).status).toBe(400);
  });

  describe('workforce lists', () => {
    let siteA: string;
    let siteB: string;
    beforeAll(async () => {
      const site = async (name: string) =>
        (
          await http(t.baseUrl, 'POST', '/api/v5/sites', {
            key: t.keys.admin,
            body: { name, geo: { lat: 28.6, lng: 77.2 }, radiusM: 200 },
          })
        ).body.siteId as string;
      siteA = await site('Tower A');
      siteB = await site('Tower B');
      for (const [name, siteIds, phone] of [
        ['W1', [siteA], '+91 98100 00001'],
        ['W2', [siteB], '+91 98100 00002'],
        ['W3', [siteA, siteB], '+91 98100 00003'],
      ] as const) {
        const res = await http(t.baseUrl, 'POST', '/api/v5/workers', {
          key: t.keys.admin,
          body: { name, phone, siteIds },
        });
        expect(res.status).toBe(201);
      }
      await http(t.baseUrl, 'POST', '/api/v5/thekedars', {
        key: t.keys.admin,
        body: { name: 'Ramesh', phone: '+91 98100 00009' },
      });
    });

    it('should list sites with their geofence for admins and auditors, keyset paged', async () => {
      const all = await http(t.baseUrl, 'GET', '/api/v5/sites', { key: t.keys.auditor });
      expect(all.status).toBe(200);
      expect(all.body).toEqual([
        expect.objectContaining({ siteId: siteA, name: 'Tower A', radiusM: 200 }),
        expect.objectContaining({ siteId: siteB, name: 'Tower B', geo: { lat: 28.6, lng: 77.2 } }),
      ]);
      const next = await http(t.baseUrl, 'GET', `/api/v5/sites?limit=1&after=${siteA}`, {
        key: t.keys.admin,
      });
      expect(next.body.map((s: { siteId: string }) => s.siteId)).toEqual([siteB]);
      expect(
        (await http(t.baseUrl, 'GET', '/api/v5/sites?after=zz', { key: t.keys.admin })).status,
      ).toBe(400);
      expect(
        (await http(t.baseUrl, 'GET', '/api/v5/sites', { key: t.keys.provisioner })).status,
      ).toBe(403);
      expect((await http(t.baseUrl, 'GET', '/api/v5/sites')).status).toBe(401);
    });

    it('should list workers, optionally of one site, without enrollment codes', async () => {
      const all = await http(t.baseUrl, 'GET', '/api/v5/workers', { key: t.keys.admin });
      expect(all.body.map((w: { name: string }) => w.name)).toEqual(['W1', 'W2', 'W3']);
      expect(all.body[0]).toEqual({
        workerId: expect.stringMatching(/^[0-9a-f]{24}$/),
        name: 'W1',
        phone: '+919810000001', // stored in E.164
        siteIds: [siteA],
        status: 'active',
        trustScore: expect.any(Number),
        sponsorKind: 'admin',
        createdAt: expect.any(String),
        integrity: 'verified',
      });
      const atB = await http(t.baseUrl, 'GET', `/api/v5/workers?siteId=${siteB}`, {
        key: t.keys.auditor,
      });
      expect(atB.body.map((w: { name: string }) => w.name)).toEqual(['W2', 'W3']);
      expect((await http(t.baseUrl, 'GET', '/api/v5/workers', { key: t.keys.mobile })).status).toBe(
        403,
      );
    });

    it('should show one worker by id, and 404 for an unknown one', async () => {
      const all = await http(t.baseUrl, 'GET', '/api/v5/workers', { key: t.keys.admin });
      const id = all.body[2].workerId as string;
      const one = await http(t.baseUrl, 'GET', `/api/v5/workers/${id}`, { key: t.keys.auditor });
      // with its status and site changes (none here)
      expect(one.body).toEqual({ ...all.body[2], events: [] });
      const missing = await http(t.baseUrl, 'GET', '/api/v5/workers/0123456789abcdef01234567', {
        key: t.keys.admin,
      });
      expect(missing).toMatchObject({ status: 404, body: { code: 'worker_not_found' } });
      expect(
        (await http(t.baseUrl, 'GET', '/api/v5/workers/bad', { key: t.keys.admin })).status,
      ).toBe(400);
    });

    it('should list thekedars for admins only', async () => {
      const res = await http(t.baseUrl, 'GET', '/api/v5/thekedars', { key: t.keys.admin });
      expect(res.body).toEqual([
        expect.objectContaining({ name: 'Ramesh', trustScore: expect.any(Number) }),
      ]);
      expect(
        (await http(t.baseUrl, 'GET', '/api/v5/thekedars', { key: t.keys.auditor })).status,
      ).toBe(403);
    });
  });

  describe('/console', () => {
    it('should serve the built index under a strict Content-Security-Policy', async () => {
      const res = await fetch(`${t.baseUrl}/console`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const js = await fetch(`${t.baseUrl}/console/app.js`);
      expect(js.headers.get('content-type')).toContain('text/javascript');
      expect(await js.text()).toBe('console.log(1);');
    });

    it('should not serve other files or paths outside the bundle', async () => {
      for (const path of ['/console/notes.txt', '/console/..%2Fpackage.json', '/console/nope.js']) {
        const res = await http(t.baseUrl, 'GET', path);
        expect(res.status).toBe(404);
        expect(res.body).toMatchObject({ code: 'not_found', correlationId: expect.any(String) });
      }
    });

    it('should say how to build the console when it is not built', async () => {
      const empty = await startTestApp({ CONSOLE_DIR: join(consoleDir, 'missing') });
      try {
        const res = await http(empty.baseUrl, 'GET', '/console');
        expect(res.status).toBe(404);
        expect(res.body).toMatchObject({ code: 'console_not_built' });
        expect(res.body.message).toContain('npm run build');
      } finally {
        await empty.close();
      }
    });
  });
});
