import { randomBytes } from 'node:crypto';
import { connect, Socket } from 'node:net';
import { http, startTestApp, TestApp } from './support/test-app';

/** One answer read off a raw connection. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw connection: what it wrote, and every answer read off it until the server closed it. */
interface Exchange {
  answers: Answer[];
  /** Bytes after the last whole answer (none when the server answered only whole answers). */
  rest: string;
}

/**
 * Opens a connection, writes each of `writes` (the next once the one before is flushed, so
 * a body can come in a later packet than its head), half-closes (`end`) if asked, and reads until the
 * server closes the connection; the answers are split by their Content-Length.
 */
async function exchange(
  baseUrl: string,
  writes: (string | Buffer)[],
  options: { end?: boolean } = {},
): Promise<Exchange> {
  const { hostname, port } = new URL(baseUrl);
  const socket: Socket = connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  const closed = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  for (const bytes of writes)
    await new Promise<void>((resolve) => socket.write(bytes, () => resolve()));
  if (options.end) socket.end();
  await closed;
  return split(Buffer.concat(chunks).toString('latin1'));
}

function split(text: string): Exchange {
  const answers: Answer[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 'NaN');
    if (!Number.isSafeInteger(length) || rest.length < end + 4 + length) break;
    answers.push({
      status: Number(statusLine.split(' ')[1]),
      headers,
      body: rest.slice(end + 4, end + 4 + length),
    });
    rest = rest.slice(end + 4 + length);
  }
  return { answers, rest };
}

/** The headers of an h2c upgrade (RFC 7540 3.2), as a client probing for HTTP/2 sends them. */
const H2C =
  'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';

/**
 * An `Upgrade` the server does not take (h2c, anything but a WebSocket) on an HTTP route: the
 * server may ignore it (RFC 9110 §7.8) and answers the request as it would without it. Node
 * emits `upgrade` for any such request once the server has an `upgrade` listener (the relay's),
 * which answered 404 on every route: a client probing for HTTP/2 without the shipped nginx in
 * front (which passes only WebSocket upgrades) could not even read `/health`.
 */
