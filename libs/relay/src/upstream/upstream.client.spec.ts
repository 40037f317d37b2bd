import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { upstreamConfig } from './upstream.config';
import { retryAfterMs, UpstreamClient } from './upstream.client';

type Handler = (req: IncomingMessage, res: ServerResponse, index: number) => void;

/** A real local HTTP server; each test scripts its answers. */
async function upstream(
  handler: Handler,
): Promise<{ url: string; calls: IncomingMessage[]; server: Server }> {
  const calls: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls.push(req);
      handler(req, res, calls.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, server };
}

function client(env: Record<string, string>): UpstreamClient {
  return new UpstreamClient(upstreamConfig.read(env));
}

const inAMinute = () => new Date(Date.now() + 60_000);

describe('UpstreamClient', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  it('should default to an attempt timeout above a 20 s upstream and below the kiosk 120 s wait', () => {
    const { timeoutMs } = upstreamConfig.read({});
    expect(timeoutMs).toBeGreaterThan(20_000);
    expect(timeoutMs).toBeLessThan(120_000);
  });

  it('should send the Idempotency-Key and treat a 5xx as an answer, without a retry', async () => {
    const up = await upstream((_req, res) => res.writeHead(500).end('{"error":"x"}'));
    servers.push(up.server);
    const outcome = await client({ UPSTREAM_URL: up.url }).submit(
      'key-1',
      'PLT_x',
      'AA==',
      inAMinute(),
    );
    expect(outcome).toMatchObject({
      kind: 'answered',
      status: 'failure',
      statusCode: 500,
      attempts: 1,
    });
    expect(up.calls).toHaveLength(1);
    expect(up.calls[0].headers['idempotency-key']).toBe('key-1');
  });

  it('should retry a 503 with Retry-After under the same key', async () => {
    const up = await upstream((_req, res, i) =>
      i === 0
        ? res.writeHead(503, { 'retry-after': '0' }).end('{}')
        : res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"success"}'),
    );
    servers.push(up.server);
    const outcome = await client({ UPSTREAM_URL: up.url }).submit(
      'key-2',
      'PLT_x',
      'AA==',
      inAMinute(),
    );
    expect(outcome).toMatchObject({ kind: 'answered', status: 'success', attempts: 2 });
    expect(up.calls.map((c) => c.headers['idempotency-key'])).toEqual(['key-2', 'key-2']);
  });

  it('should not re-post an attempt that timed out', async () => {
    const up = await upstream((_req, res) => setTimeout(() => res.writeHead(200).end('{}'), 800));
    servers.push(up.server);
    const outcome = await client({ UPSTREAM_URL: up.url, UPSTREAM_TIMEOUT_MS: '200' }).submit(
      'k',
      'PLT_x',
      'AA==',
      inAMinute(),
    );
    expect(outcome).toMatchObject({ kind: 'unknown', reason: 'timed_out', attempts: 1 });
    expect(up.calls).toHaveLength(1);
  });

  it('should end an attempt whose answer trickles in past the timeout, and close its connection', async () => {
    // headers and the start of a body at once, then a byte at a time: no socket ever goes idle
    // for the attempt's timeout, which must still bound the attempt as a whole
    let closed!: () => void;
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status":');
      const trickle = setInterval(() => res.write(' '), 50);
      res.on('close', () => {
        clearInterval(trickle);
        closed();
      });
    });
    servers.push(up.server);
    const outcome = await client({ UPSTREAM_URL: up.url, UPSTREAM_TIMEOUT_MS: '300' }).submit(
      'k',
      'PLT_x',
      'AA==',
      inAMinute(),
    );
    expect(outcome).toMatchObject({
      kind: 'unknown',
      reason: 'timed_out',
      message: 'The identity API did not answer in time',
      attempts: 1,
    });
    expect(up.calls).toHaveLength(1);
    // the attempt let go of the upstream: its connection is closed, not left trickling
    await connectionClosed;
  });

  it('should not re-post when the connection is cut after the request was sent', async () => {
    const up = await upstream((req) => req.socket.destroy());
    servers.push(up.server);
    const outcome = await client({ UPSTREAM_URL: up.url }).submit(
      'k',
      'PLT_x',
      'AA==',
      inAMinute(),
    );
    expect(outcome).toMatchObject({ kind: 'unknown', reason: 'connection_lost', attempts: 1 });
    expect(up.calls).toHaveLength(1);
  });

  it('should retry a refused connection (the request never left) and report it as not sent', async () => {
    const up = await upstream(() => undefined);
    const url = up.url;
    up.server.close();
    const outcome = await client({ UPSTREAM_URL: url, UPSTREAM_RETRIES: '2' }).submit(
      'k',
      'PLT_x',
      'AA==',
      inAMinute(),
    );
    expect(outcome).toMatchObject({ kind: 'not_sent', reason: 'unreachable', attempts: 3 });
  });

  it('should say when it is not configured, and when no attempt fits before the deadline', async () => {
    expect(await client({}).submit('k', 'PLT_x', 'AA==', inAMinute())).toMatchObject({
      kind: 'not_sent',
      reason: 'not_configured',
    });
    const soon = new Date(Date.now() + 500);
    expect(
      await client({ UPSTREAM_URL: 'http://127.0.0.1:9' }).submit('k', 'PLT_x', 'AA==', soon),
    ).toMatchObject({ kind: 'not_sent', reason: 'no_time', attempts: 0 });
  });

  it('should read Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('should read only the three HTTP-date forms, exactly, asctime as GMT', () => {
    const at = Date.UTC(1994, 10, 6, 8, 49, 37);
    const before = at - 5000;
    expect(retryAfterMs('Sun, 06 Nov 1994 08:49:37 GMT', before)).toBe(5000);
    expect(retryAfterMs('Sunday, 06-Nov-94 08:49:37 GMT', before)).toBe(5000);
    expect(retryAfterMs('Sun Nov  6 08:49:37 1994', before)).toBe(5000);
    expect(retryAfterMs('Sun Nov 16 08:49:37 1994', before)).toBe(10 * 86_400_000 + 5000);
    // a date already past: retry at once
    expect(retryAfterMs('Sun, 06 Nov 1994 08:49:37 GMT', at + 1000)).toBe(0);
    for (const loose of [
      'Mon 7',
      'Mon, 7',
      'Mon 2030',
      'Sun, 6 Nov 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 08:49:37 UTC',
      'Sun, 06 Nov 1994 08:49:37 +0000',
      'Sun, 06 Nov 1994 08:49 GMT',
      'sun, 06 nov 1994 08:49:37 GMT',
      'Sun, 31 Feb 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 24:49:37 GMT',
      'Sun, 06 Nov 1994 08:49:37 GMT extra',
      'Sun Nov 6 08:49:37 1994',
      'Sunday, 06-Nov-1994 08:49:37 GMT',
      '1994-11-06T08:49:37Z',
      '1.5',
      '-5',
    ])
      expect([loose, retryAfterMs(loose, before)]).toEqual([loose, undefined]);
  });
});
