import { FakeUpstream, fakeJpeg, startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { legacyPair as legacyPairIn } from './support/pairing';
import { http, pollUntil, startTestApp, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

const PLATFORM_ID = 'PLT_jjbmYWeq3o1W';

/**
 * The fielded kiosk and app speak the old protocol, unchanged. This walks through exactly what
 * the old hardware client does (DESIGN.md §4), and checks that the hardware never sees the real
 * platform id, only the session's alias.
 */
describe('legacy protocol (e2e)', () => {
  let relay: UpstreamApps;
  let t: TestApp;
  let upstream: FakeUpstream;

  beforeAll(async () => {
    relay = await startUpstreamApps({
      // a socket whose pong is not in by the next sweep is dropped: a second, not 300 ms, so
      // that a loaded machine's stall of this process between the two drops no live socket
      env: { UPSTREAM_API_KEY: 'mercle', RELAY_PING_INTERVAL_MS: '1000' },
    });
    ({ t, upstream } = relay);
  });
  afterAll(() => relay.close());

  const legacyPair = () => legacyPairIn(t);

  it('should run the fielded flow unchanged, with an alias in place of the platform id', async () => {
    const auth = await http(t.baseUrl, 'POST', '/auth', { body: { api_key: t.keys.hardware } });
    expect(auth.status).toBe(200);
    expect(Object.keys(auth.body).sort()).toEqual(['expires_in', 'token']);
    expect(auth.body.expires_in).toBe(180);

    const hardware = await TestSocket.open(`${t.wsUrl}/ws/hardware?token=${auth.body.token}`);
    expect(await hardware.next('joined')).toEqual({ type: 'joined', role: 'hardware' });
    const app = await TestSocket.open(`${t.wsUrl}/ws/app?token=${auth.body.token}`);
    expect(await app.next('joined')).toEqual({ type: 'joined', role: 'app' });
    expect(await hardware.next('status')).toEqual({ type: 'status', msg: 'app connected' });
    expect(await app.next('status')).toEqual({ type: 'status', msg: 'hardware connected' });

    // keepalive: the server pings, the hardware answers pong and stays connected
    expect(await hardware.next('ping', 10_000)).toEqual({ type: 'ping' });
    hardware.send({ type: 'ping' });
    expect(await hardware.next('pong')).toEqual({ type: 'pong' });

    // the hello exchange
    app.send({ type: 'to_hardware', data: { message: 'hello' } });
    expect(await hardware.next('from_app')).toEqual({
      type: 'from_app',
      data: { message: 'hello' },
    });
    hardware.send({ type: 'to_app', data: { message: 'hello' } });
    expect(await app.next('from_hardware')).toEqual({
      type: 'from_hardware',
      data: { message: 'hello' },
    });

    // the platform id: the hardware holds an opaque alias
    app.send({ type: 'to_hardware', data: { platform_id: PLATFORM_ID } });
    const fromApp = await hardware.next('from_app');
    const alias = fromApp.data.platform_id as string;
    expect(alias).toMatch(/^PLT_ALIAS_[A-Za-z0-9_-]+$/);
    expect(alias).not.toBe(PLATFORM_ID);

    // the upload with the alias; upstream gets the real id
    const image = fakeJpeg().toString('base64');
    hardware.send({ type: 'to_backend', data: { platform_id: alias, image_base64: image } });
    const hwResponse = await hardware.next('backend_response');
    const appResponse = await app.next('backend_response');
    expect(hwResponse).toEqual({
      type: 'backend_response',
      status_code: 200,
      data: { status: 'success', message: 'face verified' },
      latency_ms: expect.any(Number),
    });
    expect(appResponse).toEqual(hwResponse);
    expect(upstream.calls.at(-1)?.body).toEqual({ platform_id: PLATFORM_ID, image_base64: image });
    expect(upstream.calls.at(-1)?.headers['x-api-key']).toBe('mercle');

    expect(hardware.raw.join('\n')).not.toContain(PLATFORM_ID);
    expect(hardware.closeCode).toBeUndefined();
    hardware.close();
    app.close();
  });

  it("should give the hardware only the allowlisted fields of the upstream answer, with the alias, and pass the hardware's messages to the app as sent", async () => {
    upstream.behaviour = (call) => ({
      status: 200,
      body: {
        status: 'success',
        platform_id: call.body.platform_id,
        message: `welcome ${call.body.platform_id}`,
      },
    });
    const { hardware, app } = await legacyPair();
    await hardware.next('status');
    app.send({
      type: 'to_hardware',
      data: { platform_id: PLATFORM_ID, note: `for ${PLATFORM_ID}` },
    });
    const fromApp = await hardware.next('from_app');
    const alias = fromApp.data.platform_id as string;
    expect(fromApp.data.note).toBe(`for ${alias}`);
    // the server never writes the real id into what the hardware sent
    hardware.send({ type: 'to_app', data: { got: alias } });
    expect((await app.next('from_hardware')).data).toEqual({ got: alias });
    hardware.send({
      type: 'to_backend',
      data: { platform_id: alias, image_base64: fakeJpeg().toString('base64') },
    });
    expect((await hardware.next('backend_response')).data).toEqual({
      status: 'success',
      message: `welcome ${alias}`,
    });
    expect((await app.next('backend_response')).data.platform_id).toBe(PLATFORM_ID);
    expect(hardware.raw.join('\n')).not.toContain(PLATFORM_ID);
    upstream.behaviour = () => ({ status: 200, body: { status: 'success' } });
  });

  it('should refuse uploads without a known platform id, and a second upload', async () => {
    const { hardware, app } = await legacyPair();
    hardware.send({ type: 'to_backend', data: { image_base64: fakeJpeg().toString('base64') } });
    await hardware.error('missing_platform_id');
    hardware.send({
      type: 'to_backend',
      data: { platform_id: 'PLT_guess', image_base64: fakeJpeg().toString('base64') },
    });
    await hardware.error('unknown_platform_id');
    app.send({ type: 'to_hardware', data: { platform_id: PLATFORM_ID } });
    const alias = (await hardware.next('from_app')).data.platform_id;
    hardware.send({
      type: 'to_backend',
      data: { platform_id: PLATFORM_ID, image_base64: fakeJpeg().toString('base64') },
    });
    await hardware.error('unknown_platform_id');
    hardware.send({
      type: 'to_backend',
      data: { platform_id: alias, image_base64: fakeJpeg().toString('base64') },
    });
    await hardware.next('backend_response');
    hardware.send({
      type: 'to_backend',
      data: { platform_id: alias, image_base64: fakeJpeg().toString('base64') },
    });
    // a repeated upload is harmless: a status frame, not an error the hardware takes as fatal
    expect(
      await pollUntil(
        async () =>
          hardware.frames.some((f) => f.type === 'status' && f.msg === 'already submitted'),
        (seen) => seen,
      ),
    ).toBe(true);
    expect(hardware.frames.filter((f) => f.type === 'error')).toEqual([]);
  });

  it('should refuse a wrong /auth key, a token of the new protocol, and a second hardware', async () => {
    expect(
      (await http(t.baseUrl, 'POST', '/auth', { body: { api_key: t.keys.mobile } })).status,
    ).toBe(401);
    expect((await http(t.baseUrl, 'POST', '/auth', { body: {} })).status).toBe(400);
    const { token, hardware } = await legacyPair();
    const second = await TestSocket.open(`${t.wsUrl}/ws/hardware?token=${token}`);
    await second.error('already_connected');
    expect(await second.waitClose()).toBe(4409);
    const onNewPath = await TestSocket.open(`${t.wsUrl}/ws/device?token=${token}`);
    await onNewPath.error('wrong_token_type');
    hardware.close();
  });

  it('should close a client that answers no ping', async () => {
    const auth = await http(t.baseUrl, 'POST', '/auth', { body: { api_key: t.keys.hardware } });
    const silent = await TestSocket.open(`${t.wsUrl}/ws/hardware?token=${auth.body.token}`, {
      autoPong: false,
    });
    await silent.next('joined');
    expect(await silent.waitClose(10_000)).toBe(1006);
  });
});

/**
 * The session lifetime of the deadline tests. Its token's `exp` is whole seconds (rounded down),
 * so sockets open on it for one second less at worst: this leaves a loaded machine seconds to
 * pair before the deadline (2 s left it one at worst: a slow pairing would meet `session_expired`).
 */
const SHORT_TTL_SECONDS = 6;

describe('legacy protocol, token deadline (e2e)', () => {
  it('should close both legacy sockets with 4000 at the deadline, without a frame, as the old server did', async () => {
    const t = await startTestApp({ SESSION_TTL_SECONDS: String(SHORT_TTL_SECONDS) });
    try {
      const auth = await http(t.baseUrl, 'POST', '/auth', { body: { api_key: t.keys.hardware } });
      expect(auth.body.expires_in).toBe(SHORT_TTL_SECONDS);
      const hardware = await TestSocket.open(`${t.wsUrl}/ws/hardware?token=${auth.body.token}`);
      const app = await TestSocket.open(`${t.wsUrl}/ws/app?token=${auth.body.token}`);
      expect(await hardware.waitClose((SHORT_TTL_SECONDS + 10) * 1000)).toBe(4000);
      expect(await app.waitClose((SHORT_TTL_SECONDS + 10) * 1000)).toBe(4000);
      const types = [...hardware.frames, ...app.frames].map((f) => f.type);
      expect(types.filter((type) => !['joined', 'status', 'ping'].includes(type))).toEqual([]);
      // a socket opened after the deadline is refused as on every path: the error, then 4408
      const late = await TestSocket.open(`${t.wsUrl}/ws/hardware?token=${auth.body.token}`);
      expect(await late.next('error')).toMatchObject({ code: 'session_expired' });
      expect(await late.waitClose()).toBe(4408);
    } finally {
      await t.close();
    }
  });
});
