import { TestingModule } from '@nestjs/testing';
import { generateKeyPairSync, sign, constants } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthModule, MetricsModule, Principal, RedisModule } from '@app/common';
import { compileServiceModule } from '@app/api/testing/service-testing-module';
import { KioskRegistryService, kioskAuthMessage } from '@app/kiosk-registry';
import { SqliteStoreHandle, Store } from '@app/persistence';
import { SessionService } from '@app/session';
import { ConnectionView, PEER_ROLE, PlatformIdSet } from '../relay-connection';
import { RelayModule } from '../relay.module';
import { outboundProblem, RelayRole } from '../protocol/messages';
import { LegacyHandler } from './legacy.handler';
import { PairingHandler } from './pairing.handler';
import { Reply } from './reply';

const PLATFORM_ID = 'PLT_handlerUser001';
/** The smallest "JPEG" the submission check takes: its magic bytes and a little more. */
const JPEG_BASE64 = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]).toString('base64');
const ADMIN: Principal = { keyId: 'k', roles: ['provisioner'] } as unknown as Principal;

/**
 * A Reply's frames as they go on the wire: each one a frame its socket may be sent, per the
 * protocol declarations (the sender's frames to its role, toPeer to the peer's).
 */
function wire(reply: Reply, role: RelayRole): Reply {
  for (const frame of reply.frames)
    expect([frame, outboundProblem(role, frame)]).toEqual([frame, undefined]);
  for (const frame of reply.toPeer ?? [])
    expect([frame, outboundProblem(PEER_ROLE[role], frame)]).toEqual([frame, undefined]);
  return reply;
}

/** A real local HTTP server as the identity API; each test says how it answers. */
interface Upstream {
  url: string;
  server: Server;
  answer: (req: IncomingMessage, res: ServerResponse) => void;
  calls: number;
}

async function startUpstream(): Promise<Upstream> {
  const up = { answer: () => undefined, calls: 0 } as unknown as Upstream;
  up.server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      up.calls++;
      up.answer(req, res);
    });
  });
  await new Promise<void>((resolve) => up.server.listen(0, '127.0.0.1', resolve));
  up.url = `http://127.0.0.1:${(up.server.address() as AddressInfo).port}`;
  return up;
}

const json = (status: number, body: unknown) => (_req: IncomingMessage, res: ServerResponse) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

function view(
  role: RelayRole,
  sessionId: string,
  extra: Partial<ConnectionView> = {},
): ConnectionView {
  return {
    role,
    sessionId,
    expiresAt: new Date(Date.now() + 60_000),
    peerPresent: true,
    platformIds: new PlatformIdSet(),
    ...extra,
  };
}

/**
 * The protocol handlers, without a socket: the real RelayModule on a real SQLite file; each
 * frame's Reply is checked as a value.
 */
