import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestKiosk } from './support/kiosk';
import { connectDevice, openSession, pair } from './support/pairing';
import { ApiProcess, PrivateRedis, startApiProcess } from './support/processes';
import { http, startTestApp, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

/**
 * Long slots: refreshed every 10 s, so after Redis comes back empty the first kiosk's instance
 * would, without the resync, re-assert its slot only seconds after the second kiosk's join.
 */
const SLOT_TTL_MS = 30_000;

/** Asks until the answer is the wanted one (a state to reach, not a time to meet). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (const deadline = Date.now() + SLOT_TTL_MS + 60_000; Date.now() < deadline;) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never: ${what}`);
}

/** A second kiosk refused the session (its kiosk still connected elsewhere), never joined. */
async function expectRefused(intruder: TestSocket): Promise<void> {
  const refusal = await intruder.error('already_connected', SLOT_TTL_MS + 30_000);
  expect(refusal.message).toBe('This session already has a device socket');
  expect(await intruder.waitClose()).toBe(4409);
  expect(intruder.frames.filter((f) => f.type === 'joined')).toEqual([]);
}

/**
 * The first pairing untouched: it still relays, both ways, across the instances, and the phone
 * was told of no other kiosk; then closed.
 */
async function expectFirstPairingRelays(mobile: TestSocket, device: TestSocket): Promise<void> {
  device.send({ type: 'to_mobile', data: { still: 'first' } });
  expect((await mobile.next('from_device')).data).toEqual({ still: 'first' });
  mobile.send({ type: 'to_device', data: { hello: 'first' } });
  expect((await device.next('from_mobile')).data).toEqual({ hello: 'first' });
  expect(device.closeCode).toBeUndefined();
  expect(device.frames.filter((f) => f.type === 'error')).toEqual([]);
  expect(mobile.frames.filter((f) => f.type === 'status')).toEqual([]);
  mobile.close();
  device.close();
}

/**
 * Outside tester's finding 3: a Redis restarted empty loses every relay slot. A second kiosk with
 * the session's QR token must not take a session whose kiosk is still connected on another
 * instance: its join waits until the holders re-assert their slots, then it is refused.
 */
describe('relay slots after Redis comes back empty (e2e)', () => {
  let dataDir: string;
  let redis: PrivateRedis;
  let a: ApiProcess;
  let b: TestApp;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-resync-'));
    redis = await PrivateRedis.start();
    const env = { DATA_DIR: dataDir, REDIS_URL: redis.url, RELAY_SLOT_TTL_MS: String(SLOT_TTL_MS) };
    b = await startTestApp(env);
    a = await startApiProcess(env);
  });
  afterAll(async () => {
    a?.child.kill('SIGCONT');
    await a?.kill();
    await b?.close();
    await redis?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should refuse a second kiosk right after the restart and keep the first pairing relaying', async () => {
    const first = await TestKiosk.registered(b, 'TEE-RESYNC-1');
    const second = await TestKiosk.registered(b, 'TEE-RESYNC-2');
    const session = await openSession(b, 'PLT_resync000001');
    // the phone on b, the first kiosk on a
    const { mobile, device } = await pair(b, { wsUrl: a.wsUrl } as TestApp, first, session);

    await redis.kill();
    await redis.restart();
    for (const app of [a, b])
      await eventually(
        async () => (await http(app.baseUrl, 'GET', '/health')).status === 200,
        'health back up',
      );

    // the second kiosk, on the phone's instance, with the QR token and a valid signature
    await expectRefused(await connectDevice(b, second, session));
    await expectFirstPairingRelays(mobile, device);
  }, 180_000);

  it("should hold the second kiosk's join until the first kiosk's instance, back later, re-asserts its slot", async () => {
    const first = await TestKiosk.registered(b, 'TEE-RESYNC-3');
    const second = await TestKiosk.registered(b, 'TEE-RESYNC-4');
    const session = await openSession(b, 'PLT_resync000002');
    // the first restart's resync window is over (a free slot is handed out again at once)
    const client = new Redis(redis.url);
    await eventually(async () => (await client.exists('mdai:relay:resync')) === 0, 'resynced');
    client.disconnect();
    const { mobile, device } = await pair(b, { wsUrl: a.wsUrl } as TestApp, first, session);
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      // the first kiosk's instance cannot re-assert anything while Redis comes back empty
      a.child.kill('SIGSTOP');
      await redis.kill();
      await redis.restart();
      await eventually(
        async () => (await http(b.baseUrl, 'GET', '/health')).status === 200,
        'health back up',
      );

      const intruder = await connectDevice(b, second, session);
      await eventually(
        async () => warn.mock.calls.some((call) => /^Join held/.test(String(call[1]))),
        "b holds the second kiosk's join",
      );
      a.child.kill('SIGCONT');

      await expectRefused(intruder);
    } finally {
      a.child.kill('SIGCONT');
      warn.mockRestore();
    }
    await eventually(
      async () => (await http(a.baseUrl, 'GET', '/health')).status === 200,
      'health back up',
    );
    await expectFirstPairingRelays(mobile, device);
  }, 180_000);
});
