import { MetricsRegistry } from '@app/common';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { InProcessRelayBus } from './bus/in-process-relay-bus';
import { presenceFrame, RelayDelivery } from './relay-delivery';
import { RelayConnection } from './relay-connection';
import { relayConfig } from './relay.config';
import { RelayMetrics } from './relay.metrics';

/** A real socket pair on a local port: the server side for the connection, the client reads. */
async function socketPair(
  server: WebSocketServer,
): Promise<{ serverSide: WebSocket; received: unknown[] }> {
  const { port } = server.address() as AddressInfo;
  const serverSide = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  const received: unknown[] = [];
  client.on('message', (data: Buffer) => received.push(JSON.parse(data.toString())));
  await new Promise((resolve) => client.once('open', resolve));
  return { serverSide: await serverSide, received };
}

/** Waits for a state (gives up after 10 s: the expectation after it then says what came). */
async function until(condition: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !condition() && Date.now() < deadline;)
    await new Promise((resolve) => setTimeout(resolve, 10));
}

describe("RelayDelivery: the phone and its session's kiosk", () => {
  let server: WebSocketServer;

  beforeAll(async () => {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
  });
  afterAll(async () => {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });

  it('should tell the phone when another kiosk now holds the session, and not repeat a same one', async () => {
    const delivery = new RelayDelivery(
      new InProcessRelayBus(),
      new RelayMetrics(new MetricsRegistry()),
      relayConfig.read({}),
    );
    const { serverSide, received } = await socketPair(server);
    const phone = new RelayConnection(
      'p:1',
      'mobile',
      serverSide,
      's1',
      new Date(Date.now() + 60_000),
      {
        perSecond: 100,
        burst: 100,
      },
    );
    await delivery.register(phone);
    const kioskJoined = (deviceId: string) => ({
      to: 'mobile' as const,
      text: JSON.stringify(presenceFrame('device', true, deviceId)),
      peer: { role: 'device' as const, present: true, deviceId },
    });

    delivery.onEnvelope('s1', kioskJoined('TEE-FIRST'));
    delivery.onEnvelope('s1', kioskJoined('TEE-FIRST'));
    delivery.onEnvelope('s1', kioskJoined('TEE-SECOND'));
    await until(() => received.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(received).toEqual([
      { type: 'status', peer: 'device', state: 'connected', device_id: 'TEE-FIRST' },
      { type: 'status', peer: 'device', state: 'connected', device_id: 'TEE-SECOND' },
    ]);
    expect(phone.deviceId).toBe('TEE-SECOND');
  });
});
