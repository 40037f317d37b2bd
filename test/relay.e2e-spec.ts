import { kioskAuthMessage } from '@app/kiosk-registry';
import { OpensslKiosk } from './support/openssl';
import { FakeUpstream, fakeJpeg, startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { TestKiosk } from './support/kiosk';
import { connectDevice, openSession, pair } from './support/pairing';
import { http, pollUntil, startTestApp, storeRow, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

const PLATFORM_ID = 'PLT_jjbmYWeq3o1W';

describe('pairing relay, new protocol (e2e)', () => {
  let relay: UpstreamApps;
  let t: TestApp;
  let upstream: FakeUpstream;
  let kiosk: TestKiosk;
  let n = 0;

  beforeAll(async () => {
    relay = await startUpstreamApps({
      env: {
        UPSTREAM_API_KEY: 'upstream-secret-key',
        // an attempt's bound: the upstream here answers at once (or after a scripted delay
        // past it), and 500 ms was in reach of a loaded machine's stall of this process
        UPSTREAM_TIMEOUT_MS: '2000',
        UPSTREAM_RETRIES: '2',
        RELAY_MAX_IMAGE_BYTES: '65536',
      },
    });
    ({ t, upstream } = relay);
    kiosk = await TestKiosk.registered(t, 'TEE-RELAY-1');
  });
  afterAll(() => relay.close());
  beforeEach(() => relay.reset({ behaviour: true }));

  it('should run the whole flow: session, QR, join, auth, routing, submission, result, close', async () => {
    const session = await openSession(t, PLATFORM_ID);
    expect(session.body.qr_payload).toEqual({
      type: 'session',
      session_id: session.sessionId,
      token: session.deviceToken,
      ws_device_url: `${t.wsUrl}/ws/device`,
    });
    expect(session.mobileToken).not.toBe(session.deviceToken);
    for (const token of [session.mobileToken, session.deviceToken]) {
      const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
      expect(JSON.stringify(claims)).not.toContain(PLATFORM_ID);
    }

    const mobile = await TestSocket.open(`${t.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    expect(await mobile.next('joined')).toEqual({
      type: 'joined',
      role: 'mobile',
      session_id: session.sessionId,
      expires_at: session.expiresAt,
    });
    const device = await TestSocket.open(`${t.wsUrl}/ws/device?token=${session.deviceToken}`);
    const challenge = await device.next('challenge');
    expect(challenge.nonce).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    device.send({
      type: 'auth',
      session_id: session.sessionId,
      device_id: kiosk.deviceId,
      signature: kiosk.signAuth(session.sessionId, challenge.nonce),
    });
    expect(await device.next('joined')).toEqual({
      type: 'joined',
      role: 'device',
      session_id: session.sessionId,
      expires_at: session.expiresAt,
    });
    expect(await mobile.next('status')).toEqual({
      type: 'status',
      peer: 'device',
      state: 'connected',
      device_id: kiosk.deviceId,
    });
    expect(await device.next('status')).toEqual({
      type: 'status',
      peer: 'mobile',
      state: 'connected',
    });

    mobile.send({
      type: 'to_device',
      data: { step: 'look', user: { platform_id: PLATFORM_ID, note: `id ${PLATFORM_ID}` } },
    });
    expect(await device.next('from_mobile')).toEqual({
      type: 'from_mobile',
      data: { step: 'look', user: { note: 'id [platform_id removed]' } },
    });
    device.send({ type: 'to_mobile', data: { progress: 3 } });
    expect(await mobile.next('from_device')).toEqual({
      type: 'from_device',
      data: { progress: 3 },
    });

    const image = fakeJpeg();
    device.send({ type: 'submit_result', image: image.toString('base64'), passes: 5 });
    const mobileResult = await mobile.next('result');
    const deviceResult = await device.next('result');
    expect(mobileResult).toMatchObject({
      type: 'result',
      status: 'success',
      platform_id: PLATFORM_ID,
      status_code: 200,
      data: { status: 'success' },
    });
    expect(mobileResult.latency_ms).toEqual(expect.any(Number));
    const { platform_id: _removed, ...withoutPlatformId } = mobileResult;
    expect(deviceResult).toEqual(withoutPlatformId);
    expect(upstream.calls).toHaveLength(1);
    expect(upstream.calls[0].headers['x-api-key']).toBe('upstream-secret-key');
    expect(upstream.calls[0].body).toEqual({
      platform_id: PLATFORM_ID,
      image_base64: image.toString('base64'),
    });
    expect(await mobile.next('session_closed')).toEqual({
      type: 'session_closed',
      reason: 'completed',
    });
    expect(await device.next('session_closed')).toEqual({
      type: 'session_closed',
      reason: 'completed',
    });
    expect(await mobile.waitClose()).toBe(1000);
    expect(await device.waitClose()).toBe(1000);
    expect(device.raw.join('\n')).not.toContain(PLATFORM_ID);

    // the image was stored in the Vault first, and the session keeps its file id
    const row = await storeRow(t, 'pairing_sessions', session.sessionId);
    expect(row).toMatchObject({
      status: 'completed',
      ...(row.result ? { result: { status: 'success' } } : { result_status: 'success' }),
      [row.imageFileId ? 'imageFileId' : 'image_file_id']: expect.stringMatching(/^[0-9a-f]{24}$/),
    });
    const imageFileId = (row.imageFileId ?? row.image_file_id) as string;
    const stored = await fetch(`${t.baseUrl}/api/v5/vault/${imageFileId}`, {
      headers: {
        'x-api-key': t.keys.auditor,
        'x-access-purpose': 'e2e check of a face submission',
      },
    });
    expect(stored.status).toBe(200);
    expect(Buffer.from(await stored.arrayBuffer())).toEqual(image);

    // a completed session opens no new socket
    const late = await TestSocket.open(`${t.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    await late.error('session_closed');
    expect(await late.waitClose()).toBe(4409);
    expect(t.logs()).not.toContain(PLATFORM_ID);
  });

  it('should authenticate a kiosk whose signature is made by the OpenSSL command line', async () => {
    const ossl = new OpensslKiosk();
    try {
      await http(t.baseUrl, 'POST', '/api/register-device', {
        key: t.keys.provisioner,
        body: { device_id: 'TEE-OSSL-RELAY', public_key: ossl.publicKeyPem() },
      });
      const session = await openSession(t, PLATFORM_ID);
      const mobile = await TestSocket.open(`${t.wsUrl}/ws/mobile?token=${session.mobileToken}`);
      const device = await TestSocket.open(`${t.wsUrl}/ws/device?token=${session.deviceToken}`);
      const { nonce } = await device.next('challenge');
      device.send({
        type: 'auth',
        session_id: session.sessionId,
        device_id: 'TEE-OSSL-RELAY',
        signature: ossl.signPss(kioskAuthMessage(session.sessionId, nonce)),
      });
      await device.next('joined');
      expect((await mobile.next('status')).device_id).toBe('TEE-OSSL-RELAY');
      mobile.close();
      device.close();
    } finally {
      ossl.dispose();
    }
  });

  it('should close a kiosk socket on a bad signature, an unregistered or a blocked kiosk', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const attempt = async (deviceId: string, sign: (nonce: string) => string) => {
      const device = await TestSocket.open(`${t.wsUrl}/ws/device?token=${session.deviceToken}`);
      const { nonce } = await device.next('challenge');
      device.send({
        type: 'auth',
        session_id: session.sessionId,
        device_id: deviceId,
        signature: sign(nonce),
      });
      const error = await device.next('error');
      return { code: error.code, close: await device.waitClose() };
    };
    const other = new TestKiosk('TEE-NOT-REGISTERED');
    expect(
      await attempt(kiosk.deviceId, (nonce) => other.signAuth(session.sessionId, nonce)),
    ).toEqual({ code: 'invalid_signature', close: 4401 });
    expect(
      await attempt(kiosk.deviceId, (nonce) => kiosk.signAuth(session.sessionId, `${nonce}x`)),
    ).toEqual({ code: 'invalid_signature', close: 4401 });
    expect(
      await attempt('TEE-NOT-REGISTERED', (nonce) => other.signAuth(session.sessionId, nonce)),
    ).toEqual({ code: 'device_not_registered', close: 4403 });
    const blocked = await TestKiosk.registered(t, `TEE-BLOCKED-${++n}`);
    await http(t.baseUrl, 'POST', `/api/kiosks/${blocked.deviceId}/block`, {
      key: t.keys.admin,
      body: { reason: 'stolen' },
    });
    expect(
      await attempt(blocked.deviceId, (nonce) => blocked.signAuth(session.sessionId, nonce)),
    ).toEqual({ code: 'device_blocked', close: 4403 });
    const wrongSession = await attempt(kiosk.deviceId, (nonce) =>
      kiosk.signAuth('0123456789abcdef01234567', nonce),
    );
    expect(wrongSession.code).toBe('invalid_signature');
  });

  it('should refuse missing, forged, wrong-type and expired tokens', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const refused = async (path: string) => {
      const socket = await TestSocket.open(`${t.wsUrl}${path}`);
      const error = await socket.next('error');
      return { code: error.code, close: await socket.waitClose() };
    };
    expect(await refused('/ws/mobile')).toEqual({ code: 'not_authenticated', close: 4401 });
    expect(await refused(`/ws/mobile?token=${session.mobileToken}x`)).toEqual({
      code: 'not_authenticated',
      close: 4401,
    });
    expect(await refused(`/ws/device?token=${session.mobileToken}`)).toEqual({
      code: 'wrong_token_type',
      close: 4403,
    });
    expect(await refused(`/ws/mobile?token=${session.deviceToken}`)).toEqual({
      code: 'wrong_token_type',
      close: 4403,
    });
    expect(await refused(`/ws/app?token=${session.mobileToken}`)).toEqual({
      code: 'wrong_token_type',
      close: 4403,
    });
    const jwt = await import('jsonwebtoken');
    const expired = jwt.sign(
      { sid: session.sessionId, typ: 'mobile', jti: 'x', exp: Math.floor(Date.now() / 1000) - 5 },
      t.config.auth.jwtSecret,
    );
    expect(await refused(`/ws/mobile?token=${expired}`)).toEqual({
      code: 'session_expired',
      close: 4408,
    });
    const otherSecret = jwt.sign(
      { sid: session.sessionId, typ: 'mobile', jti: 'x', exp: Math.floor(Date.now() / 1000) + 60 },
      'x'.repeat(40),
    );
    expect(await refused(`/ws/mobile?token=${otherSecret}`)).toEqual({
      code: 'not_authenticated',
      close: 4401,
    });
  });

  it('should refuse a second device and a second mobile, and let a mobile reconnect', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    const second = await connectDevice(t, kiosk, session);
    await second.error('already_connected');
    expect(await second.waitClose()).toBe(4409);
    const secondMobile = await TestSocket.open(`${t.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    await secondMobile.error('already_connected');

    mobile.close();
    expect(await device.next('status')).toEqual({
      type: 'status',
      peer: 'mobile',
      state: 'disconnected',
    });
    const again = await TestSocket.open(`${t.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    await again.next('joined');
    expect(await again.next('status')).toMatchObject({
      peer: 'device',
      state: 'connected',
      device_id: kiosk.deviceId,
    });
    expect(await device.next('status')).toEqual({
      type: 'status',
      peer: 'mobile',
      state: 'connected',
    });
    again.send({ type: 'to_device', data: { hello: true } });
    expect((await device.next('from_mobile')).data).toEqual({ hello: true });
    again.close();
    device.close();
  });

  it("should show a phone that joins later the session's kiosk, not a second kiosk refused at its join", async () => {
    const other = await TestKiosk.registered(t, 'TEE-RELAY-2');
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    // authenticated (its key verifies), then refused: the session's slot is the first kiosk's
    const second = await connectDevice(t, other, session);
    await second.error('already_connected');
    expect(await second.waitClose()).toBe(4409);

    mobile.close();
    expect(await device.next('status')).toMatchObject({ peer: 'mobile', state: 'disconnected' });
    const again = await TestSocket.open(`${t.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    await again.next('joined');
    expect(await again.next('status')).toEqual({
      type: 'status',
      peer: 'device',
      state: 'connected',
      device_id: kiosk.deviceId,
    });
    again.close();
    device.close();
  });

  it('should answer malformed frames with error frames and keep the socket', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const mobile = await TestSocket.open(`${t.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    await mobile.next('joined');
    mobile.send('{not json');
    await mobile.error('invalid_json');
    mobile.send('[1,2]');
    await mobile.error('invalid_json');
    mobile.send({ type: 'fly' });
    await mobile.error('unknown_type');
    mobile.send({ type: 'submit_result', image: 'x' });
    await mobile.error('unknown_type');
    mobile.send({ type: 'to_device', data: 'text' });
    await mobile.error('invalid_message');
    mobile.send({ type: 'to_device', data: { a: 1 } });
    await mobile.error('peer_not_connected');
    mobile.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await mobile.error('unsupported_frame');
    mobile.send({ type: 'to_device', data: { blob: 'x'.repeat(70 * 1024) } });
    await mobile.error('payload_too_large');
    mobile.send({ type: 'ping' });
    await mobile.next('pong');
    const device = await TestSocket.open(`${t.wsUrl}/ws/device?token=${session.deviceToken}`);
    await device.next('challenge');
    // a kiosk's frame before its auth ends its one try (protocol.md: not_authenticated, 4401)
    device.send({ type: 'to_mobile', data: {} });
    await device.error('not_authenticated');
    expect(await device.waitClose()).toBe(4401);
    expect(mobile.closeCode).toBeUndefined();
    mobile.close();
  });

  it('should refuse images that are not JPEG/PNG base64 or too large, and keep the session open', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    device.send({ type: 'submit_result', image: '***' });
    await device.error('invalid_image');
    device.send({ type: 'submit_result', image: Buffer.from('GIF89a....').toString('base64') });
    await device.error('invalid_image');
    device.send({ type: 'submit_result', image: fakeJpeg(70 * 1024).toString('base64') });
    await device.error('payload_too_large');
    expect(upstream.calls).toHaveLength(0);
    device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
    expect((await mobile.next('result')).status).toBe('success');
  });

  it('should retry only when the upstream says so (503 + Retry-After), every attempt under one Idempotency-Key', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    upstream.behaviour = (_call, index) =>
      index < 2
        ? { status: 503, body: { error: 'busy' }, headers: { 'retry-after': '0' } }
        : { status: 200, body: { status: 'failure', reason: 'face mismatch' } };
    device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
    const result = await mobile.next('result', 10_000);
    expect(result).toMatchObject({
      status: 'failure',
      code: 'upstream_rejected',
      status_code: 200,
      data: { reason: 'face mismatch' },
    });
    expect(upstream.calls).toHaveLength(3);
    const keys = upstream.calls.map((call) => call.headers['idempotency-key']);
    expect(keys[0]).toMatch(new RegExp(session.sessionId));
    expect(new Set(keys).size).toBe(1);
    // the kiosk's copy keeps only status, code and message
    expect((await device.next('result')).data).toEqual({ status: 'failure' });
    await device.next('session_closed');
  });

  it('should answer an upstream 5xx as a failed result to both sides, after exactly one call', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    upstream.behaviour = () => ({ status: 500, body: { error: 'boom', platform_id: PLATFORM_ID } });
    device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
    expect(await device.next('result')).toEqual({
      type: 'result',
      status: 'failure',
      code: 'upstream_error',
      status_code: 500,
      data: {},
      latency_ms: expect.any(Number),
    });
    expect(await mobile.next('result')).toMatchObject({
      status: 'failure',
      code: 'upstream_error',
      status_code: 500,
      platform_id: PLATFORM_ID,
      data: { error: 'boom' },
    });
    expect(upstream.calls).toHaveLength(1);
    await device.next('session_closed');
    expect(await device.waitClose()).toBe(1000);
    expect(device.frames.filter((f) => f.type === 'error')).toEqual([]);
  });

  it('should not re-post a slow upstream call: one call, a 504 result, the session completed', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    upstream.behaviour = () => ({ status: 200, body: { status: 'success' }, delayMs: 3000 });
    device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
    const result = await device.next('result', 10_000);
    expect(result).toMatchObject({ status: 'failure', code: 'upstream_timeout', status_code: 504 });
    expect(result.data.message).toContain('did not answer in time');
    expect((await mobile.next('result')).code).toBe('upstream_timeout');
    // every attempt is over once the result is out: the timed-out call was the only one
    expect(upstream.calls).toHaveLength(1);
    await mobile.next('session_closed');
  });

  it('should bound an attempt whose answer trickles in: a 504 result to both sides, the upstream let go', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    // headers and `{"status":` at once, then a space every 200 ms: never idle for the 2 s timeout
    upstream.behaviour = () => ({ status: 200, trickleMs: 200 });
    device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
    const result = await device.next('result', 30_000);
    expect(result).toMatchObject({ status: 'failure', code: 'upstream_timeout', status_code: 504 });
    expect((await mobile.next('result')).code).toBe('upstream_timeout');
    await upstream.calls[0].closed;
    expect(upstream.calls).toHaveLength(1);
    await mobile.next('session_closed');
  });

  it('should let the kiosk submit again when the upstream was never reached', async () => {
    const down = await startTestApp({
      UPSTREAM_URL: 'http://127.0.0.1:9', // discard port: connection refused
      UPSTREAM_RETRIES: '1',
    });
    try {
      const downKiosk = await TestKiosk.registered(down, 'TEE-RELAY-DOWN');
      const session = await openSession(down, PLATFORM_ID);
      const { mobile, device } = await pair(down, down, downKiosk, session);
      device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
      expect(await device.next('result', 10_000)).toMatchObject({
        status: 'failure',
        code: 'upstream_unreachable',
        status_code: 502,
      });
      expect((await mobile.next('result')).code).toBe('upstream_unreachable');
      device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
      expect((await device.next('result', 10_000)).code).toBe('upstream_unreachable');
      expect(device.closeCode).toBeUndefined();
      expect(device.frames.filter((f) => f.type === 'error')).toEqual([]);
      mobile.close();
      device.close();
    } finally {
      await down.close();
    }
  });

  it('should let exactly one of two racing submissions reach upstream', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    upstream.behaviour = () => ({ status: 200, body: { status: 'success' }, delayMs: 200 });
    device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
    device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
    await device.error('submission_in_progress');
    await mobile.next('result');
    expect(upstream.calls).toHaveLength(1);
  });

  it('should relay a burst in order, each frame whole, and count it in /metrics', async () => {
    const relayed = async (to: string) => {
      const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
      const line = new RegExp(`^mdai_relay_frames_relayed_total\\{to="${to}"\\} (\\d+)$`, 'm');
      return Number(line.exec(text)?.[1] ?? 0);
    };
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    const before = { device: await relayed('device'), mobile: await relayed('mobile') };
    // sent at once, these reach the server together and leave toward the kiosk in one write
    for (let seq = 0; seq < 30; seq++) mobile.send({ type: 'to_device', data: { seq } });
    for (let seq = 0; seq < 30; seq++)
      expect(await device.next('from_mobile')).toEqual({ type: 'from_mobile', data: { seq } });
    device.send({ type: 'to_mobile', data: { ok: true } });
    expect(await mobile.next('from_device')).toEqual({ type: 'from_device', data: { ok: true } });
    expect(await relayed('device')).toBe(before.device + 30);
    expect(await relayed('mobile')).toBe(before.mobile + 1);
    mobile.close();
    device.close();
  });

  it('should send the same bytes whether a relayed frame is written as JSON.stringify writes it or not', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    const data = {
      n: 1.5,
      s: 'a"b\\c\n',
      deep: [{ k: null }, true],
      id: PLATFORM_ID,
      t: 2593249.18033,
      u: 'é 😀 \u2028',
    };
    // the first is passed on unparsed, the others (spaces, a trailing zero, an escape JSON.stringify
    // does not write) are parsed and written again: the kiosk must see one text, the id gone
    const frames = [
      JSON.stringify({ type: 'to_device', data }),
      JSON.stringify({ type: 'to_device', data }, null, 1),
      JSON.stringify({ type: 'to_device', data })
        .replace('1.5', '1.50')
        .replace('a\\"', '\\u0061\\"'),
    ];
    for (const frame of frames) mobile.send(frame);
    for (let i = 0; i < frames.length; i++) await device.next('from_mobile');
    const texts = device.raw.filter((text) => text.includes('from_mobile'));
    expect(texts).toHaveLength(3);
    expect(new Set(texts).size).toBe(1);
    expect(texts[0]).not.toContain(PLATFORM_ID);
    expect(JSON.parse(texts[0])).toEqual({
      type: 'from_mobile',
      data: {
        n: 1.5,
        s: 'a"b\\c\n',
        deep: [{ k: null }, true],
        id: '[platform_id removed]',
        t: 2593249.18033,
        u: 'é 😀 \u2028',
      },
    });
    const back = [
      JSON.stringify({ type: 'to_mobile', data: { seq: 1, note: 'ok' } }),
      '{ "type": "to_mobile", "data": { "seq": 1.0, "note": "ok" } }',
      JSON.stringify({ type: 'to_mobile', data: { seq: 2, note: 'ok é' } }),
      '{"type":"to_mobile","data":{"seq":2,"note":"ok \\u00e9"}}',
    ];
    for (const frame of back) device.send(frame);
    for (let i = 0; i < back.length; i++) await mobile.next('from_device');
    const answers = mobile.raw.filter((text) => text.includes('from_device'));
    expect(answers).toEqual([
      '{"type":"from_device","data":{"seq":1,"note":"ok"}}',
      '{"type":"from_device","data":{"seq":1,"note":"ok"}}',
      '{"type":"from_device","data":{"seq":2,"note":"ok é"}}',
      '{"type":"from_device","data":{"seq":2,"note":"ok é"}}',
    ]);
    mobile.close();
    device.close();
  });

  it('should rate-limit a flooding socket with an error frame', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const mobile = await TestSocket.open(`${t.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    await mobile.next('joined');
    // in the session first: a phone's `joined` comes before its catch-up read of the store, and
    // frames before the end of that are kept as early ones, more than a burst of them refusing
    // the socket (a slow store, MongoDB's test server under load, refused this flood so, with
    // no pong); the first pong answers once the socket is in
    mobile.send({ type: 'ping' });
    await pollUntil(
      async () => mobile.frames.some((f) => f.type === 'pong'),
      (answered) => answered,
    );
    for (let i = 0; i < 100; i++) mobile.send({ type: 'ping' });
    await mobile.error('rate_limited');
    // the burst's pongs, the first one's included (it took a token of the burst)
    const pongs = mobile.frames.filter((f) => f.type === 'pong').length;
    expect(pongs).toBeLessThan(101);
    expect(pongs).toBeGreaterThanOrEqual(40);
    mobile.close();
  });

  it('should answer the QR image for the mobile token only', async () => {
    const session = await openSession(t, PLATFORM_ID);
    const png = await fetch(`${t.baseUrl}/api/sessions/qr`, {
      headers: { authorization: `Bearer ${session.mobileToken}` },
    });
    expect(png.headers.get('content-type')).toBe('image/png');
    const refused = await http(t.baseUrl, 'GET', '/api/sessions/qr', {
      headers: { authorization: `Bearer ${session.deviceToken}` },
    });
    expect([refused.status, refused.body.code]).toEqual([401, 'wrong_token_type']);
  });

  it('should check the mobile key and body on POST /api/auth/mobile', async () => {
    const body = { user_id: 'u', platform_id: PLATFORM_ID };
    expect((await http(t.baseUrl, 'POST', '/api/auth/mobile', { body })).status).toBe(401);
    expect(
      (await http(t.baseUrl, 'POST', '/api/auth/mobile', { body, key: t.keys.hardware })).status,
    ).toBe(403);
    const bad = await http(t.baseUrl, 'POST', '/api/auth/mobile', {
      body: { user_id: 'u', platform_id: 'has space' },
      key: t.keys.mobile,
    });
    expect([bad.status, bad.body.code]).toEqual([400, 'validation_failed']);
    expect(JSON.stringify(bad.body)).not.toContain('has space');
  });
});

/**
 * The session lifetime of the deadline tests. Its token's `exp` is whole seconds (rounded down),
 * so sockets open on it for one second less at worst: this leaves a loaded machine seconds to
 * pair before the deadline (2 s left it one at worst: a slow pairing would meet `session_expired`).
 */
const SHORT_TTL_SECONDS = 6;

describe('pairing relay, session deadline (e2e)', () => {
  it('should send session_expired to both sockets and close them at the deadline', async () => {
    const t = await startTestApp({ SESSION_TTL_SECONDS: String(SHORT_TTL_SECONDS) });
    try {
      const kiosk = await TestKiosk.registered(t, 'TEE-EXPIRY');
      const session = await openSession(t, PLATFORM_ID);
      const { mobile, device } = await pair(t, t, kiosk, session);
      await mobile.next('session_expired', (SHORT_TTL_SECONDS + 10) * 1000);
      await device.next('session_expired', (SHORT_TTL_SECONDS + 10) * 1000);
      expect(await mobile.waitClose()).toBe(4408);
      expect(await device.waitClose()).toBe(4408);
    } finally {
      await t.close();
    }
  });
});

describe('pairing relay, graceful shutdown (e2e)', () => {
  it('should tell both sockets the server is restarting and close them with 1012', async () => {
    const t = await startTestApp();
    const kiosk = await TestKiosk.registered(t, 'TEE-SHUTDOWN');
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    await t.close();
    await mobile.error('server_restarting');
    await device.error('server_restarting');
    expect(await mobile.waitClose()).toBe(1012);
    expect(await device.waitClose()).toBe(1012);
  });
});