describe('HTTP requests with an Upgrade the server does not take (e2e)', () => {
  let t: TestApp;
  let host: string;

  beforeAll(async () => {
    t = await startTestApp();
    host = new URL(t.baseUrl).host;
  });
  afterAll(() => t.close());

  it('should answer GET /health with an h2c upgrade 200, as without it', async () => {
    const { answers } = await exchange(t.baseUrl, [
      `GET /health HTTP/1.1\r\nHost: ${host}\r\n${H2C}\r\n` +
        // the next request on the connection is read and answered too; it closes the connection
        `GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(JSON.parse(answers[0].body)).toEqual({ status: 'ok' });
    // not switched: no 101, no Upgrade in the answer; the connection kept alive for the next
    expect(answers[0].headers['upgrade']).toBeUndefined();
    expect(answers[0].headers['connection']).toBe('keep-alive');
    expect(answers[1].headers['connection']).toBe('close');
  });

  it('should take a POST with an h2c upgrade and its body as without it, the body in the same or a later packet', async () => {
    const site = (name: string) =>
      JSON.stringify({ name, geo: { lat: 28.6, lng: 77.2 }, radiusM: 150 });
    const post = (body: string, more = '') =>
      `POST /api/v5/sites HTTP/1.1\r\nHost: ${host}\r\nx-api-key: ${t.keys.admin}\r\n${H2C}${more}` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    const together = site('Upgrade together');
    const later = site('Upgrade later');
    const chunked = site('Upgrade chunked');
    const chunkedHead =
      `POST /api/v5/sites HTTP/1.1\r\nHost: ${host}\r\nx-api-key: ${t.keys.admin}\r\n${H2C}` +
      'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const { answers, rest } = await exchange(t.baseUrl, [
      post(together) + together,
      // head alone, the body after it (and in two pieces)
      post(later),
      later.slice(0, 10),
      later.slice(10),
      // a chunked body
      chunkedHead,
      `${Buffer.byteLength(chunked).toString(16)}\r\n${chunked}\r\n0\r\n\r\n`,
      `GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    ]);
    expect(rest).toBe('');
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 200]);
    for (const [answer, name] of [
      [answers[0], 'Upgrade together'],
      [answers[1], 'Upgrade later'],
      [answers[2], 'Upgrade chunked'],
    ] as const) {
      const { siteId } = JSON.parse(answer.body) as { siteId: string };
      const stored = await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}`, { key: t.keys.admin });
      expect(stored.status).toBe(200);
      expect(stored.body).toMatchObject({ name });
    }
  });

  it('should answer an invalid body or a missing key as without the upgrade', async () => {
    const bad = '{"name":';
    const withUpgrade = await exchange(t.baseUrl, [
      `POST /api/v5/sites HTTP/1.1\r\nHost: ${host}\r\nx-api-key: ${t.keys.admin}\r\n${H2C}` +
        `Content-Type: application/json\r\nContent-Length: ${bad.length}\r\n\r\n${bad}` +
        `POST /api/v5/sites HTTP/1.1\r\nHost: ${host}\r\n${H2C}Content-Type: application/json\r\n` +
        'Content-Length: 2\r\nConnection: close\r\n\r\n{}',
    ]);
    const plain = await http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      rawBody: bad,
      headers: { 'content-type': 'application/json' },
    });
    const noKey = await http(t.baseUrl, 'POST', '/api/v5/sites', { body: {} });
    expect(withUpgrade.answers.map((a) => a.status)).toEqual([plain.status, noKey.status]);
    expect(JSON.parse(withUpgrade.answers[0].body)).toMatchObject({
      code: (plain.body as { code: string }).code,
    });
    expect(JSON.parse(withUpgrade.answers[1].body)).toMatchObject({
      code: (noKey.body as { code: string }).code,
    });
  });

  it('should answer an upgraded request pipelined behind one still being answered, in order', async () => {
    const { answers } = await exchange(t.baseUrl, [
      `GET /health HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
        `GET /nope HTTP/1.1\r\nHost: ${host}\r\n${H2C}\r\n` +
        `GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: TLS/1.2\r\n\r\n` +
        `GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 404, 200, 200]);
    expect(JSON.parse(answers[1].body)).toMatchObject({ code: 'not_found' });
  });

  it('should treat a request the client half-closed after as without the upgrade', async () => {
    // Node's server (httpAllowHalfOpen off) ends a connection its client half-closed
    const upgraded = await exchange(
      t.baseUrl,
      [`GET /health HTTP/1.1\r\nHost: ${host}\r\n${H2C}\r\n`],
      { end: true },
    );
    const plain = await exchange(t.baseUrl, [`GET /health HTTP/1.1\r\nHost: ${host}\r\n\r\n`], {
      end: true,
    });
    expect(upgraded.answers.map((a) => a.status)).toEqual(plain.answers.map((a) => a.status));
    expect((await http(t.baseUrl, 'GET', '/health')).status).toBe(200);
    expect(t.logs()).not.toContain('"level":50');
  });

  it('should answer an HTTP/1.0 request with an upgrade and close its connection', async () => {
    const { answers } = await exchange(t.baseUrl, [
      `GET /health HTTP/1.0\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`,
    ]);
    expect(answers.map((a) => a.status)).toEqual([200]);
  });

  it('should still answer a WebSocket upgrade off the socket paths 404 and close, and refuse another upgrade on a socket path 400', async () => {
    const key = randomBytes(16).toString('base64');
    const ws = await exchange(t.baseUrl, [
      `GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ]);
    expect(ws.answers.map((a) => a.status)).toEqual([404]);
    expect(ws.answers[0].headers['connection']).toBe('close');
    const h2cOnSocket = await exchange(t.baseUrl, [
      `GET /ws/device HTTP/1.1\r\nHost: ${host}\r\n${H2C}Sec-WebSocket-Key: ${key}\r\n` +
        'Sec-WebSocket-Version: 13\r\n\r\n',
    ]);
    expect(h2cOnSocket.answers.map((a) => a.status)).toEqual([400]);
    expect(JSON.parse(h2cOnSocket.answers[0].body)).toMatchObject({ code: 'bad_request' });
  });

  it('should close a connection served this way at the shutdown drain, as any', async () => {
    const other = await startTestApp();
    let open = true;
    try {
      const { hostname, port } = new URL(other.baseUrl);
      const socket = connect(Number(port), hostname);
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      const closed = new Promise<void>((resolve) => {
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
      });
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write(`GET /health HTTP/1.1\r\nHost: ${host}\r\n${H2C}\r\n`);
      // the answer is in: the connection is kept alive, idle
      while (split(Buffer.concat(chunks).toString('latin1')).answers.length < 1) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await other.close();
      open = false;
      // the drain closed it (an idle connection it did not know of would keep it open 65 s)
      await closed;
      expect(split(Buffer.concat(chunks).toString('latin1')).answers.map((a) => a.status)).toEqual([
        200,
      ]);
    } finally {
      if (open) await other.close();
    }
  });
});
