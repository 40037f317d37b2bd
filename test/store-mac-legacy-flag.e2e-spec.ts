import { http, startTestApp, TestApp } from './support/test-app';

const SAID =
  'STORE_MAC_LEGACY=1: store tags made under the key derived from TLOG_SIGNING_KEY verify';

/**
 * Review M5: STORE_MAC_LEGACY=1 makes tags under the key derived from the log signing key
 * verify (whoever holds that key can make rows the server takes as its own), and was silent: it
 * is said at boot (WARN) and on /health (`tlog.storeMacLegacy`, admin), without degrading.
 */
describe('STORE_MAC_LEGACY said at boot and on /health (e2e)', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('should warn at boot and name the setting on /health, without degrading', async () => {
    t = await startTestApp({ STORE_MAC_LEGACY: '1' });
    expect(t.logs()).toContain(SAID);
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.details.tlog).toMatchObject({
      status: 'up',
      storeMacLegacy: expect.stringContaining(SAID),
    });
    // the public answer is the status alone
    expect((await http(t.baseUrl, 'GET', '/health')).body).toEqual({ status: 'ok' });
  });

  it('should say nothing with the flag off', async () => {
    t = await startTestApp({ STORE_MAC_LEGACY: '0' });
    expect(t.logs()).not.toContain('STORE_MAC_LEGACY=1');
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.body.details.tlog.storeMacLegacy).toBeUndefined();
  });
});
