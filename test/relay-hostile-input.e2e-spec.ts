import { randomBytes } from 'node:crypto';
import { connect, Socket } from 'node:net';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import WebSocket from 'ws';
import { KioskRegistryService } from '@app/kiosk-registry';
import { RelayHub } from '@app/relay';
import { SessionService } from '@app/session';
import { FakeUpstream, fakeJpeg, startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { holdsPlatformId } from './support/leaks';
import { TestKiosk } from './support/kiosk';
import { connectDevice, legacyPair, openSession, pair } from './support/pairing';
import { http, startTestApp, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

const PLATFORM_ID = 'PLT_hostileUser0042';
const MIB = 1024 * 1024;

setFlagsFromString('--expose-gc');
/** The collector, so retained memory is measured after garbage is gone. */
const collect = runInNewContext('gc') as () => void;

function retainedBuffers(): number {
  collect();
  collect();
  return process.memoryUsage().arrayBuffers;
}

/** A socket that completed a WebSocket upgrade to `path`, whose frames are never read again. */
async function rawUpgrade(wsUrl: string, path: string): Promise<Socket> {
  const { hostname, port } = new URL(wsUrl);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
      'Sec-WebSocket-Version: 13\r\n\r\n',
  );
  await new Promise((resolve) => socket.once('data', resolve));
  socket.pause();
  return socket;
}

/** A masked (with a zero key, as a client must) text frame of `size` bytes of 'a'. */
function textFrame(size: number): Buffer {
  const head = Buffer.alloc(14);
  head[0] = 0x81;
  head[1] = 0x80 | 127;
  head.writeBigUInt64BE(BigInt(size), 2);
  return Buffer.concat([head, Buffer.alloc(size, 0x61)]);
}

/** JSON text of an object whose `data` nests `depth` arrays. */
function nested(type: string, depth: number): string {
  return `{"type":"${type}","data":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
}

/** A legacy pair, the hardware told the app is there. */
async function legacyPairOn(t: TestApp): Promise<{ hardware: TestSocket; app: TestSocket }> {
  const { hardware, app } = await legacyPair(t);
  await hardware.next('status');
  return { hardware, app };
}

/**
 * What a hostile client could do to the relay (a probe's findings): hold memory through a
 * refused socket, flood pings, stop reading, nest frames too deep, smuggle a platform id to the
 * legacy hardware, break the WebSocket protocol. Each test is one of those attacks.
 */
describe('relay under hostile input (e2e)', () => {
  let relay: UpstreamApps;
  let t: TestApp;
  let upstream: FakeUpstream;

  beforeAll(async () => {
    relay = await startUpstreamApps({ env: { RATE_LIMIT_PER_IP: '100000' } });
    ({ t, upstream } = relay);
  });
  afterAll(() => relay.close());

  const pairedLegacy = () => legacyPairOn(t);

  it('should keep nothing of a refused socket that floods large frames, and cut it when it does not answer the close', async () => {
    const hub = t.app.get(RelayHub);
    const attach = jest.spyOn(hub, 'attach');
    const before = retainedBuffers();
    for (const path of ['/ws/hardware?token=bad', '/ws/mobile']) {
      // a client that reads nothing after the upgrade: the server's close frame goes unanswered
      const client = await rawUpgrade(t.wsUrl, path);
      const server = attach.mock.calls.at(-1)![1];
      let received = 0;
      server.on('message', () => received++);
      const closed = new Promise((resolve) => server.once('close', resolve));
      for (let i = 0; i < 24; i++) client.write(textFrame(MIB));
      await closed;
      // only the listener above ever saw a frame: the relay kept none
      expect(server.listenerCount('message')).toBe(1);
      client.destroy();
      process.stdout.write(`refused ${path}: ${received} frames of 1 MiB reached the server\n`);
    }
    attach.mockRestore();
    const retained = retainedBuffers() - before;
    process.stdout.write(`retained after two refused floods: ${(retained / MIB).toFixed(1)} MiB\n`);
    expect(retained).toBeLessThan(8 * MIB);
  }, 120_000);

  it('should answer WebSocket pings within the frame rate only', async () => {
    const { hardware, app } = await pairedLegacy();
    let pongs = 0;
    hardware.ws.on('pong', () => pongs++);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) hardware.ws.ping();
    // after 1000 pings the bucket is empty: text frames sent right behind them are over the
    // rate too. Not one only: the rate refills a token every 50 ms, and on a loaded machine the
    // server can take longer than that to read the pings, so a lone frame behind them found a
    // token (answered, no error: the test waited in vain). 40 of them in one go cannot all
    // find one unless the server took 2 s between reading the first and the last
    for (let i = 0; i < 40; i++) hardware.send({ type: 'ping' });
    await hardware.error('rate_limited');
    const seconds = (performance.now() - started) / 1000;
    // the burst (40) and what the rate (20/s) refilled meanwhile, however long that took
    expect(pongs).toBeLessThanOrEqual(40 + Math.ceil(20 * seconds));
    expect(pongs).toBeLessThan(1000);
    hardware.close();
    app.close();
  });

  it('should answer the pings a socket sends while it is being accepted', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const { hostname, port } = new URL(t.wsUrl);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    let received = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => (received = Buffer.concat([received, data])));
    // the upgrade and two pings in one write: the pings reach the relay before the socket is
    // in its session (its token and session are still being checked). On SQLite the session
    // lookup ends before the pings are read; on MongoDB (`test:mongo`) it waits for the store
    const ping = (text: string) =>
      Buffer.concat([Buffer.from([0x89, 0x80 | text.length, 0, 0, 0, 0]), Buffer.from(text)]);
    socket.write(
      Buffer.concat([
        Buffer.from(
          `GET /ws/mobile?token=${session.mobileToken} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
            'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
            'Sec-WebSocket-Version: 13\r\n\r\n',
        ),
        ping('early-1'),
        ping('early-2'),
      ]),
    );
    const pong = (text: string) =>
      Buffer.concat([Buffer.from([0x8a, text.length]), Buffer.from(text)]);
    const answered = () => received.includes(pong('early-1')) && received.includes(pong('early-2'));
    const deadline = Date.now() + 30_000;
    while (!answered() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(received.toString('latin1')).toContain('"type":"joined"');
    expect(answered()).toBe(true);
    socket.destroy();
  });

  it('should judge the frames a phone sends the moment it reads `joined` by the session limits, and keep its socket', async () => {
    // a client may send once it reads `joined` (protocol.md): from then on a frame over a limit
    // is answered as in the session (payload_too_large, rate_limited, the socket stays), never
    // taken for one of the frames before the socket was accepted (rate_limited, close 1008)
    const kiosk = await TestKiosk.registered(t, `TEE-JOINED-${Date.now()}`);
    const hub = t.app.get(RelayHub);
    const sessions = t.app.get(SessionService);
    const attach = hub.attach.bind(hub);
    const find = sessions.find.bind(sessions);
    // the phone's second lookup of its session (its catch-up, after `joined`) takes until the
    // relay has read every frame the phone sent on `joined`, as a remote store's may: what the
    // tester met, made certain instead of a race against a Redis round trip
    let arrived: Promise<unknown> = Promise.resolve();
    const lookups = new Map<string, number>();
    const attachSpy = jest.spyOn(hub, 'attach').mockImplementation((role, ws, request) => {
      let count = 0;
      let all!: () => void;
      const read = new Promise<void>((resolve) => (all = resolve));
      ws.on('message', () => ++count === 42 && all());
      arrived = Promise.race([read, new Promise((resolve) => ws.once('close', resolve))]);
      return attach(role, ws, request);
    });
    const findSpy = jest.spyOn(sessions, 'find').mockImplementation(async (id) => {
      const found = await find(id);
      const seen = (lookups.get(id) ?? 0) + 1;
      lookups.set(id, seen);
      if (seen === 2) await arrived;
      return found;
    });
    try {
      for (let round = 0; round < 3; round++) {
        const session = await openSession(t, PLATFORM_ID);
        const url = `${t.wsUrl}/ws/mobile?token=${session.mobileToken}`;
        const mobile = await TestSocket.open(url, {
          onFrame: (frame, socket) => {
            if (frame.type !== 'joined') return;
            socket.send({ type: 'to_device', data: { blob: 'x'.repeat(70 * 1024) } });
            for (let i = 0; i <= 40; i++) socket.send({ type: 'ping' });
          },
        });
        await mobile.next('joined');
        await mobile.error('payload_too_large');
        // the burst (40) answered, the one after it dropped
        expect((await mobile.error('rate_limited')).message).toBe('Too many frames: slow down');
        // still in its session: the kiosk joins, and what it sends reaches the phone
        const device = await connectDevice(t, kiosk, session);
        await device.next('joined');
        device.send({ type: 'to_mobile', data: { round } });
        expect((await mobile.next('from_device')).data).toEqual({ round });
        expect(mobile.frames.filter((f) => f.type === 'pong')).toHaveLength(40);
        expect(mobile.closeCode).toBeUndefined();
        mobile.close();
        device.close();
      }
    } finally {
      attachSpy.mockRestore();
      findSpy.mockRestore();
    }
  });

  it('should close a phone that sends more than RELAY_MAX_QUEUED_FRAMES frames while its join waits, with rate_limited', async () => {
    const sessions = t.app.get(SessionService);
    const find = sessions.find.bind(sessions);
    // the phone's catch-up lookup (after `joined`) waits until released: its join is not done,
    // so every frame it sends meanwhile is held for its turn
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const lookups = new Map<string, number>();
    const findSpy = jest.spyOn(sessions, 'find').mockImplementation(async (id) => {
      const found = await find(id);
      const seen = (lookups.get(id) ?? 0) + 1;
      lookups.set(id, seen);
      if (seen === 2) await released;
      return found;
    });
    try {
      const session = await openSession(t, PLATFORM_ID);
      const mobile = await TestSocket.open(`${t.wsUrl}/ws/mobile?token=${session.mobileToken}`, {
        onFrame: (frame, socket) => {
          if (frame.type !== 'joined') return;
          // the default bound (100) and one more
          for (let i = 0; i <= 100; i++) socket.send({ type: 'ping' });
        },
      });
      const error = await mobile.error('rate_limited');
      expect(error.message).toBe(
        'Too many frames waiting on an earlier one (a join, a store call)',
      );
      expect(await mobile.waitClose()).toBe(1008);
      // none of the held frames was handled
      expect(mobile.frames.filter((f) => f.type === 'pong')).toEqual([]);
    } finally {
      release();
      findSpy.mockRestore();
    }
  });

  it('should close a kiosk that sends more than RELAY_MAX_QUEUED_BYTES while its auth is checked, with rate_limited', async () => {
    const kiosk = await TestKiosk.registered(t, `TEE-QUEUED-${Date.now()}`);
    const kiosks = t.app.get(KioskRegistryService);
    const authenticate = kiosks.authenticate.bind(kiosks);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const authSpy = jest.spyOn(kiosks, 'authenticate').mockImplementation(async (...args) => {
      await released;
      return authenticate(...args);
    });
    try {
      const session = await openSession(t, PLATFORM_ID);
      const device = await connectDevice(t, kiosk, session);
      // three frames of 5 MiB (each within a kiosk's frame limit, ~7 MiB; the three over its
      // queue bound, two of those and a frame: ~14.1 MiB)
      const big = JSON.stringify({ type: 'ping', pad: 'a'.repeat(5 * MIB) });
      device.ws.send(big);
      device.ws.send(big);
      device.ws.send(big);
      expect((await device.error('rate_limited')).message).toBe(
        'Too many frames waiting on an earlier one (a join, a store call)',
      );
      expect(await device.waitClose()).toBe(1008);
    } finally {
      release();
      authSpy.mockRestore();
    }
  });

  it('should refuse relayed data nested too deep with invalid_message (legacy hardware: dropped without it), and keep the socket', async () => {
    const kiosk = await TestKiosk.registered(t, 'TEE-HOSTILE-1');
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    mobile.send(nested('to_device', 5000));
    await mobile.error('invalid_message');
    device.send(nested('to_mobile', 33));
    await device.error('invalid_message');
    // within the bound it is relayed, as before
    mobile.send(nested('to_device', 3));
    expect((await device.next('from_mobile')).data).toEqual({ x: [[[]]] });
    expect([mobile.closeCode, device.closeCode]).toEqual([undefined, undefined]);
    mobile.close();
    device.close();

    const { hardware, app } = await pairedLegacy();
    // the fielded hardware takes any error frame as fatal: its frame is dropped without one
    hardware.send(nested('to_app', 10_000));
    app.send(nested('to_hardware', 10_000));
    await app.error('invalid_message');
    hardware.send({ type: 'to_app', data: { still: 'open' } });
    expect((await app.next('from_hardware')).data).toEqual({ still: 'open' });
    expect(hardware.frames.filter((f) => f.type === 'error')).toEqual([]);
    expect(app.frames.filter((f) => f.type === 'from_hardware')).toEqual([]);
    expect(t.logs()).not.toContain('Relay bus unavailable');
    hardware.close();
    app.close();
  });

  it('should report an upstream answer nested too deep as the upstream failure it is', async () => {
    upstream.behaviour = () => ({
      status: 200,
      rawBody: `{"status":"success","x":${'['.repeat(30_000)}${']'.repeat(30_000)}}`,
    });
    const { hardware, app } = await pairedLegacy();
    app.send({ type: 'to_hardware', data: { platform_id: PLATFORM_ID } });
    const alias = (await hardware.next('from_app')).data.platform_id as string;
    hardware.send({
      type: 'to_backend',
      data: { platform_id: alias, image_base64: fakeJpeg().toString('base64') },
    });
    const toHardware = await hardware.next('backend_response');
    expect([toHardware.status_code, toHardware.data.code]).toEqual([
      502,
      'upstream_unusable_answer',
    ]);
    expect((await app.next('backend_response')).status_code).toBe(502);
    // the fielded hardware never gets an error frame for an upstream outcome
    hardware.send({ type: 'ping' });
    await hardware.next('pong');
    expect(hardware.frames.filter((f) => f.type === 'error')).toEqual([]);
    hardware.close();
    app.close();

    const kiosk = await TestKiosk.registered(t, 'TEE-HOSTILE-2');
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
    const result = await mobile.next('result');
    expect([result.status, result.code, result.status_code]).toEqual([
      'failure',
      'upstream_unusable_answer',
      502,
    ]);
    expect((await device.next('result')).code).toBe('upstream_unusable_answer');
    upstream.behaviour = () => ({ status: 200, body: { status: 'success' } });
  });

  it('should give the legacy hardware no platform id under another key, nested, or in text', async () => {
    const { hardware, app } = await pairedLegacy();
    // before the session holds any id: only the key-and-shape rules can catch these
    const sent = [
      { platformId: PLATFORM_ID },
      { user: { platform_id: PLATFORM_ID, name: 'a' } },
      { note: `id is ${PLATFORM_ID.toLowerCase()}` },
      { list: [{ PLATFORM_ID: 1 }, `${PLATFORM_ID}!`] },
    ];
    for (const data of sent) app.send({ type: 'to_hardware', data });
    const got = [];
    for (let i = 0; i < sent.length; i++) got.push((await hardware.next('from_app')).data);
    expect(got).toEqual([
      {},
      { user: { name: 'a' } },
      { note: 'id is [platform_id removed]' },
      { list: [{}, '[platform_id removed]!'] },
    ]);
    // what the fielded hardware reads stays: data.platform_id, as the alias
    app.send({ type: 'to_hardware', data: { platform_id: PLATFORM_ID, step: 1 } });
    const aliased = (await hardware.next('from_app')).data;
    expect(aliased).toEqual({ platform_id: expect.stringMatching(/^PLT_ALIAS_/), step: 1 });
    app.send({ type: 'to_hardware', data: { note: `alias ${aliased.platform_id}` } });
    expect((await hardware.next('from_app')).data.note).toBe(`alias ${aliased.platform_id}`);
    expect(hardware.raw.filter((text) => holdsPlatformId(text, PLATFORM_ID))).toEqual([]);
    hardware.close();
    app.close();
  });

  it('should log a client breaking the WebSocket protocol as one warning without a stack', async () => {
    const { hardware, app } = await pairedLegacy();
    // a text frame that is not UTF-8
    hardware.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect(await hardware.waitClose()).toBe(1007);
    const lines = t
      .logs()
      .split('\n')
      .filter((line) => line.includes('WS_ERR_INVALID_UTF8'))
      .map((line) => JSON.parse(line) as { level: number; err?: unknown; stack?: unknown });
    expect(lines).toHaveLength(1);
    expect(lines[0].level).toBe(40);
    expect(JSON.stringify(lines[0])).not.toContain('    at ');
    app.close();
  });
});

