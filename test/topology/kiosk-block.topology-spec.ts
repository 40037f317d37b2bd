import { TestKiosk } from '../support/kiosk';
import { connectDevice, openSession } from '../support/pairing';
import { http, pollUntil, TestApp } from '../support/test-app';
import { TestSocket } from '../support/ws-client';
import { Replica, Topology } from './support/stack';

const PLATFORM_ID = 'PLT_topologyBlock01';

/** The kiosk sockets a replica holds now (its own gauge, scraped on the replica itself). */
async function deviceSockets(replica: Replica): Promise<number> {
  const metrics = String((await http(replica.baseUrl, 'GET', '/metrics')).body);
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith('mdai_relay_connections{role="device"} '));
  return line ? Number(line.split(' ')[1]) : 0;
}

/**
 * A kiosk blocked while it is in a session, in the production topology (docker-compose.yml:
 * nginx running deploy/nginx.conf, two replicas, Redis, MongoDB): the kiosk's socket came in
 * through nginx and landed on one replica; the admin's block lands on the other. The block
 * crosses Redis (the kiosk notice), the kiosk loses its session (`device_blocked`, 4403) and the
 * phone is told (`session_closed`, 4409).
 */
describe('the production topology: a kiosk blocked on the replica its socket is not on', () => {
  let stack: Topology;
  let proxy: TestApp;

  beforeAll(async () => {
    stack = new Topology();
    try {
      await stack.start();
    } catch (error) {
      const logs = stack.logs();
      await stack.stop();
      throw new Error(`${(error as Error).message}\n${logs}`);
    }
    proxy = {
      baseUrl: stack.proxyUrl,
      wsUrl: stack.proxyUrl.replace(/^http/, 'ws'),
      keys: stack.keys,
    } as TestApp;
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it("should end the kiosk's session (device_blocked, 4403) and send the phone session_closed", async () => {
    const kiosk = await TestKiosk.registered(proxy, `TEE-TOPO-BLOCK-${Date.now()}`);
    const session = await openSession(proxy, PLATFORM_ID);
    const mobile = await TestSocket.open(`${proxy.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    await mobile.next('joined');
    const device = await connectDevice(proxy, kiosk, session);
    await device.next('joined');
    expect(await mobile.next('status')).toMatchObject({ peer: 'device', state: 'connected' });

    // nginx chose the kiosk's replica: the admin's block goes to the other one
    const held = await Promise.all(stack.replicas.map(deviceSockets));
    expect([...held].sort()).toEqual([0, 1]);
    const other = stack.replicas[held.indexOf(0)];
    const blocked = await http(other.baseUrl, 'POST', `/api/kiosks/${kiosk.deviceId}/block`, {
      key: stack.keys.admin,
      body: { reason: 'reported stolen' },
    });
    expect(blocked.status).toBe(200);

    await device.error('device_blocked');
    expect(await device.waitClose()).toBe(4403);
    expect(await mobile.next('session_closed')).toEqual({
      type: 'session_closed',
      reason: 'device_blocked',
    });
    expect(await mobile.waitClose()).toBe(4409);
    expect(device.raw.join('')).not.toContain(PLATFORM_ID);
    const left = () => Promise.all(stack.replicas.map(deviceSockets));
    expect(await pollUntil(left, (counts) => counts.every((n) => n === 0))).toEqual([0, 0]);

    // and it stays out: a new session's auth is refused wherever nginx sends it
    const next = await openSession(proxy, PLATFORM_ID);
    const again = await connectDevice(proxy, kiosk, next);
    await again.error('device_blocked');
    expect(await again.waitClose()).toBe(4403);
  });
});
