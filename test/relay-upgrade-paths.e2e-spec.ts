import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { RELAY_PATHS } from '@app/relay';
import { http, startTestApp, TestApp } from './support/test-app';

/** What came back on a raw connection: the status line, the headers, the body, until the server closed. */
interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection (end or reset) after, or instead of, an answer. */
  closed: boolean;
}

/**
 * Sends `request` on a fresh TCP connection and reads until the server closes it: what a
 * client sees at the socket, with no HTTP client in between (none of them reports a server
 * that closes without a word as anything but an error).
 */
async function raw(baseUrl: string, request: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.once('connect', () => socket.write(request));
  });
  const text = Buffer.concat(chunks).toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) return { status: 0, headers: {}, body: text, closed: true };
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: text.slice(split + 4),
    closed: true,
  };
}

function bodyCode(answer: RawAnswer): unknown {
  return (JSON.parse(answer.body) as { code?: unknown }).code;
}

function upgradeRequest(path: string, host: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`
  );
}

describe('WebSocket upgrades on paths no socket is at (e2e)', () => {
  let t: TestApp;
  let host: string;

  beforeAll(async () => {
    t = await startTestApp();
    host = new URL(t.baseUrl).host;
  });
  afterAll(() => t.close());

  it('should answer an upgrade to an unknown path 404 with the JSON error body and Connection: close', async () => {
    for (const path of ['/ws/nope', '/ws/device/extra', '/nope', '/ws/nope?token=secret-token-1']) {
      const answer = await raw(t.baseUrl, upgradeRequest(path, host));
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
      expect(answer.headers['connection']).toBe('close');
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(Number(answer.headers['content-length'])).toBe(Buffer.byteLength(answer.body));
      const body = JSON.parse(answer.body) as Record<string, unknown>;
      expect(body).toMatchObject({ statusCode: 404, code: 'not_found' });
      expect(typeof body.message).toBe('string');
      expect(body.correlationId).toBe(answer.headers['x-correlation-id']);
      // the query (a token, maybe) is not echoed
      expect(answer.body).not.toContain('secret-token-1');
    }
  });

  it('should answer with the same code as an HTTP request to an unknown route', async () => {
    const plain = await http(t.baseUrl, 'GET', '/ws/nope');
    const upgrade = JSON.parse((await raw(t.baseUrl, upgradeRequest('/ws/nope', host))).body) as {
      statusCode: number;
      code: string;
    };
    expect([upgrade.statusCode, upgrade.code]).toEqual([plain.status, plain.body.code]);
  });

  it("should echo the client's well-formed x-correlation-id", async () => {
    const request = upgradeRequest('/ws/nope', host).replace(
      '\r\n\r\n',
      '\r\nx-correlation-id: trace-upgrade-42\r\n\r\n',
    );
    const answer = await raw(t.baseUrl, request);
    expect(answer.headers['x-correlation-id']).toBe('trace-upgrade-42');
    expect(JSON.parse(answer.body)).toMatchObject({ correlationId: 'trace-upgrade-42' });
  });

  it('should answer 400 with the JSON error body to an upgrade whose target is not a URL', async () => {
    const answer = await raw(t.baseUrl, upgradeRequest('http://[::1/ws/device', host));
    expect(answer.status).toBe(400);
    expect(answer.headers['connection']).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ statusCode: 400, code: 'bad_request' });
  });

  it('should answer an HTTP/1.1 upgrade without Host 400 malformed_request, as an HTTP request, before the handshake', async () => {
    const plain = bodyCode(await raw(t.baseUrl, 'GET /health HTTP/1.1\r\n\r\n'));
    for (const path of [...Object.values(RELAY_PATHS), '/ws/nope']) {
      const answer = await raw(
        t.baseUrl,
        upgradeRequest(path, host).replace(`Host: ${host}\r\n`, ''),
      );
      expect({ path, status: answer.status }).toEqual({ path, status: 400 });
      expect(answer.headers['connection']).toBe('close');
      expect(answer.headers['upgrade']).toBeUndefined();
      expect(JSON.parse(answer.body)).toMatchObject({
        statusCode: 400,
        code: 'malformed_request',
        correlationId: answer.headers['x-correlation-id'],
      });
      expect(bodyCode(answer)).toBe(plain);
    }
  });

  it('should answer a malformed upgrade to a socket path 4xx with the JSON error body, not text', async () => {
    const key = `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n`;
    const cases: [string, string, number, string][] = [
      // what `ws` refuses before the handshake: each was a bare text/html line
      [
        'version',
        `Upgrade: websocket\r\nConnection: Upgrade\r\n${key}Sec-WebSocket-Version: 99\r\n`,
        400,
        'bad_request',
      ],
      [
        'no key',
        'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n',
        400,
        'bad_request',
      ],
      [
        'upgrade',
        `Upgrade: websocketz\r\nConnection: Upgrade\r\n${key}Sec-WebSocket-Version: 13\r\n`,
        400,
        'bad_request',
      ],
      [
        'protocol',
        `Upgrade: websocket\r\nConnection: Upgrade\r\n${key}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a,,b\r\n`,
        400,
        'bad_request',
      ],
    ];
    for (const [name, headers, status, code] of cases) {
      const answer = await raw(
        t.baseUrl,
        `GET /ws/device HTTP/1.1\r\nHost: ${host}\r\n${headers}\r\n`,
      );
      expect({ name, status: answer.status }).toEqual({ name, status });
      expect({ name, type: answer.headers['content-type'] }).toEqual({
        name,
        type: expect.stringMatching(/^application\/json/),
      });
      expect(answer.headers['connection']).toBe('close');
      const body = JSON.parse(answer.body) as Record<string, unknown>;
      expect(body).toMatchObject({ statusCode: status, code, message: expect.any(String) });
      expect(body.correlationId).toBe(answer.headers['x-correlation-id']);
    }
    const version = await raw(
      t.baseUrl,
      `GET /ws/device HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${key}Sec-WebSocket-Version: 7\r\n\r\n`,
    );
    // RFC 6455 4.4: the versions the server takes
    expect(version.headers['sec-websocket-version']).toBe('13, 8');
    const post = await raw(
      t.baseUrl,
      `POST /ws/device HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${key}Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n`,
    );
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET');
    expect(JSON.parse(post.body)).toMatchObject({ statusCode: 405, code: 'method_not_allowed' });
  });

  it('should still upgrade every socket path', async () => {
    for (const path of Object.values(RELAY_PATHS)) {
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`${t.wsUrl}${path}`);
        ws.on('error', () => undefined);
        ws.once('upgrade', (res) => resolve(res.statusCode ?? 0));
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => ws.terminate());
      });
      expect({ path, status }).toEqual({ path, status: 101 });
    }
  });

  it('should answer a plain GET (no upgrade) on a socket path with a 4xx JSON error, as before', async () => {
    for (const path of Object.values(RELAY_PATHS)) {
      const res = await http(t.baseUrl, 'GET', path);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body).toMatchObject({ statusCode: res.status, code: expect.any(String) });
    }
  });

  it('should keep serving HTTP after refused upgrades', async () => {
    for (let i = 0; i < 20; i++) await raw(t.baseUrl, upgradeRequest('/ws/nope', host));
    expect((await http(t.baseUrl, 'GET', '/health')).status).toBe(200);
  });
});

describe('WebSocket upgrades on unknown paths and the per-IP rate limit (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_IP: '3' });
  });
  afterAll(() => t.close());

  it('should count them toward the per-IP limit, answering 429 with Retry-After over it', async () => {
    const host = new URL(t.baseUrl).host;
    const answers: RawAnswer[] = [];
    for (let i = 0; i < 5; i++)
      answers.push(await raw(t.baseUrl, upgradeRequest('/ws/nope', host)));
    expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 429, 429]);
    expect(Number(answers[3].headers['retry-after'])).toBeGreaterThan(0);
    expect(answers[3].headers['connection']).toBe('close');
    expect(JSON.parse(answers[3].body)).toMatchObject({ statusCode: 429, code: 'rate_limited' });
    // HTTP requests from the address count on the same counter
    expect((await http(t.baseUrl, 'GET', '/health')).status).toBe(429);
  });
});
