import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { jpegBytes } from './support/image-bytes';
import { startTestApp, TestApp } from './support/test-app';

/** A raw connection: what it receives until the server closes its end (a generous 20 s bound). */
function openRaw(t: TestApp) {
  const { hostname, port } = new URL(t.baseUrl);
  const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true });
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
  socket.on('error', () => undefined);
  const answered = new Promise<string>((resolve, reject) => {
    const bound = setTimeout(() => reject(new Error(`no answer; got ${received}`)), 20_000);
    // the server's end of the connection (this side, half-open, never ends it)
    const closed = () => {
      clearTimeout(bound);
      resolve(received);
    };
    socket.once('end', closed);
    socket.once('close', closed);
  });
  return { socket, answered };
}

function requestHead(t: TestApp, path: string, headers: Record<string, string | number>) {
  return (
    `POST ${path} HTTP/1.1\r\nHost: x\r\nx-api-key: ${t.keys.admin}\r\n` +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    '\r\n'
  );
}

function parse(text: string) {
  const [top, body] = text.split('\r\n\r\n');
  return { status: Number(top.split(' ')[1]), top, body: body ? JSON.parse(body) : undefined };
}

/**
 * A request whose body stops arriving is answered (docs/architecture.md, "HTTP conventions"):
 * 408 `request_timeout` when no byte comes for HTTP_BODY_IDLE_TIMEOUT_MS or a JSON body is not
 * whole within HTTP_JSON_BODY_TIMEOUT_MS, 400 `request_aborted` when the client half-closes
 * before the body's end; a vault upload that keeps moving is not cut. Raw sockets, short
 * timeouts; the only bound on time is a generous one on the answer coming at all.
 */
describe('Request bodies that stop arriving (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ HTTP_BODY_IDLE_TIMEOUT_MS: '300', HTTP_JSON_BODY_TIMEOUT_MS: '1500' });
  });
  afterAll(async () => t.close());

  const open = () => openRaw(t);
  const head = (path: string, headers: Record<string, string | number>) =>
    requestHead(t, path, headers);

  it('should answer 408 request_timeout to a JSON body that stops arriving', async () => {
    const { socket, answered } = open();
    socket.write(
      head('/api/v5/sites', { 'content-type': 'application/json', 'content-length': 100 }) +
        '{"name":',
    );
    const answer = parse(await answered);
    expect([answer.status, answer.body?.code]).toEqual([408, 'request_timeout']);
    expect(answer.body.message).toMatch(/body/);
    expect(answer.top).toMatch(/x-correlation-id: [\w-]+/i);
    socket.destroy();
  });

  it('should answer 408 to a chunked body without its last chunk', async () => {
    const { socket, answered } = open();
    socket.write(
      head('/api/v5/sites', {
        'content-type': 'application/json',
        'transfer-encoding': 'chunked',
      }) + '8\r\n{"name":\r\n',
    );
    const answer = parse(await answered);
    expect([answer.status, answer.body?.code]).toEqual([408, 'request_timeout']);
    socket.destroy();
  });

  it('should answer 408 to a JSON body still trickling past the whole-body bound', async () => {
    const { socket, answered } = open();
    socket.write(
      head('/api/v5/sites', { 'content-type': 'application/json', 'content-length': 400 }),
    );
    // a byte every 100 ms (never idle for 300 ms): 400 bytes would take 40 s
    const trickle = setInterval(() => socket.writable && socket.write(' '), 100);
    const answer = parse(await answered);
    clearInterval(trickle);
    expect([answer.status, answer.body?.code]).toEqual([408, 'request_timeout']);
    expect(answer.body.message).toMatch(/whole/);
    socket.destroy();
  });

  it('should answer 400 request_aborted to a body the client half-closes before its end', async () => {
    const { socket, answered } = open();
    socket.write(
      head('/api/v5/sites', { 'content-type': 'application/json', 'content-length': 100 }) +
        '{"name":',
    );
    socket.end();
    const answer = parse(await answered);
    expect([answer.status, answer.body?.code]).toEqual([400, 'request_aborted']);
    socket.destroy();
  });

  it('should answer 408 to a vault upload that stops arriving', async () => {
    const { socket, answered } = open();
    const bytes = jpegBytes(4096);
    socket.write(
      head('/api/v5/vault', { 'content-type': 'image/jpeg', 'content-length': bytes.length }),
    );
    socket.write(bytes.subarray(0, 1024));
    const answer = parse(await answered);
    expect([answer.status, answer.body?.code]).toEqual([408, 'request_timeout']);
    socket.destroy();
    // the upload's handler is told its body will not come: its temporary file is closed and
    // removed (it was left open, its write awaited by the shutdown forever: app.close() hung)
    const uploads = join(t.dataDir, 'uploads');
    const partials = () =>
      existsSync(uploads) ? readdirSync(uploads).filter((name) => name.endsWith('.partial')) : [];
    for (let waited = 0; partials().length > 0 && waited < 10_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(partials()).toEqual([]);
  });

  it('should store a slow vault upload that keeps moving, past both bounds', async () => {
    const { socket, answered } = open();
    const bytes = jpegBytes(2500);
    socket.write(
      head('/api/v5/vault', {
        'content-type': 'image/jpeg',
        'content-length': bytes.length,
        connection: 'close',
      }),
    );
    // 100 bytes every 100 ms: 2.5 s in all, longer than the JSON bound and many idle periods
    let sent = 0;
    await new Promise<void>((resolve) => {
      const step = setInterval(() => {
        socket.write(bytes.subarray(sent, sent + 100));
        sent += 100;
        if (sent >= bytes.length) {
          clearInterval(step);
          resolve();
        }
      }, 100);
    });
    const answer = parse(await answered);
    expect([answer.status, answer.body?.size]).toEqual([201, 2500]);
    socket.destroy();
  });
});

