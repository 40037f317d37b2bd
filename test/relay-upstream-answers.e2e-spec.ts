import {
  fakeJpeg,
  startUpstreamApps,
  UpstreamApps,
  UpstreamBehaviour,
} from './support/fake-upstream';
import { TestKiosk } from './support/kiosk';
import { legacyPair, openSession, pair } from './support/pairing';
import { TestApp } from './support/test-app';

const PLATFORM_ID = 'PLT_answerShape001';

/** 2xx answers that verify nothing: none of them is a verified face. */
const NOT_VERIFIED: Array<[string, UpstreamBehaviour]> = [
  ['a JSON object without status', () => ({ status: 200, body: { matched: false } })],
  ['an empty body', () => ({ status: 200, rawBody: '' })],
  ['a JSON string', () => ({ status: 200, rawBody: '"success"' })],
  [
    'an HTML page',
    () => ({ status: 200, rawBody: '<html>oops</html>', headers: { 'content-type': 'text/html' } }),
  ],
  ['another status value', () => ({ status: 201, body: { status: 'ok' } })],
  ['a 204 without a body', () => ({ status: 204, rawBody: '' })],
];

/**
 * What counts as a verified face (HIGH 2 of the outside review): only a 2xx whose body is a JSON
 * object with `status: "success"`. Any other 2xx is a failure, `upstream_invalid_answer` (502),
 * on both protocols, never sent again.
 */
describe('upstream answers that verify nothing (e2e)', () => {
  let relay: UpstreamApps;
  let t: TestApp;
  let kiosk: TestKiosk;
  beforeAll(async () => {
    relay = await startUpstreamApps({ env: { UPSTREAM_API_KEY: 'k', UPSTREAM_RETRIES: '2' } });
    t = relay.t;
    kiosk = await TestKiosk.registered(t, 'TEE-ANSWERS-1');
  });
  afterAll(() => relay.close());
  beforeEach(() => relay.reset({ behaviour: true }));

  it.each(NOT_VERIFIED)(
    'should answer %s as upstream_invalid_answer to the phone and the kiosk',
    async (_name, behaviour) => {
      relay.upstream.behaviour = behaviour;
      const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
      device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
      expect(await mobile.next('result')).toMatchObject({
        status: 'failure',
        code: 'upstream_invalid_answer',
        status_code: 502,
        platform_id: PLATFORM_ID,
        data: { status: 'failure', code: 'upstream_invalid_answer' },
      });
      expect(await device.next('result')).toMatchObject({
        status: 'failure',
        code: 'upstream_invalid_answer',
        status_code: 502,
      });
      expect(await device.next('session_closed')).toEqual({
        type: 'session_closed',
        reason: 'completed',
      });
      // it received the image: not sent again
      expect(relay.upstream.calls).toHaveLength(1);
    },
  );

  it.each(NOT_VERIFIED)(
    'should answer %s to the legacy hardware as backend_response 502, with no error frame',
    async (_name, behaviour) => {
      relay.upstream.behaviour = behaviour;
      const { hardware, app } = await legacyPair(t);
      await hardware.next('status');
      app.send({ type: 'to_hardware', data: { platform_id: PLATFORM_ID } });
      const alias = (await hardware.next('from_app')).data.platform_id as string;
      hardware.send({
        type: 'to_backend',
        data: { platform_id: alias, image_base64: fakeJpeg().toString('base64') },
      });
      const ack = await hardware.next('backend_response');
      expect(ack).toMatchObject({
        status_code: 502,
        data: { status: 'failure', code: 'upstream_invalid_answer' },
      });
      expect((await app.next('backend_response')).status_code).toBe(502);
      expect(hardware.frames.filter((f) => f.type === 'error')).toEqual([]);
      expect(relay.upstream.calls).toHaveLength(1);
      hardware.close();
      app.close();
    },
  );

  it('should still take a 2xx with status "success" as a verified face', async () => {
    const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
    device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
    expect(await mobile.next('result')).toMatchObject({ status: 'success', status_code: 200 });
    await device.next('session_closed');
  });
});
