import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { jpegBytes } from '../support/image-bytes';
import { pollUntil } from '../support/test-app';
import { Topology } from './support/stack';

/** A bound on a hang (the old config held a request to a frozen replica for 300 s), not a speed. */
const HANG_BOUND_MS = 120_000;

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function ask(
  url: string,
  init: RequestInit & { headers?: Record<string, string> } = {},
): Promise<Answer> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(HANG_BOUND_MS) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // nginx's HTML page: kept as text, and the expectations below fail on it
  }
  return { status: response.status, headers: response.headers, body };
}

/** The API's error body as nginx now answers it itself. */
const errorBody = (statusCode: number, code: string) => ({
  statusCode,
  code,
  message: expect.any(String),
  correlationId: expect.stringMatching(/^[0-9a-f]{32}$/),
});

/**
 * Whether a connection to `port` on loopback holds bytes its process has not read: a request
 * nginx sent to a replica that is stopped (accepted by the kernel, never by the process).
 */
function unreadRequestOn(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  // the replicas listen on every interface (`::`): nginx's IPv4 connections are in tcp6
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((table) =>
    readFileSync(table, 'utf8')
      .split('\n')
      .slice(1)
      .some((line) => {
        const [, local, , state, queues] = line.trim().split(/\s+/);
        // 01 = ESTABLISHED; tx_queue:rx_queue in hex
        return (
          local?.endsWith(`:${hexPort}`) && state === '01' && parseInt(queues.split(':')[1], 16) > 0
        );
      }),
  );
}

/**
 * Sends requests made by `send` until nginx sends one to the stopped replica on `port` (round
 * robin: one of two in a row), and waits for that one's answer from nginx. A request answered
 * before it is held went to another replica.
 */
async function heldBy(port: number, send: () => Promise<Answer>): Promise<Answer> {
  for (let i = 0; i < 2; i++) {
    const answer = send();
    let answered = false;
    void answer.finally(() => (answered = true)).catch(() => undefined);
    const where = await pollUntil(
      async () => (unreadRequestOn(port) ? 'held' : answered ? 'answered' : 'pending'),
      (state) => state !== 'pending',
      HANG_BOUND_MS,
    );
    if (where === 'held') return await answer;
    await answer;
  }
  throw new Error(`nginx sent none of two requests in a row to the replica on ${port}`);
}

/** One request written byte for byte (fetch would refuse to send a malformed header). */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(request);
  });
}

/**
 * deploy/nginx.conf when a replica stops answering (issue: SRE fault hunt, findings 2 and 4):
 * a frozen replica (SIGSTOP: a stuck event loop, a VM pause) still accepts connections, so only
 * nginx's own timeouts and `max_fails` take it out, while one request a replica answers too late
 * does not (reviewer: max_fails=1 did); and the errors nginx answers itself are the API's JSON
 * error body (docs/errors.md, "proxy"), not HTML pages, whatever the path's extension, a request
 * line over 8 KiB and one that is not HTTP included.
 */
