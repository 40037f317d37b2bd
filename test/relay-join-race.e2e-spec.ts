import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestKiosk } from './support/kiosk';
import { connectDevice, openSession } from './support/pairing';
import { PrivateRedis } from './support/processes';
import { http, startTestApp, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

const PLATFORM_ID = 'PLT_joinRace0001';
const ROUNDS = 50;

/**
 * Issue 11 item 1: `joined` must mean "the peer, if it is there, is known". Two API instances on
 * a redis-server of the test's own; for each of 50 sessions in a row the second socket joins on the other instance and sends
 * its first frame the moment `joined` arrives. Not one may be refused with peer_not_connected.
 */
describe('relay join race across two instances (e2e)', () => {
  let dataDir: string;
  let a: TestApp;
  let b: TestApp;
  let redis: PrivateRedis;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-race-'));
    redis = await PrivateRedis.start();
    const env = { DATA_DIR: dataDir, REDIS_URL: redis.url, RELAY_RATE_BURST: '1000' };
    a = await startTestApp(env);
    b = await startTestApp(env);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await redis.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`should deliver the legacy app's first frame after joined, ${ROUNDS} sessions across instances`, async () => {
    const refusals: unknown[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
      const auth = await http(first.baseUrl, 'POST', '/auth', {
        body: { api_key: first.keys.hardware },
      });
      const hardware = await TestSocket.open(`${first.wsUrl}/ws/hardware?token=${auth.body.token}`);
      await hardware.next('joined');
      const app = await TestSocket.open(`${second.wsUrl}/ws/app?token=${auth.body.token}`);
      await app.next('joined');
      app.send({ type: 'to_hardware', data: { message: `hello ${i}` } });
      const got = await hardware.next('from_app');
      expect(got.data).toEqual({ message: `hello ${i}` });
      refusals.push(...app.frames.filter((f) => f.type === 'error'));
      hardware.close();
      app.close();
      await Promise.all([hardware.waitClose(), app.waitClose()]);
    }
    expect(refusals).toEqual([]);
  }, 120_000);

  it(`should deliver the kiosk's first frame after joined, ${ROUNDS} sessions across instances`, async () => {
    const kiosk = await TestKiosk.registered(a, 'TEE-RACE-1');
    const refusals: unknown[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
      const session = await openSession(first, PLATFORM_ID);
      const mobile = await TestSocket.open(`${first.wsUrl}/ws/mobile?token=${session.mobileToken}`);
      await mobile.next('joined');
      const device = await connectDevice(second, kiosk, session);
      await device.next('joined');
      device.send({ type: 'to_mobile', data: { progress: i } });
      expect((await mobile.next('from_device')).data).toEqual({ progress: i });
      // and the other way at once, as soon as the phone hears of the kiosk
      await mobile.next('status');
      mobile.send({ type: 'to_device', data: { step: i } });
      expect((await device.next('from_mobile')).data).toEqual({ step: i });
      refusals.push(...[...mobile.frames, ...device.frames].filter((f) => f.type === 'error'));
      mobile.close();
      device.close();
      await Promise.all([mobile.waitClose(), device.waitClose()]);
    }
    expect(refusals).toEqual([]);
  }, 120_000);
});
