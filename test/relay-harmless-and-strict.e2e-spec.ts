import { fakeJpeg, startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { TestKiosk } from './support/kiosk';
import { legacyPair, openSession, pair } from './support/pairing';
import { gauge, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

const PLATFORM_ID = 'PLT_lowFindings001';
const IMAGE = fakeJpeg(2048).toString('base64');

/** The base64 as MIME encoders write it: CRLF after every 76 characters. */
const mime = (base64: string, eol = '\r\n') => base64.match(/.{1,76}/g)!.join(eol);

/**
 * The LOW findings of the outside review on the relay: no error frames for harmless conditions
 * toward the fielded hardware (7), lenient base64 (7), closes where protocol.md says (8), a
 * non-string legacy platform_id (9), upstream answer bounds and Retry-After (11), duplicate JSON
 * keys in frames (14).
 */
describe('relay: harmless conditions, closes and strict frames (e2e)', () => {
  let relay: UpstreamApps;
  let t: TestApp;
  let kiosk: TestKiosk;
  beforeAll(async () => {
    relay = await startUpstreamApps({ env: { UPSTREAM_API_KEY: 'k', UPSTREAM_RETRIES: '2' } });
    t = relay.t;
    kiosk = await TestKiosk.registered(t, 'TEE-LOWS-1');
  });
  afterAll(() => relay.close());
  beforeEach(() => relay.reset({ behaviour: true }));

  async function legacyWithAlias(): Promise<{
    hardware: TestSocket;
    app: TestSocket;
    alias: string;
  }> {
    const { hardware, app } = await legacyPair(t);
    await hardware.next('status');
    app.send({ type: 'to_hardware', data: { platform_id: PLATFORM_ID } });
    const alias = (await hardware.next('from_app')).data.platform_id as string;
    return { hardware, app, alias };
  }

  const noErrors = (socket: TestSocket) =>
    expect(socket.frames.filter((f) => f.type === 'error')).toEqual([]);

  describe('LOW 7: the fielded hardware gets no error frame for harmless conditions', () => {
    it('should answer a second to_backend sent while the first is upstream with a status frame', async () => {
      relay.upstream.behaviour = () => ({
        status: 200,
        body: { status: 'success' },
        delayMs: 1500,
      });
      const { hardware, app, alias } = await legacyWithAlias();
      const upload = { type: 'to_backend', data: { platform_id: alias, image_base64: IMAGE } };
      hardware.send(upload);
      hardware.send(upload);
      expect(await hardware.next('status')).toEqual({
        type: 'status',
        msg: 'submission in progress',
      });
      expect(await hardware.next('backend_response')).toMatchObject({ status_code: 200 });
      hardware.send(upload);
      expect(await hardware.next('status')).toEqual({ type: 'status', msg: 'already submitted' });
      noErrors(hardware);
      expect(relay.upstream.calls).toHaveLength(1);
      await app.next('backend_response');
      hardware.close();
      app.close();
    });

    it.each([
      ['MIME line breaks (CRLF)', mime(IMAGE)],
      ['line breaks (LF, Android Base64.DEFAULT)', mime(IMAGE, '\n')],
      ['no padding', IMAGE.replace(/=+$/, '')],
      ['a data: URI head', `data:image/jpeg;base64,${IMAGE}`],
    ])('should take base64 with %s from the legacy hardware and the kiosk', async (_name, sent) => {
      expect(IMAGE).toMatch(/=$/); // the unpadded case drops something
      const { hardware, app, alias } = await legacyWithAlias();
      hardware.send({ type: 'to_backend', data: { platform_id: alias, image_base64: sent } });
      expect(await hardware.next('backend_response')).toMatchObject({ status_code: 200 });
      noErrors(hardware);
      hardware.close();
      app.close();

      const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
      device.send({ type: 'submit_result', image: sent });
      expect(await mobile.next('result')).toMatchObject({ status: 'success' });
      // the upstream gets the standard padded base64 of the same bytes
      expect(relay.upstream.calls.map((c) => c.body.image_base64)).toEqual([IMAGE, IMAGE]);
    });

    it('should send the upstream the standard base64 of the checked bytes, not the text received', async () => {
      // the same bytes with non-zero bits after the last byte: decoders ignore them
      const last = IMAGE.length - 2;
      const loose = IMAGE.slice(0, last) + String.fromCharCode(IMAGE.charCodeAt(last) + 1) + '=';
      expect(loose).not.toBe(IMAGE);
      expect(Buffer.from(loose, 'base64')).toEqual(Buffer.from(IMAGE, 'base64'));
      const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
      device.send({ type: 'submit_result', image: loose });
      expect(await mobile.next('result')).toMatchObject({ status: 'success' });
      expect(relay.upstream.calls.map((c) => c.body.image_base64)).toEqual([IMAGE]);
    });

    it.each([
      ['a repeated member name', '{"type":"to_app","data":{"m":1,"m":2}}'],
      ['a constructor member', '{"type":"to_app","data":{"constructor":{"prototype":1}}}'],
      ['a number no double holds', '{"type":"to_app","data":{"n":1e400}}'],
    ])(
      'should drop a hardware frame with %s without the error frame the old server never sent',
      async (_name, text) => {
        const { hardware, app } = await legacyPair(t);
        await hardware.next('status');
        hardware.send(text);
        hardware.send({ type: 'to_app', data: { message: 'hello' } });
        // the dropped frame reached nobody; the next one went through
        expect(await app.next('from_hardware')).toEqual({
          type: 'from_hardware',
          data: { message: 'hello' },
        });
        noErrors(hardware);
        expect(app.frames.filter((f) => f.type === 'from_hardware')).toEqual([]);
        hardware.close();
        app.close();
      },
    );

    it('should drop a hardware frame nesting deeper than 32 levels, counted, without an error frame', async () => {
      const metric = 'mdai_relay_errors_total{code="invalid_message"}';
      const before = await gauge(t.baseUrl, metric).catch(() => 0);
      const { hardware, app } = await legacyPair(t);
      await hardware.next('status');
      hardware.send(`{"type":"to_app","data":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`);
      hardware.send({ type: 'to_app', data: { message: 'hello' } });
      expect(await app.next('from_hardware')).toEqual({
        type: 'from_hardware',
        data: { message: 'hello' },
      });
      noErrors(hardware);
      expect(app.frames.filter((f) => f.type === 'from_hardware')).toEqual([]);
      expect(await gauge(t.baseUrl, metric)).toBe(before + 1);
      hardware.close();
      app.close();
    });

    it('should drop a hardware to_backend holding more than 20000 members without an error frame; the next one is sent', async () => {
      const { hardware, app, alias } = await legacyWithAlias();
      const extra = Object.fromEntries(Array.from({ length: 20_001 }, (_, i) => [`k${i}`, 0]));
      hardware.send({
        type: 'to_backend',
        data: { platform_id: alias, image_base64: IMAGE, extra },
      });
      hardware.send({ type: 'to_backend', data: { platform_id: alias, image_base64: IMAGE } });
      expect(await hardware.next('backend_response')).toMatchObject({ status_code: 200 });
      noErrors(hardware);
      expect(relay.upstream.calls).toHaveLength(1);
      await app.next('backend_response');
      hardware.close();
      app.close();
    });

    it('should still refuse what is not base64 of an image', async () => {
      const { device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
      device.send({ type: 'submit_result', image: 'a' + IMAGE.replace(/=+$/, '') + 'a' });
      await device.error('invalid_image');
      device.send({ type: 'submit_result', image: IMAGE.slice(0, 8) + '!' + IMAGE.slice(8) });
      await device.error('invalid_image');
      // base64url (RFC 4648 section 5): the image's own base64 with only '+' and '/' swapped
      const bytes = fakeJpeg(2048);
      bytes.set([0xfb, 0xef, 0xbe], 3);
      const standard = bytes.toString('base64');
      expect(standard).toMatch(/\+/);
      expect(standard).toMatch(/\//);
      const url = standard.replace(/\+/g, '-').replace(/\//g, '_');
      device.send({ type: 'submit_result', image: url });
      await device.error('invalid_image');
      expect(relay.upstream.calls).toHaveLength(0);
    });
  });

  describe('LOW 8: a failure protocol.md says closes the socket closes it', () => {
    it('should close a kiosk that sends a frame before its auth (not_authenticated, 4401)', async () => {
      const session = await openSession(t, PLATFORM_ID);
      const device = await TestSocket.open(`${t.wsUrl}/ws/device?token=${session.deviceToken}`);
      await device.next('challenge');
      device.send({ type: 'to_mobile', data: { hello: 1 } });
      await device.error('not_authenticated');
      expect(await device.waitClose()).toBe(4401);
    });

    it('should close a kiosk whose auth frame is malformed (its one try, 4401)', async () => {
      const session = await openSession(t, PLATFORM_ID);
      const device = await TestSocket.open(`${t.wsUrl}/ws/device?token=${session.deviceToken}`);
      await device.next('challenge');
      device.send({ type: 'auth', session_id: session.sessionId });
      await device.error('invalid_message');
      expect(await device.waitClose()).toBe(4401);
    });
  });

  describe('LOW 9: a legacy to_hardware platform_id that is not a string', () => {
    it.each([123, null, true, { id: PLATFORM_ID }])(
      'should refuse platform_id %p with invalid_message and relay nothing',
      async (platformId) => {
        const { hardware, app } = await legacyPair(t);
        await hardware.next('status');
        app.send({ type: 'to_hardware', data: { platform_id: platformId, step: 1 } });
        await app.error('invalid_message');
        app.send({ type: 'to_hardware', data: { step: 2 } });
        expect(await hardware.next('from_app')).toEqual({ type: 'from_app', data: { step: 2 } });
        hardware.close();
        app.close();
      },
    );
  });

  describe('LOW 11: upstream answers and retries', () => {
    it('should report an answer over the size bound as upstream_answer_too_large (legacy: 502)', async () => {
      relay.upstream.behaviour = () => ({
        status: 200,
        rawBody: JSON.stringify({ status: 'success', pad: 'x'.repeat(2 * 1024 * 1024) }),
      });
      const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
      device.send({ type: 'submit_result', image: IMAGE });
      expect(await mobile.next('result')).toMatchObject({
        status: 'failure',
        code: 'upstream_answer_too_large',
        status_code: 502,
      });
      const { hardware, app, alias } = await legacyWithAlias();
      hardware.send({ type: 'to_backend', data: { platform_id: alias, image_base64: IMAGE } });
      expect(await hardware.next('backend_response')).toMatchObject({
        status_code: 502,
        data: { code: 'upstream_answer_too_large' },
      });
      noErrors(hardware);
      expect(relay.upstream.calls).toHaveLength(2);
      hardware.close();
      app.close();
    });

    it.each(['-5', '1.5', '2026', 'soon'])(
      'should not retry a 503 whose Retry-After is %p (not a delay)',
      async (retryAfter) => {
        relay.upstream.behaviour = () => ({
          status: 503,
          body: { status: 'failure', message: 'busy' },
          headers: { 'retry-after': retryAfter },
        });
        const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
        device.send({ type: 'submit_result', image: IMAGE });
        expect(await mobile.next('result')).toMatchObject({
          status: 'failure',
          code: 'upstream_error',
          status_code: 503,
        });
        expect(relay.upstream.calls).toHaveLength(1);
      },
    );
  });

  describe('LOW 14: duplicate JSON keys in frames', () => {
    it.each([
      '{"type":"to_device","data":{"a":1},"data":{"b":2}}',
      '{"type":"to_device","data":{"a":1,"a":2}}',
      '{"type":"to_device","type":"to_device","data":{}}',
    ])('should refuse %s with invalid_json and relay nothing', async (text) => {
      const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
      mobile.send(text);
      await mobile.error('invalid_json');
      mobile.send({ type: 'to_device', data: { next: true } });
      expect(await device.next('from_mobile')).toEqual({
        type: 'from_mobile',
        data: { next: true },
      });
    });
  });
});