/**
 * Node's own whole-request timeout (`server.requestTimeout`, 300 s) cut a vault upload still
 * moving, slower than ~110 KB/s for a 32 MiB image: a body the watch bounds is now the watch's.
 * Node's bounds at a test's scale (2 s for the whole request, 1 s for headers, checked every
 * 100 ms); the headers bound and the body watch still cut what does not arrive.
 */
describe("Node's whole-request timeout and a slow upload (e2e)", () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp(
      // a body of 2000 bytes is given 10 s, of 1000 bytes 5 s, of 100 bytes Node's 2 s
      { HTTP_BODY_IDLE_TIMEOUT_MS: '1000', HTTP_BODY_MIN_RATE_BYTES_PER_SEC: '200' },
      {
        server: (server) => {
          server.requestTimeout = 2000;
          server.headersTimeout = 1000;
          server.connectionsCheckingInterval = 100;
        },
      },
    );
  });
  afterAll(async () => t.close());

  it('should store a vault upload still moving past the whole-request timeout', async () => {
    const { socket, answered } = openRaw(t);
    const bytes = jpegBytes(2000);
    socket.write(
      requestHead(t, '/api/v5/vault', {
        'content-type': 'image/jpeg',
        'content-length': bytes.length,
        connection: 'close',
      }),
    );
    // 100 bytes every 200 ms: 4 s in all, twice the whole-request bound
    let sent = 0;
    await new Promise<void>((resolve) => {
      const step = setInterval(() => {
        if (!socket.writable) {
          clearInterval(step);
          resolve();
          return;
        }
        socket.write(bytes.subarray(sent, sent + 100));
        sent += 100;
        if (sent >= bytes.length) {
          clearInterval(step);
          resolve();
        }
      }, 200);
    });
    const answer = parse(await answered);
    expect([answer.status, answer.body?.code, answer.body?.size]).toEqual([201, undefined, 2000]);
    socket.destroy();
  });

  it('should answer 408 to a vault upload trickling below the minimum rate past its deadline', async () => {
    const { socket, answered } = openRaw(t);
    const bytes = jpegBytes(1000);
    socket.write(
      requestHead(t, '/api/v5/vault', {
        'content-type': 'image/jpeg',
        'content-length': bytes.length,
      }),
    );
    // 5 bytes every 200 ms (25 B/s, 40 s for the whole body): never idle for a check period,
    // below the 200 B/s that gives this body 5 s
    let sent = 0;
    const trickle = setInterval(() => {
      if (!socket.writable || sent >= bytes.length) return;
      socket.write(bytes.subarray(sent, sent + 5));
      sent += 5;
    }, 200);
    const answer = parse(await answered);
    clearInterval(trickle);
    expect([answer.status, answer.body?.code]).toEqual([408, 'request_timeout']);
    expect(answer.body.message).toMatch(/too slowly/);
    expect(sent).toBeLessThan(bytes.length);
    socket.destroy();
  });

  it('should still answer 408 to a vault upload that stalls', async () => {
    const { socket, answered } = openRaw(t);
    const bytes = jpegBytes(4096);
    socket.write(
      requestHead(t, '/api/v5/vault', {
        'content-type': 'image/jpeg',
        'content-length': bytes.length,
      }),
    );
    socket.write(bytes.subarray(0, 1024));
    const answer = parse(await answered);
    expect([answer.status, answer.body?.code]).toEqual([408, 'request_timeout']);
    expect(answer.body.message).toMatch(/stopped arriving/);
    socket.destroy();
  });

  it('should still answer 408 to headers that never finish', async () => {
    const { socket, answered } = openRaw(t);
    socket.write(`POST /api/v5/vault HTTP/1.1\r\nHost: x\r\nx-api-key: ${t.keys.admin}\r\n`);
    // a header line every 200 ms, never the blank line that ends them
    const trickle = setInterval(() => socket.writable && socket.write('x-pad: 1\r\n'), 200);
    const answer = parse(await answered);
    clearInterval(trickle);
    expect([answer.status, answer.body?.code]).toEqual([408, 'request_timeout']);
    expect(answer.body.message).toMatch(/headers/);
    socket.destroy();
  });
});