describe('protocol handlers', () => {
  let dataDir: string;
  let moduleRef: TestingModule;
  let pairing: PairingHandler;
  let legacy: LegacyHandler;
  let sessions: SessionService;
  let upstream: Upstream;
  /** The key of the kiosk in pairedSession (its standing is checked before the upstream call). */
  let kioskKeyFingerprint: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-handlers-'));
    upstream = await startUpstream();
    moduleRef = await compileServiceModule({
      dataDir,
      env: { UPSTREAM_URL: upstream.url, UPSTREAM_RETRIES: '0' },
      imports: [RedisModule, AuthModule, MetricsModule, RelayModule],
    });
    pairing = moduleRef.get(PairingHandler);
    legacy = moduleRef.get(LegacyHandler);
    sessions = moduleRef.get(SessionService);
    const registry = moduleRef.get(KioskRegistryService);
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await registry.register(
      'TEE-HANDLER-S',
      publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      ADMIN,
    );
    kioskKeyFingerprint = (await registry.require('TEE-HANDLER-S')).keyFingerprint;
  });
  afterAll(async () => {
    await moduleRef.close();
    upstream.server.closeAllConnections();
    await new Promise((resolve) => upstream.server.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A new-protocol session with a kiosk already in it. */
  async function pairedSession() {
    const opened = await sessions.openMobileSession('u', PLATFORM_ID);
    const sessionId = opened.session.id;
    const device = view('device', sessionId, {
      deviceId: 'TEE-HANDLER-S',
      keyFingerprint: kioskKeyFingerprint,
      platformId: PLATFORM_ID,
    });
    device.platformIds.add(PLATFORM_ID);
    return { sessionId, device };
  }

  /** A legacy session whose app sent the platform id: the alias the hardware holds. */
  async function legacySession() {
    const opened = await sessions.openLegacySession();
    const sessionId = JSON.parse(Buffer.from(opened.token.split('.')[1], 'base64url').toString())
      .jti as string;
    const app = view('app', sessionId);
    wire(await legacy.onToHardware(app, { platform_id: PLATFORM_ID }), 'app');
    return { sessionId, app, alias: app.platformAlias! };
  }

  it('should relay to the peer, or refuse when the peer is not there', () => {
    const frame = { type: 'to_device', data: { a: 1 } } as const;
    expect(pairing.handle(view('mobile', 's1'), frame)).toEqual({
      frames: [],
      toPeer: [{ type: 'from_mobile', data: { a: 1 } }],
    });
    expect(pairing.handle(view('mobile', 's1', { peerPresent: false }), frame)).toEqual({
      frames: [
        { type: 'error', code: 'peer_not_connected', message: 'The device is not connected' },
      ],
    });
  });

  it('should pass what the hardware sends to the app as it is', () => {
    const data = { echo: 'PLT_ALIAS_abc' };
    expect(legacy.handle(view('hardware', 's1'), { type: 'to_app', data })).toEqual({
      frames: [],
      toPeer: [{ type: 'from_hardware', data }],
    });
  });

  it('should keep the legacy platform id once, refuse another and refuse a malformed one', async () => {
    const opened = await sessions.openLegacySession();
    const sessionId = JSON.parse(
      Buffer.from(opened.token.split('.')[1], 'base64url').toString(),
    ).jti;
    const app = view('app', sessionId);
    const first = await legacy.onToHardware(app, { platform_id: PLATFORM_ID });
    expect(first.toPeer).toEqual([{ type: 'from_app', data: { platform_id: PLATFORM_ID } }]);
    expect(app.platformAlias).toMatch(/^PLT_ALIAS_/);
    expect(app.platformIds.matcher.test(PLATFORM_ID.toUpperCase())).toBe(true);
    expect(
      (await legacy.onToHardware(app, { platform_id: 'PLT_anotherUser00' })).frames[0],
    ).toMatchObject({
      code: 'platform_id_already_set',
    });
    expect(
      (await legacy.onToHardware(view('app', sessionId), { platform_id: 'joined' })).frames[0],
    ).toMatchObject({
      code: 'invalid_message',
    });
  });

  it('should answer kiosk auth with a verdict, closing on refusal, joining on success', async () => {
    const opened = await sessions.openMobileSession('u', PLATFORM_ID);
    const sessionId = opened.session.id;
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await moduleRef
      .get(KioskRegistryService)
      .register(
        'TEE-HANDLER-1',
        publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        ADMIN,
      );
    const signature = (nonce: string) =>
      sign('sha256', kioskAuthMessage(sessionId, nonce), {
        key: privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      }).toString('base64');
    const auth = (deviceId: string, sig: string) =>
      ({ type: 'auth', session_id: sessionId, device_id: deviceId, signature: sig }) as const;

    const unknown = await pairing.onAuth(
      view('device', sessionId, { nonce: 'n1' }),
      auth('TEE-NOPE', signature('n1')),
    );
    expect(unknown).toMatchObject({
      frames: [{ code: 'device_not_registered' }],
      close: { code: 4403 },
    });
    const wrong = await pairing.onAuth(
      view('device', sessionId, { nonce: 'n2' }),
      auth('TEE-HANDLER-1', signature('other')),
    );
    expect(wrong).toMatchObject({ frames: [{ code: 'invalid_signature' }], close: { code: 4401 } });
    const device = view('device', sessionId, { nonce: 'n3' });
    const authenticating = pairing.onAuth(device, auth('TEE-HANDLER-1', signature('n3')));
    // known while the key is being read: a block landing meanwhile finds the socket (the hub)
    expect(device.deviceId).toBe('TEE-HANDLER-1');
    expect(await authenticating).toEqual({
      frames: [],
      join: true,
    });
    expect(device.platformIds.matcher.test(PLATFORM_ID)).toBe(true);
    // one try: the nonce is gone
    expect(
      (await pairing.onAuth(device, auth('TEE-HANDLER-1', signature('n3')))).frames[0],
    ).toMatchObject({
      code: 'unknown_type',
    });
  });

  it('should relay what the kiosk sends to the phone as from_device', () => {
    expect(
      wire(
        pairing.handle(view('device', 's1'), { type: 'to_mobile', data: { step: 2 } }) as Reply,
        'device',
      ),
    ).toEqual({ frames: [], toPeer: [{ type: 'from_device', data: { step: 2 } }] });
  });

  it("should refuse the other protocol's frames and the keepalive, which the intake answers", () => {
    for (const [handler, role, frame] of [
      [pairing, 'mobile', { type: 'to_hardware', data: {} }],
      [pairing, 'device', { type: 'to_backend', data: {} }],
      [pairing, 'mobile', { type: 'ping' }],
      [legacy, 'app', { type: 'to_device', data: {} }],
      [legacy, 'hardware', { type: 'submit_result', image: 'x' }],
      [legacy, 'hardware', { type: 'pong' }],
    ] as const) {
      const reply = wire(handler.handle(view(role, 's1'), frame) as Reply, role);
      expect(reply).toEqual({
        frames: [expect.objectContaining({ type: 'error', code: 'unknown_type' })],
      });
      expect(reply.close).toBeUndefined();
    }
  });

  it('should refuse an auth frame on the phone socket and a second one on the kiosk socket', async () => {
    const auth = { type: 'auth', session_id: 's1', device_id: 'TEE-X', signature: 'AAAA' } as const;
    expect(await pairing.onAuth(view('mobile', 's1'), auth)).toEqual({
      frames: [expect.objectContaining({ code: 'unknown_type' })],
    });
    expect(await pairing.onAuth(view('device', 's1'), auth)).toEqual({
      frames: [{ type: 'error', code: 'unknown_type', message: 'Already authenticated' }],
    });
  });

  it('should close on an auth for another session, without asking the registry', async () => {
    const reply = await pairing.onAuth(view('device', 's1', { nonce: 'n' }), {
      type: 'auth',
      session_id: 's2',
      device_id: 'TEE-X',
      signature: 'AAAA',
    });
    expect(wire(reply, 'device')).toEqual({
      frames: [expect.objectContaining({ code: 'session_mismatch' })],
      close: { code: 4401, reason: 'session_mismatch' },
    });
  });

  it('should close on a blocked kiosk, whatever it signed', async () => {
    const opened = await sessions.openMobileSession('u', PLATFORM_ID);
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const registry = moduleRef.get(KioskRegistryService);
    await registry.register(
      'TEE-BLOCKED-1',
      publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      ADMIN,
    );
    await registry.setStatus('TEE-BLOCKED-1', 'blocked', 'stolen', ADMIN);
    const reply = await pairing.onAuth(view('device', opened.session.id, { nonce: 'n' }), {
      type: 'auth',
      session_id: opened.session.id,
      device_id: 'TEE-BLOCKED-1',
      signature: 'AAAA',
    });
    expect(wire(reply, 'device')).toEqual({
      frames: [expect.objectContaining({ code: 'device_blocked' })],
      close: { code: 4403, reason: 'device_blocked' },
    });
  });

  it("should answer a submission with the phone's result and the kiosk's allowlisted copy, then close both", async () => {
    const { sessionId, device } = await pairedSession();
    upstream.answer = json(200, {
      status: 'success',
      platform_id: PLATFORM_ID,
      user: { name: 'A' },
    });
    const reply = wire(await pairing.onSubmit(device, JPEG_BASE64), 'device');
    const closed = { type: 'session_closed', reason: 'completed' };
    expect(reply).toEqual({
      frames: [
        {
          type: 'result',
          status: 'success',
          status_code: 200,
          data: { status: 'success' },
          latency_ms: expect.any(Number),
        },
        closed,
      ],
      toPeer: [
        {
          type: 'result',
          status: 'success',
          status_code: 200,
          platform_id: PLATFORM_ID,
          data: { status: 'success', platform_id: PLATFORM_ID, user: { name: 'A' } },
          latency_ms: expect.any(Number),
        },
        closed,
      ],
      close: { code: 1000, reason: 'completed' },
      closePeer: { code: 1000, reason: 'completed' },
    });
    // one successful submission per session
    expect(wire(await pairing.onSubmit(device, JPEG_BASE64), 'device')).toEqual({
      frames: [expect.objectContaining({ code: 'already_submitted' })],
    });
    expect((await sessions.find(sessionId))?.status).toBe('completed');
  });

  it('should answer an upstream 5xx as a failed result with its code, and close both', async () => {
    const { device } = await pairedSession();
    upstream.answer = json(500, { error: 'down' });
    const reply = wire(
      await pairing.handle(device, { type: 'submit_result', image: JPEG_BASE64 }),
      'device',
    );
    expect(reply.frames[0]).toMatchObject({
      type: 'result',
      status: 'failure',
      code: 'upstream_error',
      status_code: 500,
      data: {},
    });
    expect(reply.toPeer?.[0]).toMatchObject({ code: 'upstream_error', data: { error: 'down' } });
    expect(reply.close).toEqual({ code: 1000, reason: 'completed' });
  });

  it('should refuse an image that is not a JPEG or PNG before anything is sent', async () => {
    const { device } = await pairedSession();
    const before = upstream.calls;
    const notAnImage = Buffer.from('hello world!').toString('base64');
    expect(wire(await pairing.onSubmit(device, notAnImage), 'device')).toEqual({
      frames: [expect.objectContaining({ code: 'invalid_image' })],
    });
    expect(wire(await pairing.onSubmit(device, 'not base64!'), 'device')).toEqual({
      frames: [expect.objectContaining({ code: 'invalid_image' })],
    });
    expect(upstream.calls).toBe(before);
  });

  it("should answer the legacy upload with backend_response to both, the hardware's allowlisted", async () => {
    const { sessionId, alias } = await legacySession();
    const hardware = view('hardware', sessionId, { platformAlias: alias });
    upstream.answer = json(200, { status: 'success', message: 'ok', platform_id: PLATFORM_ID });
    const reply = wire(
      await legacy.handle(hardware, {
        type: 'to_backend',
        data: { platform_id: alias, image_base64: JPEG_BASE64 },
      }),
      'hardware',
    );
    expect(reply).toEqual({
      frames: [
        {
          type: 'backend_response',
          status_code: 200,
          data: { status: 'success', message: 'ok' },
          latency_ms: expect.any(Number),
        },
      ],
      toPeer: [
        {
          type: 'backend_response',
          status_code: 200,
          data: { status: 'success', message: 'ok', platform_id: PLATFORM_ID },
          latency_ms: expect.any(Number),
        },
      ],
    });
    expect(hardware.platformIds.matcher.test(PLATFORM_ID)).toBe(true);
  });

  it('should refuse a legacy upload without the platform id, or with one the session does not hold', async () => {
    const { sessionId } = await legacySession();
    const hardware = view('hardware', sessionId);
    const upload = (data: Record<string, unknown>) =>
      legacy.handle(hardware, { type: 'to_backend', data }) as Promise<Reply>;
    expect(wire(await upload({ image_base64: JPEG_BASE64 }), 'hardware').frames).toEqual([
      expect.objectContaining({ code: 'missing_platform_id' }),
    ]);
    expect(
      wire(await upload({ platform_id: PLATFORM_ID, image_base64: JPEG_BASE64 }), 'hardware')
        .frames,
    ).toEqual([expect.objectContaining({ code: 'unknown_platform_id' })]);
  });

  it('should refuse legacy relaying when the other side is not there', () => {
    expect(
      wire(
        legacy.handle(view('hardware', 's1', { peerPresent: false }), {
          type: 'to_app',
          data: {},
        }) as Reply,
        'hardware',
      ),
    ).toEqual({
      frames: [{ type: 'error', code: 'peer_not_connected', message: 'The app is not connected' }],
    });
  });

  it('should end the session for the phone when a kiosk kicked mid-submission gets no final outcome', async () => {
    const { device } = await pairedSession();
    // the hub kicked the kiosk while this submission was in flight (RelayHub.endKioskSessions)
    device.revokedBy = 'device_blocked';
    expect(wire(await pairing.onSubmit(device, 'not base64!'), 'device')).toEqual({
      frames: [expect.objectContaining({ code: 'invalid_image' })],
      toPeer: [{ type: 'session_closed', reason: 'device_blocked' }],
      closePeer: { code: 4409, reason: 'kiosk_revoked' },
    });
  });

  it("should refuse with standing_unavailable, storing and sending nothing, when the kiosk's standing cannot be read", async () => {
    const { sessionId, device } = await pairedSession();
    const before = upstream.calls;
    // the real store, its kiosk table gone for the moment: the standing read fails, the
    // session's own reads and writes (the claim, its release) still work
    const db = moduleRef.get(SqliteStoreHandle).db;
    db.exec('ALTER TABLE kiosk_devices RENAME TO kiosk_devices_away');
    let reply: Reply;
    try {
      reply = wire(await pairing.onSubmit(device, JPEG_BASE64), 'device');
    } finally {
      db.exec('ALTER TABLE kiosk_devices_away RENAME TO kiosk_devices');
    }
    expect(reply).toEqual({
      frames: [expect.objectContaining({ type: 'error', code: 'standing_unavailable' })],
    });
    expect(upstream.calls).toBe(before);
    const session = await sessions.find(sessionId);
    expect(session?.status).toBe('open');
    expect(session?.imageFileId).toBeUndefined();
    // the kiosk may submit again once the store answers
    upstream.answer = json(200, { status: 'success' });
    expect((await pairing.onSubmit(device, JPEG_BASE64)).frames[0]).toMatchObject({
      type: 'result',
      status: 'success',
    });
  });

  it('should let a store failure during kiosk auth through as a failure, never as a verdict', async () => {
    const opened = await sessions.openMobileSession('u', PLATFORM_ID);
    await moduleRef.get(Store).close(); // the last test: the store is gone
    await expect(
      pairing.onAuth(view('device', opened.session.id, { nonce: 'n' }), {
        type: 'auth',
        session_id: opened.session.id,
        device_id: 'TEE-HANDLER-1',
        signature: 'AAAA',
      }),
    ).rejects.toThrow();
  });
});
