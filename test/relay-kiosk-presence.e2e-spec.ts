import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestKiosk } from './support/kiosk';
import { connectDevice, openSession, pair } from './support/pairing';
import { ApiProcess, PrivateRedis, startApiProcess } from './support/processes';
import { http, startTestApp, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PLATFORM_ID = 'PLT_presence0001';

const connected = async (t: TestApp, ids: string[], key = t.keys.admin) => {
  const query = ids.map((id) => `deviceId=${encodeURIComponent(id)}`).join('&');
  return http(t.baseUrl, 'GET', `/api/v5/relay/kiosks/connected?${query}`, { key });
};

/**
 * The answer for these ids once it settles to `want` (a socket's close reaches the server
 * later), or the last one after a minute (a loaded machine settles in seconds).
 */
const settlesTo = async (t: TestApp, ids: string[], want: boolean[]) => {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    const res = await connected(t, ids);
    const got = (res.body.kiosks as Array<{ connected: boolean }>).map((k) => k.connected);
    if (JSON.stringify(got) === JSON.stringify(want)) return got;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return (await connected(t, ids)).body.kiosks.map((k: { connected: boolean }) => k.connected);
};

describe('GET /api/v5/relay/kiosks/connected (e2e)', () => {
  describe('one instance', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp();
    });
    afterAll(async () => {
      await t.close();
    });

    it('should say true while a kiosk is in a session and false once it left', async () => {
      const kiosk = await TestKiosk.registered(t, 'TEE-PRESENCE-1');
      const other = await TestKiosk.registered(t, 'TEE-PRESENCE-2');
      const ids = [kiosk.deviceId, other.deviceId, 'NEVER-REGISTERED'];
      const before = await connected(t, ids);
      expect(before.status).toBe(200);
      expect(before.body).toEqual({
        kiosks: ids.map((deviceId) => ({ deviceId, connected: false })),
      });

      const session = await openSession(t, PLATFORM_ID);
      const { mobile, device } = await pair(t, t, kiosk, session);
      expect((await connected(t, ids)).body.kiosks).toEqual([
        { deviceId: kiosk.deviceId, connected: true },
        { deviceId: other.deviceId, connected: false },
        { deviceId: 'NEVER-REGISTERED', connected: false },
      ]);
      // the phone alone does not make a kiosk connected, nor does leaving it make it go
      mobile.close();
      await device.next('status');
      expect(await settlesTo(t, [kiosk.deviceId], [true])).toEqual([true]);

      device.close();
      expect(await device.waitClose()).toBeDefined();
      expect(await settlesTo(t, [kiosk.deviceId], [false])).toEqual([false]);
    });

    it('should not count a kiosk socket before it authenticated, nor one that failed to', async () => {
      const kiosk = await TestKiosk.registered(t, 'TEE-PRESENCE-3');
      const session = await openSession(t, PLATFORM_ID);
      const waiting = await TestSocket.open(`${t.wsUrl}/ws/device?token=${session.deviceToken}`);
      await waiting.next('challenge');
      expect((await connected(t, [kiosk.deviceId])).body.kiosks[0].connected).toBe(false);
      waiting.close();

      const impostor = new TestKiosk(kiosk.deviceId);
      const refused = await connectDevice(t, impostor, await openSession(t, PLATFORM_ID));
      await refused.error('invalid_signature');
      expect((await connected(t, [kiosk.deviceId])).body.kiosks[0].connected).toBe(false);
    });

    it('should answer each distinct id once, in the order asked', async () => {
      const res = await connected(t, ['B-1', 'A-1', 'B-1']);
      expect(res.body.kiosks.map((k: { deviceId: string }) => k.deviceId)).toEqual(['B-1', 'A-1']);
    });

    it('should open to admin and provisioner keys only', async () => {
      expect((await connected(t, ['X-1'], t.keys.provisioner)).status).toBe(200);
      for (const role of ['auditor', 'mobile', 'hardware'] as const) {
        const res = await connected(t, ['X-1'], t.keys[role]);
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('forbidden');
      }
      const anonymous = await http(t.baseUrl, 'GET', '/api/v5/relay/kiosks/connected?deviceId=X');
      expect(anonymous.status).toBe(401);
    });

    it.each([
      ['no id', ''],
      ['an empty id', 'deviceId='],
      ['an id of the wrong shape', 'deviceId=%2Fetc%2Fpasswd'],
      ['an id too long', `deviceId=${'A'.repeat(129)}`],
      ['an object', 'deviceId[a]=b'],
      ['101 ids', Array.from({ length: 101 }, (_, i) => `deviceId=K-${i}`).join('&')],
    ])('should refuse %s with 400 and the error body', async (_, query) => {
      const res = await http(t.baseUrl, 'GET', `/api/v5/relay/kiosks/connected?${query}`, {
        key: t.keys.admin,
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        code: expect.any(String),
        correlationId: expect.any(String),
      });
    });

    it('should take a full page of 100 ids', async () => {
      const ids = Array.from({ length: 100 }, (_, i) => `PAGE-${i}`);
      const res = await connected(t, ids);
      expect(res.status).toBe(200);
      expect(res.body.kiosks).toHaveLength(100);
    });
  });

  describe('two instances through Redis', () => {
    let dataDir: string;
    let a: TestApp;
    let b: TestApp;
    // Redis is shared: ids unique to this run
    const suffix = randomBytes(4).toString('hex').toUpperCase();

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'mdai-presence-'));
      a = await startTestApp({ DATA_DIR: dataDir, REDIS_URL });
      b = await startTestApp({ DATA_DIR: dataDir, REDIS_URL });
    });
    afterAll(async () => {
      await a.close();
      await b.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('should show on A a kiosk connected to B, and its departure', async () => {
      const kiosk = await TestKiosk.registered(a, `TEE-PRESENCE-R-${suffix}`);
      const idle = `TEE-PRESENCE-IDLE-${suffix}`;
      const session = await openSession(a, PLATFORM_ID);
      const { mobile, device } = await pair(a, b, kiosk, session);
      expect((await connected(a, [kiosk.deviceId, idle])).body.kiosks).toEqual([
        { deviceId: kiosk.deviceId, connected: true },
        { deviceId: idle, connected: false },
      ]);
      expect((await connected(b, [kiosk.deviceId])).body.kiosks[0].connected).toBe(true);
      device.close();
      expect(await settlesTo(a, [kiosk.deviceId], [false])).toEqual([false]);
      mobile.close();
    });

    it('should drop the kiosks of an instance that stopped', async () => {
      const kiosk = await TestKiosk.registered(a, `TEE-PRESENCE-S-${suffix}`);
      const c = await startTestApp({ DATA_DIR: dataDir, REDIS_URL });
      const session = await openSession(a, PLATFORM_ID);
      await pair(a, c, kiosk, session);
      expect((await connected(a, [kiosk.deviceId])).body.kiosks[0].connected).toBe(true);
      await c.close({ keepData: true });
      expect(await settlesTo(a, [kiosk.deviceId], [false])).toEqual([false]);
    });
  });

  describe('an instance crashing, and Redis going away and coming back', () => {
    let dataDir: string;
    let redis: PrivateRedis;
    let a: TestApp;
    let crashing: ApiProcess;

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'mdai-presence-crash-'));
      redis = await PrivateRedis.start();
      // short, to see a killed instance's kiosks go within the test; not so short that a stall
      // of this process (refreshing every third of it) lets a live socket's slot expire
      const env = { DATA_DIR: dataDir, REDIS_URL: redis.url, RELAY_SLOT_TTL_MS: '3000' };
      a = await startTestApp(env);
      crashing = await startApiProcess(env);
    });
    afterAll(async () => {
      await crashing?.kill();
      await a?.close();
      await redis?.kill();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('should drop the kiosks of a killed instance within the slot TTL', async () => {
      const kiosk = await TestKiosk.registered(a, 'TEE-PRESENCE-CRASH');
      const session = await openSession(a, PLATFORM_ID);
      // the kiosk's socket on the other process
      const device = await connectDevice({ ...a, wsUrl: crashing.wsUrl }, kiosk, session);
      await device.next('joined');
      expect((await connected(a, [kiosk.deviceId])).body.kiosks[0].connected).toBe(true);
      await crashing.kill(); // SIGKILL: no goodbye, the sorted-set member just stops being refreshed
      expect(await settlesTo(a, [kiosk.deviceId], [false])).toEqual([false]);
    });

    it('should answer 503 bus_unavailable while Redis is down, and its own kiosks again once it is back', async () => {
      const kiosk = await TestKiosk.registered(a, 'TEE-PRESENCE-OUTAGE');
      const session = await openSession(a, PLATFORM_ID);
      const device = await connectDevice(a, kiosk, session);
      await device.next('joined');
      expect((await connected(a, [kiosk.deviceId])).body.kiosks[0].connected).toBe(true);

      await redis.kill();
      const down = await connected(a, [kiosk.deviceId]);
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({
        code: 'bus_unavailable',
        correlationId: expect.any(String),
      });

      // a fresh, empty Redis: the instance writes its kiosk sockets again on its refresh
      await redis.restart();
      expect(await settlesTo(a, [kiosk.deviceId], [true])).toEqual([true]);
      device.close();
      expect(await settlesTo(a, [kiosk.deviceId], [false])).toEqual([false]);
    });
  });
});
