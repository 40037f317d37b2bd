import { FakeUpstream, fakeJpeg, startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { TestKiosk } from './support/kiosk';
import { disguises, holdsPlatformId } from './support/leaks';
import { openSession, pair } from './support/pairing';
import { http, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

const PLATFORM_ID = 'PLT_leakTarget0042';
const SECOND_ID = 'PLT_secondUser0077';

/**
 * Issue 10 items 4 and 5, played by a modified kiosk that wants the user's platform id: each
 * test is an attack that worked on the earlier relay.
 */
describe('platform id leaks a modified kiosk tried (e2e)', () => {
  let relay: UpstreamApps;
  let t: TestApp;
  let upstream: FakeUpstream;

  beforeAll(async () => {
    relay = await startUpstreamApps();
    ({ t, upstream } = relay);
  });
  afterAll(() => relay.close());

  async function legacySession(): Promise<{
    token: string;
    hardware: TestSocket;
    app: TestSocket;
    alias: string;
  }> {
    const auth = await http(t.baseUrl, 'POST', '/auth', { body: { api_key: t.keys.hardware } });
    const hardware = await TestSocket.open(`${t.wsUrl}/ws/hardware?token=${auth.body.token}`);
    await hardware.next('joined');
    const app = await TestSocket.open(`${t.wsUrl}/ws/app?token=${auth.body.token}`);
    await app.next('joined');
    expect(await hardware.next('status')).toEqual({ type: 'status', msg: 'app connected' });
    app.send({ type: 'to_hardware', data: { platform_id: PLATFORM_ID } });
    const alias = (await hardware.next('from_app')).data.platform_id as string;
    return { token: auth.body.token, hardware, app, alias };
  }

  it('item 4: the hardware cannot take the app slot after the app left and echo the alias back to itself', async () => {
    const { token, hardware, app, alias } = await legacySession();
    app.close();
    expect(await hardware.next('status')).toEqual({ type: 'status', msg: 'app disconnected' });
    // the kiosk holds the legacy token (it made the QR): it opens /ws/app itself
    const fakeApp = await TestSocket.open(`${t.wsUrl}/ws/app?token=${token}`);
    fakeApp.send({ type: 'to_hardware', data: {} });
    hardware.send({ type: 'to_app', data: { echo: alias } });
    await fakeApp.error('already_connected');
    expect(await fakeApp.waitClose()).toBe(4409);
    const seen = [...fakeApp.raw, ...hardware.raw];
    expect(seen.filter((text) => holdsPlatformId(text, PLATFORM_ID))).toEqual([]);
    hardware.close();
  });

  it('item 4: the server never writes the real id into what the hardware sent', async () => {
    const { hardware, app, alias } = await legacySession();
    hardware.send({ type: 'to_app', data: { echo: alias, note: `id ${alias}` } });
    expect((await app.next('from_hardware')).data).toEqual({ echo: alias, note: `id ${alias}` });
    expect(app.raw.filter((text) => holdsPlatformId(text, PLATFORM_ID))).toEqual([]);
    hardware.close();
    app.close();
  });

  it('item 4: a second platform id does not unfilter the first one', async () => {
    const { hardware, app } = await legacySession();
    app.send({ type: 'to_hardware', data: { platform_id: SECOND_ID } });
    await app.error('platform_id_already_set');
    app.send({ type: 'to_hardware', data: { note: `first ${PLATFORM_ID}` } });
    app.send({ type: 'to_hardware', data: { note: `second ${SECOND_ID}` } });
    const first = await hardware.next('from_app');
    const second = await hardware.next('from_app');
    expect(first.data.note).toMatch(/^first PLT_ALIAS_/);
    // never the session's, yet a platform id: the hardware sees none but the alias
    expect(second.data.note).toBe('second [platform_id removed]');
    expect(hardware.raw.filter((text) => holdsPlatformId(text, PLATFORM_ID))).toEqual([]);
    hardware.close();
    app.close();
  });

  it('item 5: an upstream answer echoing the id in other cases or base64 does not reach the legacy hardware', async () => {
    const { hardware, app, alias } = await legacySession();
    const forms = disguises(PLATFORM_ID);
    upstream.behaviour = () => ({
      status: 200,
      body: {
        status: 'success',
        message: `verified ${PLATFORM_ID.toUpperCase()}`,
        code: forms[3],
        user: { id: PLATFORM_ID.toLowerCase(), b64: forms[4], forms },
      },
    });
    hardware.send({
      type: 'to_backend',
      data: { platform_id: alias, image_base64: fakeJpeg().toString('base64') },
    });
    const response = await hardware.next('backend_response');
    expect(response.data).toEqual({
      status: 'success',
      message: `verified ${alias}`,
      code: alias,
    });
    expect(hardware.raw.filter((text) => holdsPlatformId(text, PLATFORM_ID))).toEqual([]);
    // the app (the user's own phone) gets the upstream's body as it was
    expect((await app.next('backend_response')).data.user.id).toBe(PLATFORM_ID.toLowerCase());
    hardware.close();
    app.close();
  });

  it('item 5: an upstream answer echoing the id in other cases or base64 does not reach the new-protocol kiosk', async () => {
    const kiosk = await TestKiosk.registered(t, 'TEE-LEAK-1');
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    upstream.behaviour = () => ({
      status: 200,
      body: {
        status: 'success',
        message: PLATFORM_ID.toLowerCase(),
        echo: disguises(PLATFORM_ID),
      },
    });
    mobile.send({ type: 'to_device', data: { upper: PLATFORM_ID.toUpperCase() } });
    expect((await device.next('from_mobile')).data).toEqual({ upper: '[platform_id removed]' });
    device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
    expect((await device.next('result')).data).toEqual({
      status: 'success',
      message: '[platform_id removed]',
    });
    expect(device.raw.filter((text) => holdsPlatformId(text, PLATFORM_ID))).toEqual([]);
    await mobile.next('result');
  });

  it('item 5: a platform id that is a protocol word is refused, so it cannot mangle kiosk frames', async () => {
    for (const word of ['type', 'data', 'joined', 'device', 'status', 'PLT_short']) {
      const res = await http(t.baseUrl, 'POST', '/api/auth/mobile', {
        key: t.keys.mobile,
        body: { user_id: 'u', platform_id: word },
      });
      expect([res.status, res.body.code]).toEqual([400, 'validation_failed']);
    }
    const auth = await http(t.baseUrl, 'POST', '/auth', { body: { api_key: t.keys.hardware } });
    const hardware = await TestSocket.open(`${t.wsUrl}/ws/hardware?token=${auth.body.token}`);
    await hardware.next('joined');
    const app = await TestSocket.open(`${t.wsUrl}/ws/app?token=${auth.body.token}`);
    await app.next('joined');
    app.send({ type: 'to_hardware', data: { platform_id: 'status' } });
    await app.error('invalid_message');
    app.close();
    expect(await hardware.next('status')).toEqual({ type: 'status', msg: 'app connected' });
    expect(await hardware.next('status')).toEqual({ type: 'status', msg: 'app disconnected' });
    hardware.close();
  });
});
