import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeUpstream, fakeJpeg, startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { TestKiosk } from './support/kiosk';
import { connectDevice, openSession, pair } from './support/pairing';
import { http, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PLATFORM_ID = 'PLT_scaleOut42';

/**
 * Two API instances (same store, the Redis on 127.0.0.1:6379): the phone on instance A, its
 * kiosk on instance B, paired and relayed through Redis pub/sub.
 */
describe('relay across two instances through Redis (e2e)', () => {
  let dataDir: string;
  let relay: UpstreamApps;
  let a: TestApp;
  let b: TestApp;
  let upstream: FakeUpstream;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-redis-'));
    relay = await startUpstreamApps({
      apps: 2,
      env: { DATA_DIR: dataDir, REDIS_URL, UPSTREAM_API_KEY: 'k' },
    });
    [a, b] = relay.apps;
    upstream = relay.upstream;
  });
  afterAll(async () => {
    await relay.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should report Redis in /health', async () => {
    const health = await http(a.baseUrl, 'GET', '/health', { key: a.keys.admin });
    expect(health.body.info.redis.status).toBe('up');
  });

  it('should pair, relay both ways and deliver the result with mobile on A and device on B', async () => {
    const kiosk = await TestKiosk.registered(a, 'TEE-REDIS-1');
    const session = await openSession(a, PLATFORM_ID);
    const { mobile, device } = await pair(a, b, kiosk, session);
    mobile.send({ type: 'to_device', data: { step: 1, platform_id: PLATFORM_ID } });
    expect(await device.next('from_mobile')).toEqual({ type: 'from_mobile', data: { step: 1 } });
    device.send({ type: 'to_mobile', data: { progress: 5 } });
    expect(await mobile.next('from_device')).toEqual({
      type: 'from_device',
      data: { progress: 5 },
    });
    device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
    expect(await mobile.next('result')).toMatchObject({
      status: 'success',
      platform_id: PLATFORM_ID,
    });
    expect((await device.next('result')).platform_id).toBeUndefined();
    await mobile.next('session_closed');
    expect(await mobile.waitClose()).toBe(1000);
    expect(await device.waitClose()).toBe(1000);
    expect(device.raw.join('')).not.toContain(PLATFORM_ID);
  });

  it('should refuse a second device on the other instance and announce departures across instances', async () => {
    const kiosk = await TestKiosk.registered(a, 'TEE-REDIS-2');
    const session = await openSession(b, PLATFORM_ID);
    const { mobile, device } = await pair(b, a, kiosk, session);
    const second = await connectDevice(b, kiosk, session);
    await second.error('already_connected');
    device.close();
    expect(await mobile.next('status')).toEqual({
      type: 'status',
      peer: 'device',
      state: 'disconnected',
    });
    mobile.send({ type: 'to_device', data: {} });
    await mobile.error('peer_not_connected');
    mobile.close();
  });

  it('should pair legacy sockets across instances too', async () => {
    const auth = await http(a.baseUrl, 'POST', '/auth', { body: { api_key: a.keys.hardware } });
    const hardware = await TestSocket.open(`${a.wsUrl}/ws/hardware?token=${auth.body.token}`);
    await hardware.next('joined');
    const app = await TestSocket.open(`${b.wsUrl}/ws/app?token=${auth.body.token}`);
    await app.next('joined');
    await hardware.next('status');
    app.send({ type: 'to_hardware', data: { platform_id: PLATFORM_ID } });
    const alias = (await hardware.next('from_app')).data.platform_id;
    expect(alias).toMatch(/^PLT_ALIAS_/);
    hardware.send({
      type: 'to_backend',
      data: { platform_id: alias, image_base64: fakeJpeg().toString('base64') },
    });
    expect((await app.next('backend_response')).status_code).toBe(200);
    expect(upstream.calls.at(-1)?.body.platform_id).toBe(PLATFORM_ID);
    hardware.close();
    app.close();
  });
});
