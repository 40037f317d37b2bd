import { randomBytes } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { WebSocketServer } from 'ws';
import { RelayWsAdapter, UpgradeGate } from './relay-ws.adapter';

/** What came back on a raw connection, until the server closed it. */
interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function upgradeRequest(path: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
    'x-correlation-id: drain-test-1\r\n\r\n'
  );
}

/** Opens a connection to `server`, sends `request`, and returns what it read until the close. */
function send(server: Server, request: string): Promise<RawAnswer> {
  const { port } = server.address() as AddressInfo;
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    const done = (): void => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = text.slice(0, Math.max(split, 0)).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({
        status: Number(statusLine.split(' ')[1]),
        headers,
        body: split < 0 ? text : text.slice(split + 4),
      });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', done);
    socket.on('close', done);
    socket.once('connect', () => socket.write(request));
  });
}

function expectJson503(answer: RawAnswer): void {
  expect(answer.status).toBe(503);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(answer.headers['connection']).toBe('close');
  expect(Number(answer.headers['content-length'])).toBe(Buffer.byteLength(answer.body));
  expect(JSON.parse(answer.body)).toEqual({
    statusCode: 503,
    code: 'service_unavailable',
    message: expect.stringMatching(/shutting down/),
    correlationId: 'drain-test-1',
  });
  expect(answer.headers['x-correlation-id']).toBe('drain-test-1');
}

/**
 * The adapter on a real HTTP server, as Nest's close drives it (`close(server)` for each socket
 * server, at the app's close): an upgrade still under way when the sockets start closing was
 * answered by `ws` itself, `503` with a bare text/html body, where every other refusal of an
 * upgrade carries the API's JSON error body.
 */
describe('RelayWsAdapter while the sockets close', () => {
  let server: Server;

  beforeEach(async () => {
    server = createServer((_request, response) => response.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('should answer an upgrade whose rate-limit check ends after the close began 503 with the JSON error body', async () => {
    // the per-IP check (UpgradeThrottle: a Redis round trip) is under way when the close begins
    let asked!: () => void;
    const gateAsked = new Promise<void>((resolve) => (asked = resolve));
    let answerGate!: (wait: number | undefined) => void;
    const gate: UpgradeGate = () => {
      asked();
      return new Promise((resolve) => (answerGate = resolve));
    };
    const adapter = new RelayWsAdapter(server, gate);
    const sockets = adapter.create(0, { path: '/ws/test' }) as WebSocketServer;
    const answer = send(server, upgradeRequest('/ws/test'));
    await gateAsked;
    const closed = adapter.close(sockets);
    answerGate(undefined);
    expectJson503(await answer);
    await closed;
  });

  it('should answer an upgrade that arrives once the close began 503 with the JSON error body', async () => {
    const adapter = new RelayWsAdapter(server);
    const sockets = adapter.create(0, { path: '/ws/test' }) as WebSocketServer;
    await adapter.close(sockets);
    expectJson503(await send(server, upgradeRequest('/ws/test')));
  });
});