/**
 * RELAY_MAX_IMAGE_BYTES raised (8 MiB: a kiosk frame up to ~11.2 MiB) and RELAY_MAX_QUEUED_BYTES
 * left at 8 MiB: a kiosk's large frame held behind an earlier one, then a ping, is honest traffic.
 * Before, the queue bound (8 MiB) closed the kiosk at the ping (1008, rate_limited).
 */
describe('a kiosk with a raised image limit and frames queued (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ RELAY_MAX_IMAGE_BYTES: String(8 * MIB) });
  });
  afterAll(() => t.close());

  it('should hold a submission-sized frame and a ping behind its auth, then answer them', async () => {
    const kiosk = await TestKiosk.registered(t, `TEE-BIGQUEUE-${Date.now()}`);
    const hub = t.app.get(RelayHub);
    const attach = hub.attach.bind(hub);
    const kiosks = t.app.get(KioskRegistryService);
    const authenticate = kiosks.authenticate.bind(kiosks);
    // the kiosk's auth check waits until the relay has read its three frames (the auth, the
    // large one, the ping): the two after the auth are queued behind it
    let arrived: Promise<unknown> = Promise.resolve();
    const attachSpy = jest.spyOn(hub, 'attach').mockImplementation((role, ws, request) => {
      let count = 0;
      let all!: () => void;
      const read = new Promise<void>((resolve) => (all = resolve));
      ws.on('message', () => ++count === 3 && all());
      arrived = Promise.race([read, new Promise((resolve) => ws.once('close', resolve))]);
      return attach(role, ws, request);
    });
    const authSpy = jest.spyOn(kiosks, 'authenticate').mockImplementation(async (...args) => {
      await arrived;
      return authenticate(...args);
    });
    try {
      const session = await openSession(t, PLATFORM_ID);
      const device = await connectDevice(t, kiosk, session);
      // the size of a submission of an 8 MiB image (within the kiosk's frame limit), then a ping
      device.ws.send(JSON.stringify({ type: 'ping', pad: 'a'.repeat(Math.floor(10.5 * MIB)) }));
      device.ws.send(JSON.stringify({ type: 'ping' }));
      await device.next('joined');
      // both handled after the join (before the fix: the ping closed the kiosk, rate_limited):
      // the large one, not a submission, is over a non-submission frame's limit, and the ping
      // is answered
      await device.error('payload_too_large');
      await device.next('pong');
      expect(device.frames.filter((f) => f.code === 'rate_limited')).toEqual([]);
      expect(device.closeCode).toBeUndefined();
    } finally {
      attachSpy.mockRestore();
      authSpy.mockRestore();
    }
  });
});

