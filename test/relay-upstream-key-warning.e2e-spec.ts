import { fakeJpeg, startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { TestKiosk } from './support/kiosk';
import { openSession, pair } from './support/pairing';

/**
 * UPSTREAM_URL without UPSTREAM_API_KEY (LOW 11 of the outside review): allowed, but said at
 * boot, and no empty `x-api-key` is sent.
 */
describe('upstream without an API key (e2e)', () => {
  let relay: UpstreamApps;
  beforeAll(async () => {
    relay = await startUpstreamApps();
  });
  afterAll(() => relay.close());

  it('should warn at boot and send no x-api-key header', async () => {
    const t = relay.t;
    const kiosk = await TestKiosk.registered(t, 'TEE-KEYLESS-1');
    const { mobile, device } = await pair(
      t,
      t,
      kiosk,
      await openSession(t, 'PLT_keylessUpstream1'),
    );
    device.send({ type: 'submit_result', image: fakeJpeg().toString('base64') });
    expect(await mobile.next('result')).toMatchObject({ status: 'success' });
    expect(relay.upstream.calls[0].headers).not.toHaveProperty('x-api-key');
    expect(t.logs()).toContain(
      'UPSTREAM_URL is set without UPSTREAM_API_KEY: face submissions go upstream without an x-api-key header',
    );
  });
});
