import Redis from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeJpeg, startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { TestKiosk } from './support/kiosk';
import { openSession, pair } from './support/pairing';
import { http, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PLATFORM_ID = 'PLT_revokedKiosk01';

const block = (t: TestApp, deviceId: string) =>
  http(t.baseUrl, 'POST', `/api/kiosks/${deviceId}/block`, {
    key: t.keys.admin,
    body: { reason: 'reported stolen' },
  });

const rotate = (t: TestApp, deviceId: string) =>
  http(t.baseUrl, 'POST', `/api/kiosks/${deviceId}/rotate-key`, {
    key: t.keys.admin,
    body: { public_key: new TestKiosk(deviceId).publicKeyPem, reason: 'board replaced' },
  });

/** The kiosk's socket closed with the error of `code`, the phone told the session is over. */
async function expectEnded(
  mobile: TestSocket,
  device: TestSocket,
  code: 'device_blocked' | 'device_key_rotated',
  kioskClose: number,
): Promise<void> {
  await device.error(code);
  expect(await device.waitClose()).toBe(kioskClose);
  expect(await mobile.next('session_closed')).toEqual({ type: 'session_closed', reason: code });
  expect(await mobile.waitClose()).toBe(4409);
}

/**
 * A kiosk blocked, or its key rotated, while it is in a session: the session ends (HIGH 1 of
 * the outside review), on the kiosk's instance wherever the admin call lands, and no image of
 * it reaches the upstream even when the kick could not reach its instance.
 */
describe('kiosk blocked or re-keyed during a session (e2e)', () => {
  describe('one instance', () => {
    let relay: UpstreamApps;
    let t: TestApp;
    beforeAll(async () => {
      relay = await startUpstreamApps({ env: { UPSTREAM_API_KEY: 'k' } });
      t = relay.t;
    });
    afterAll(() => relay.close());
    beforeEach(() => relay.reset({ behaviour: true }));

    it('should close the kiosk (device_blocked, 4403) and tell the phone when the kiosk is blocked', async () => {
      const kiosk = await TestKiosk.registered(t, 'TEE-REVOKE-1');
      const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
      expect((await block(t, kiosk.deviceId)).status).toBe(200);
      // sent at once, maybe before the kick reaches the kiosk: neither it nor the standing check
      // lets the image through
      device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
      await expectEnded(mobile, device, 'device_blocked', 4403);
      expect(relay.upstream.calls).toHaveLength(0);
    });

    it('should close the kiosk (device_key_rotated, 4401) and tell the phone when its key is rotated', async () => {
      const kiosk = await TestKiosk.registered(t, 'TEE-REVOKE-2');
      const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
      expect((await rotate(t, kiosk.deviceId)).status).toBe(200);
      await expectEnded(mobile, device, 'device_key_rotated', 4401);
    });

    it("should give the phone the upstream's verdict when the kiosk is blocked while its image is out", async () => {
      const kiosk = await TestKiosk.registered(t, 'TEE-REVOKE-7');
      const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
      let called!: () => void;
      const reached = new Promise<void>((resolve) => (called = resolve));
      let release!: () => void;
      const hold = new Promise<void>((resolve) => (release = resolve));
      relay.upstream.behaviour = () => {
        called();
        return { status: 200, body: { status: 'success', message: 'face verified' }, hold };
      };
      device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
      await reached;
      expect((await block(t, kiosk.deviceId)).status).toBe(200);
      // the kiosk leaves at once; the phone waits for the verdict the upstream is deciding
      await device.error('device_blocked');
      expect(await device.waitClose()).toBe(4403);
      release();
      expect(await mobile.next('result')).toMatchObject({
        status: 'success',
        platform_id: PLATFORM_ID,
        data: { status: 'success', message: 'face verified' },
      });
      expect(await mobile.next('session_closed')).toEqual({
        type: 'session_closed',
        reason: 'completed',
      });
      expect(await mobile.waitClose()).toBe(1000);
      expect(relay.upstream.calls).toHaveLength(1);
    });

    it("should leave another kiosk's session alone", async () => {
      const kiosk = await TestKiosk.registered(t, 'TEE-REVOKE-3');
      const other = await TestKiosk.registered(t, 'TEE-REVOKE-3B');
      const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
      expect((await block(t, other.deviceId)).status).toBe(200);
      device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
      expect(await mobile.next('result')).toMatchObject({ status: 'success' });
      expect(await device.next('session_closed')).toEqual({
        type: 'session_closed',
        reason: 'completed',
      });
    });
  });

  describe('two instances', () => {
    let dataDir: string;
    let relay: UpstreamApps;
    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'mdai-revoke-'));
      relay = await startUpstreamApps({
        apps: 0,
        env: { DATA_DIR: dataDir, UPSTREAM_API_KEY: 'k' },
      });
    });
    afterAll(async () => {
      await relay.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    beforeEach(() => relay.reset({ behaviour: true }));

    it("should end the session on the kiosk's instance when the block lands on another (Redis)", async () => {
      const a = await relay.start({ REDIS_URL });
      const b = await relay.start({ REDIS_URL });
      try {
        const kiosk = await TestKiosk.registered(a, 'TEE-REVOKE-4');
        const { mobile, device } = await pair(a, b, kiosk, await openSession(a, PLATFORM_ID));
        expect((await block(a, kiosk.deviceId)).status).toBe(200);
        await expectEnded(mobile, device, 'device_blocked', 4403);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('should close nothing on a forged or malformed kiosk notice published on Redis', async () => {
      const a = await relay.start({ REDIS_URL });
      const b = await relay.start({ REDIS_URL });
      const redis = new Redis(REDIS_URL);
      try {
        const kiosk = await TestKiosk.registered(a, 'TEE-REVOKE-9');
        // the phone on A, the kiosk on B: the frames between them cross Redis after the notices
        const { mobile, device } = await pair(a, b, kiosk, await openSession(a, PLATFORM_ID));
        const forged = [
          { deviceId: kiosk.deviceId, change: 'blocked' },
          { deviceId: kiosk.deviceId, change: 'key_rotated' },
          { deviceId: kiosk.deviceId, change: 'nuked' },
          { deviceId: kiosk.deviceId },
        ];
        for (const notice of forged)
          await redis.publish('mdai:relay:kiosks', JSON.stringify(notice));
        await redis.publish('mdai:relay:kiosks', 'not json');
        mobile.send({ type: 'to_device', data: { step: 'after the notices' } });
        expect(await device.next('from_mobile')).toEqual({
          type: 'from_mobile',
          data: { step: 'after the notices' },
        });
        device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
        expect(await mobile.next('result')).toMatchObject({ status: 'success' });
        expect(await device.next('result')).toMatchObject({ status: 'success' });
        expect(device.frames.filter((f) => f.type === 'error')).toEqual([]);
      } finally {
        redis.disconnect();
        await a.close();
        await b.close();
      }
    });

    it('should refuse the submission of a kiosk blocked on an instance that could not tell (no bus between them)', async () => {
      // two instances without Redis: the block on A cannot reach B's sockets; B's standing
      // check before the upstream call is what stops the image
      const a = await relay.start();
      const b = await relay.start();
      try {
        const kiosk = await TestKiosk.registered(a, 'TEE-REVOKE-5');
        const { mobile, device } = await pair(b, b, kiosk, await openSession(b, PLATFORM_ID));
        expect((await block(a, kiosk.deviceId)).status).toBe(200);
        device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
        await expectEnded(mobile, device, 'device_blocked', 4403);
        expect(relay.upstream.calls).toHaveLength(0);

        const rekeyed = await TestKiosk.registered(a, 'TEE-REVOKE-6');
        const second = await pair(b, b, rekeyed, await openSession(b, PLATFORM_ID));
        expect((await rotate(a, rekeyed.deviceId)).status).toBe(200);
        second.device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
        await expectEnded(second.mobile, second.device, 'device_key_rotated', 4401);
        expect(relay.upstream.calls).toHaveLength(0);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});