describe('WebSocket upgrades and the per-IP rate limit (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_IP: '5' });
  });
  afterAll(() => t.close());

  it('should answer 429 with Retry-After to an upgrade over the per-IP limit', async () => {
    const answers: Array<{ status: number; retryAfter?: string; body: string }> = [];
    for (let i = 0; i < 7; i++) {
      answers.push(
        await new Promise((resolve) => {
          const ws = new WebSocket(`${t.wsUrl}/ws/mobile?token=bad`);
          ws.on('error', () => undefined);
          ws.once('open', () => {
            ws.terminate();
            resolve({ status: 101, body: '' });
          });
          ws.once('unexpected-response', (_req, res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                retryAfter: res.headers['retry-after'],
                body,
              }),
            );
          });
        }),
      );
    }
    expect(answers.map((a) => a.status)).toEqual([101, 101, 101, 101, 101, 429, 429]);
    expect(Number(answers[5].retryAfter)).toBeGreaterThan(0);
    expect(JSON.parse(answers[5].body)).toMatchObject({ statusCode: 429, code: 'rate_limited' });
    // HTTP requests from the address count on the same counter
    expect((await http(t.baseUrl, 'GET', '/health')).status).toBe(429);
  });
});

describe('a client that stops reading (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      RELAY_MAX_SEND_BUFFER_BYTES: String(64 * 1024),
      RELAY_RATE_PER_SECOND: '10000',
      RELAY_RATE_BURST: '10000',
    });
  });
  afterAll(() => t.close());

  it('should close a socket that stops reading, and tell its peer it left', async () => {
    const { hardware, app } = await legacyPairOn(t);
    app.ws.pause();
    const note = 'n'.repeat(60 * 1024);
    // far more than the kernel's socket buffers and the 64 KiB bound hold
    for (let i = 0; i < 400; i++) hardware.send({ type: 'to_app', data: { note } });
    expect(await hardware.next('status', 10_000)).toEqual({
      type: 'status',
      msg: 'app disconnected',
    });
    expect(
      hardware.frames.filter((f) => f.type === 'error' && f.code !== 'peer_not_connected'),
    ).toEqual([]);
    app.ws.resume();
    expect(await app.waitClose()).not.toBe(1000);
    hardware.close();
  }, 120_000);
});
