import { fakeJpeg, startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { FieldedKiosk } from './support/fielded-kiosk';
import { TestKiosk } from './support/kiosk';
import { openSession, pair } from './support/pairing';
import { http, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

const PLATFORM_ID = 'PLT_answerScrubUser01';
/** Another user's platform id, named by the upstream (a duplicate-face check). */
const OTHER_ID = 'PLT_leakedUser9999';
const UPSTREAM_KEY = 'upstream-key-scrub-2026';
/** The head of a JPEG's base64, as an upstream that echoes the face image sends it. */
const ECHOED_IMAGE = '/9j/4AAQSkZJRgABAQ';

/**
 * The outside fault hunt's finding 1: an upstream answer naming another user's platform id,
 * echoing the upstream API key and the face image. The kiosks (both protocols) see no platform
 * id at all and no key; the phone and the legacy app see neither the key nor the image.
 */
describe('what an upstream answer may carry to the clients (e2e)', () => {
  let relay: UpstreamApps;
  let t: TestApp;
  beforeAll(async () => {
    relay = await startUpstreamApps({ env: { UPSTREAM_API_KEY: UPSTREAM_KEY } });
    t = relay.t;
  });
  afterAll(() => relay.close());
  beforeEach(() => {
    relay.upstream.behaviour = () => ({ status: 400, body: ANSWER });
  });

  const ANSWER = {
    status: 'failure',
    message: `face already enrolled as ${OTHER_ID}; key ${UPSTREAM_KEY}`,
    image_base64: ECHOED_IMAGE,
    detail: { seen: `got ${ECHOED_IMAGE}AAAA`, other: OTHER_ID, [UPSTREAM_KEY]: true },
  };
  /** The clients' copy: the upstream's body less the echoed image and the key. */
  const CLIENT_COPY = {
    status: 'failure',
    message: `face already enrolled as ${OTHER_ID}; key [api key redacted]`,
    detail: { seen: 'got [image removed]', other: OTHER_ID, '[api key redacted]': true },
  };

  const image = fakeJpeg().toString('base64');

  it('should give the new-protocol kiosk no platform id and no key, the phone no key and no image', async () => {
    const kiosk = await TestKiosk.registered(t, 'TEE-ANSWER-SCRUB-1');
    const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
    device.send({ type: 'submit_result', image });
    const kioskResult = await device.next('result');
    expect(kioskResult.data).toEqual({
      status: 'failure',
      message: 'face already enrolled as [platform_id removed]; key [api key redacted]',
    });
    expect(device.raw.join('\n')).not.toMatch(/PLT_/i);

    const phoneResult = await mobile.next('result');
    expect(phoneResult).toMatchObject({
      status: 'failure',
      code: 'upstream_rejected',
      status_code: 400,
      platform_id: PLATFORM_ID,
    });
    expect(phoneResult.data).toEqual(CLIENT_COPY);
    expect(mobile.raw.join('\n')).not.toContain(UPSTREAM_KEY);
    expect(mobile.raw.join('\n')).not.toContain(ECHOED_IMAGE);
    await device.next('session_closed');
    await mobile.next('session_closed');
  });

  it('should keep that same copy for a phone that comes back for its result', async () => {
    const kiosk = await TestKiosk.registered(t, 'TEE-ANSWER-SCRUB-2');
    const session = await openSession(t, PLATFORM_ID);
    const { mobile, device } = await pair(t, t, kiosk, session);
    let reached!: () => void;
    const atUpstream = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    relay.upstream.behaviour = () => {
      reached();
      return { status: 400, body: ANSWER, hold };
    };
    device.send({ type: 'submit_result', image });
    await atUpstream;
    // the phone's socket drops while the upstream holds the image
    mobile.ws.terminate();
    await device.next('status');
    release();
    await device.next('result');
    const back = await TestSocket.open(`${t.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    const kept = await back.next('result');
    expect(kept).toMatchObject({ platform_id: PLATFORM_ID, status_code: 400 });
    expect(kept.data).toEqual(CLIENT_COPY);
    expect(back.raw.join('\n')).not.toContain(UPSTREAM_KEY);
    expect(back.raw.join('\n')).not.toContain(ECHOED_IMAGE);
    await back.waitClose();
  });

  it('should give the fielded hardware no platform id but its alias and no key, the app no key and no image', async () => {
    const auth = await http(t.baseUrl, 'POST', '/auth', { body: { api_key: t.keys.hardware } });
    const hardware = await FieldedKiosk.connect(t.wsUrl, auth.body.token);
    const app = await TestSocket.open(`${t.wsUrl}/ws/app?token=${auth.body.token}`);
    await app.next('joined');
    app.send({ type: 'to_hardware', data: { platform_id: PLATFORM_ID } });
    const alias = await hardware.platformId();
    const ack = await hardware.submit(alias, image);
    expect(ack).toMatchObject({ type: 'backend_response', status_code: 400 });
    expect(ack.data).toEqual({
      status: 'failure',
      message: 'face already enrolled as [platform_id removed]; key [api key redacted]',
    });
    expect(hardware.fatal).toBeUndefined();

    const appCopy = await app.next('backend_response');
    expect(appCopy.data).toEqual(CLIENT_COPY);
    expect(app.raw.join('\n')).not.toContain(UPSTREAM_KEY);
    expect(app.raw.join('\n')).not.toContain(ECHOED_IMAGE);
    app.close();
  });
});