describe('nginx in front of the replicas: failover and its own errors', () => {
  let stack: Topology;
  let proxy: string;
  const stopped = new Set<number>();
  const signal = (index: number, name: NodeJS.Signals) => {
    const pid = stack.replicas[index].service.child.pid!;
    process.kill(pid, name);
    if (name === 'SIGSTOP') stopped.add(pid);
    else stopped.delete(pid);
  };

  beforeAll(async () => {
    stack = await Topology.started();
    proxy = stack.proxyUrl;
  }, 240_000);

  afterAll(async () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    await stack?.stop();
  });

  it('should answer an upload over 32 MiB with the JSON 413 payload_too_large, logged as the POST it was', async () => {
    const answer = await ask(`${proxy}/api/v5/vault?note=query-secret`, {
      method: 'POST',
      headers: { 'x-api-key': stack.keys.admin, 'content-type': 'image/jpeg' },
      body: Buffer.alloc(33 * 1024 * 1024, 0x42),
    });
    expect([answer.status, answer.headers.get('content-type'), answer.body]).toEqual([
      413,
      'application/json',
      errorBody(413, 'payload_too_large'),
    ]);
    const body = answer.body as { correlationId: string };
    expect(answer.headers.get('x-correlation-id')).toBe(body.correlationId);
    // nginx's access log line ends with it: the operator's way from a client's report to the line.
    // nginx writes it when it lets the request go, which for an upload refused before its end can
    // come after the client has read the answer (it reads out the rest of the body first)
    const lines = await pollUntil(
      () =>
        Promise.resolve(
          stack.nginx
            .accessLog()
            .split('\n')
            .filter((line) => line.endsWith(` ${body.correlationId}`)),
        ),
      (found) => found.length > 0,
      40_000,
    );
    // the client's request line (not the internal redirect's `GET /.proxy-error/…`), without
    // its query string
    expect(lines).toEqual([expect.stringContaining('"POST /api/v5/vault HTTP/1.1" 413 ')]);
    expect(lines[0]).not.toContain('proxy-error');
    expect(lines[0]).not.toContain('query-secret');
  });

  it("should answer nginx's own 404, 405, 501 and 505 as JSON, with no version in Server", async () => {
    const port = Number(new URL(proxy).port);
    const cases: [string, number, string][] = [
      ['GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 404, 'not_found'],
      [
        'GET /.proxy-error/service_unavailable HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
        404,
        'not_found',
      ],
      ['TRACE /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 405, 'method_not_allowed'],
      [
        'POST /api/kiosks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n',
        501,
        'not_implemented',
      ],
      ['GET /health HTTP/2.0\r\nHost: a\r\n\r\n', 505, 'http_version_not_supported'],
    ];
    const answers: unknown[] = [];
    for (const [request] of cases) {
      const text = await rawExchange(port, request);
      const [head, body] = text.split('\r\n\r\n');
      let parsed: unknown = body;
      try {
        parsed = JSON.parse(body);
      } catch {
        // nginx's HTML page: kept as text
      }
      answers.push([
        request.split('\r\n')[0],
        head.split('\r\n')[0].split(' ')[1],
        /\r\nContent-Type: application\/json\r\n/i.test(head),
        /\r\nServer: nginx\r\n/i.test(head),
        parsed,
      ]);
    }
    expect(answers).toEqual(
      cases.map(([request, status, code]) => [
        request.split('\r\n')[0],
        String(status),
        true,
        true,
        errorBody(status, code),
      ]),
    );
  });

  it("should answer a header over nginx's buffers with the JSON 431 headers_too_large", async () => {
    const answer = await ask(`${proxy}/api/v5/vault/6b16612c338636cdbd79013b`, {
      headers: { 'x-api-key': stack.keys.auditor, 'x-access-purpose': 'p'.repeat(9000) },
    });
    expect([answer.status, answer.headers.get('content-type'), answer.body]).toEqual([
      431,
      'application/json',
      errorBody(431, 'headers_too_large'),
    ]);
  });

  it('should answer a request it cannot parse with the JSON 400 malformed_request', async () => {
    const port = Number(new URL(proxy).port);
    const text = await rawExchange(
      port,
      'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\nConnection: close\r\n\r\n',
    );
    const [head, body] = text.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/\r\nContent-Type: application\/json\r\n/i);
    expect(JSON.parse(body)).toEqual(errorBody(400, 'malformed_request'));
  });

  it("should answer a request line over nginx's buffers (8 KiB) with the JSON 431 headers_too_large, as the API does", async () => {
    // nginx's 414, which it answered with its HTML page
    const answer = await ask(`${proxy}/api/kiosks?limit=1&pad=${'a'.repeat(9000)}`, {
      headers: { 'x-api-key': stack.keys.admin },
    });
    expect([answer.status, answer.headers.get('content-type'), answer.body]).toEqual([
      431,
      'application/json',
      errorBody(431, 'headers_too_large'),
    ]);
    const body = answer.body as { correlationId: string };
    expect(answer.headers.get('x-correlation-id')).toBe(body.correlationId);
  });

  it('should answer a request line that is not HTTP with the JSON 400 malformed_request', async () => {
    // nginx has no URI for it: it answered its HTML 500 when sent to a named location
    const text = await rawExchange(Number(new URL(proxy).port), 'NOT HTTP AT ALL\r\n\r\n');
    const [head, body] = text.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/\r\nContent-Type: application\/json\r\n/i);
    expect(JSON.parse(body)).toEqual(errorBody(400, 'malformed_request'));
  });

  it("should answer its own errors as JSON whatever the path's extension (the console's files)", async () => {
    const answers: unknown[] = [];
    for (const path of ['/console/app.js', '/console/styles.css', '/console/index.html']) {
      const answer = await ask(`${proxy}${path}`, {
        headers: { 'x-access-purpose': 'p'.repeat(9000) },
      });
      answers.push([path, answer.status, answer.headers.get('content-type'), answer.body]);
    }
    expect(answers).toEqual(
      ['/console/app.js', '/console/styles.css', '/console/index.html'].map((path) => [
        path,
        431,
        'application/json',
        errorBody(431, 'headers_too_large'),
      ]),
    );
  });

  it('should keep a replica in the rotation after one request it answered too late (a POST, answered 504 upstream_timeout: it may have been applied)', async () => {
    const port = Number(new URL(stack.replicas[0].baseUrl).port);
    // a replica slow with one request is, to nginx, one that holds it past its read timeout
    // (30 s): replica 0 stopped for that one request only
    signal(0, 'SIGSTOP');
    let slow: Answer;
    try {
      slow = await heldBy(port, () =>
        ask(`${proxy}/api/kiosks`, {
          method: 'POST',
          headers: { 'x-api-key': stack.keys.admin, 'content-type': 'application/json' },
          body: '{}',
        }),
      );
    } finally {
      signal(0, 'SIGCONT');
    }
    // not resent (a POST), and not the 503 "resend after Retry-After" of a request no replica
    // took: the replica had it, and may have applied it
    expect([slow.status, slow.headers.get('content-type'), slow.body]).toEqual([
      504,
      'application/json',
      errorBody(504, 'upstream_timeout'),
    ]);
    expect(slow.headers.get('retry-after')).toBeNull();
    // the next requests still go to both replicas (with max_fails=1 the slow one was out for
    // fail_timeout, 30 s, and every one of them went to the other)
    const ids = Array.from({ length: 4 }, (_, i) => `slow-once-${Date.now()}-${i}`);
    for (const id of ids) {
      const answer = await ask(`${proxy}/api/kiosks?limit=1`, {
        headers: { 'x-api-key': stack.keys.admin, 'x-correlation-id': id },
      });
      expect([id, answer.status]).toEqual([id, 200]);
    }
    const servedBy = () =>
      ids.map((id) => stack.replicas.findIndex((r) => r.service.logs().includes(`"${id}"`)));
    const served = await pollUntil(
      async () => servedBy(),
      (list) => !list.includes(-1),
      30_000,
    );
    expect([...new Set(served)].sort()).toEqual([0, 1]);
  });

  it('should keep answering through the other replica while one is frozen: GETs and syncs resent there, the frozen one taken out', async () => {
    const port = Number(new URL(stack.replicas[0].baseUrl).port);
    const errorLogBefore = stack.nginx.service.logs().length;
    signal(0, 'SIGSTOP');
    try {
      // round robin: of two requests in a row, one goes to the frozen replica. A sync is
      // idempotent by packetId, so nginx resends it to the other, which answers it (here 4xx:
      // this test's bearer is no token)
      for (let i = 0; i < 2; i++) {
        const sync = await ask(`${proxy}/api/v5/sync`, {
          method: 'POST',
          headers: { authorization: 'Bearer not-a-token', 'content-type': 'application/json' },
          body: JSON.stringify({ packets: [] }),
        });
        expect([i, sync.status < 500, (sync.body as { code?: string }).code]).toEqual([
          i,
          true,
          expect.any(String),
        ]);
      }
      const answers: unknown[] = [];
      for (let i = 0; i < 6; i++) {
        const health = await ask(`${proxy}/health`);
        const kiosks = await ask(`${proxy}/api/kiosks?limit=1`, {
          headers: { 'x-api-key': stack.keys.admin },
        });
        answers.push([health.status, health.body], kiosks.status);
      }
      expect(answers).toEqual(
        Array.from({ length: 6 }, () => [[200, { status: 'ok' }], 200]).flat(),
      );
      // taken out: nginx's error log (its stderr) says it disabled the frozen replica after its
      // third failure (with max_fails=0 it never does, and every other request waited for it)
      const disabled = stack.nginx.service
        .logs()
        .slice(errorLogBefore)
        .split('\n')
        .filter((line) => line.includes('upstream server temporarily disabled'))
        .map((line) => /upstream: "http:\/\/[\d.]+:(\d+)\//.exec(line)?.[1]);
      expect([...new Set(disabled)]).toEqual([String(port)]);
    } finally {
      signal(0, 'SIGCONT');
    }
  });

  it('should answer a request it cannot resend, whose replica died under it, with the JSON 503 service_unavailable and Retry-After', async () => {
    const port = Number(new URL(stack.replicas[0].baseUrl).port);
    signal(0, 'SIGSTOP');
    // a vault store is not resent (another replica would store a second file). After the
    // freeze above the stopped replica is out of the rotation for fail_timeout: uploads go to
    // the other until nginx tries it again with one, which it holds unread (and dies with)
    const upload = () =>
      ask(`${proxy}/api/v5/vault`, {
        method: 'POST',
        headers: { 'x-api-key': stack.keys.admin, 'content-type': 'image/jpeg' },
        body: jpegBytes(2048),
      });
    const uploads: Promise<Answer>[] = [];
    const held = await pollUntil(
      async () => {
        if (unreadRequestOn(port)) return true;
        uploads.push(upload());
        await new Promise((resolve) => setTimeout(resolve, 500));
        return unreadRequestOn(port);
      },
      (yes) => yes,
      HANG_BOUND_MS,
    );
    expect(held).toBe(true);
    signal(0, 'SIGKILL');
    const answers = await Promise.all(uploads);
    const refused = answers.filter((a) => a.status !== 201);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(answers.length - 1);
    expect(refused.map((a) => [a.status, a.headers.get('content-type'), a.body])).toEqual([
      [503, 'application/json', errorBody(503, 'service_unavailable')],
    ]);
    expect(Number(refused[0].headers.get('retry-after'))).toBeGreaterThan(0);
    // the other replica goes on answering alone
    expect((await ask(`${proxy}/health`)).status).toBe(200);
  });
});
