import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';

/**
 * Fraud events that name no device (a refused token or thekedar signature: requests anyone can
 * send without a credential) are stored up to FRAUD_UNATTRIBUTED_PER_MINUTE per type and
 * minute; the rest are counted, not stored, so nobody fills the fraud log anonymously.
 */
describe('fraud events naming no device (e2e)', () => {
  let t: TestApp;
  const clock = new ManualClock(new Date(Math.floor(Date.now() / 60_000) * 60_000 + 1_000));

  beforeAll(async () => {
    t = await startTestApp({ FRAUD_UNATTRIBUTED_PER_MINUTE: '3' }, { clock });
  });
  afterAll(async () => t.close());

  const events = async (query: string): Promise<{ deviceId?: string }[]> => {
    const res = await http(t.baseUrl, 'GET', `/api/v5/fraud/events?${query}&limit=100`, {
      key: t.keys.admin,
    });
    expect(res.status).toBe(200);
    return res.body as { deviceId?: string }[];
  };
  const unstored = async (type: string): Promise<number> => {
    const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`mdai_fraud_events_unstored_total{type="${type}"}`));
    return Number(line?.split(' ')[1]);
  };

  it('should store a budget of anonymous refusals a minute, count the rest, and hold no event that names a device by it', async () => {
    for (let i = 0; i < 8; i++) {
      const res = await syncBatch(t.baseUrl, `garbage${i}.x.y`, []);
      expect([res.status, res.body.code]).toEqual([403, 'invalid_token']);
    }
    for (let i = 0; i < 5; i++) {
      const res = await http(t.baseUrl, 'POST', '/api/v5/workers', {
        body: { name: 'Ghost', phone: '+919800000001', siteIds: ['x'] },
        headers: {
          'x-thekedar-id': 'anyone',
          'x-device-id': `not-a-device-${i}`,
          'x-request-timestamp': clock.now().toISOString(),
          'x-signature': '0'.repeat(64),
        },
      });
      expect([res.status, res.body.code]).toEqual([401, 'invalid_signature']);
    }
    expect((await events('type=invalid_token')).length).toBe(3);
    expect((await events('type=onboarding_signature_invalid')).length).toBe(3);
    expect([
      await unstored('invalid_token'),
      await unstored('onboarding_signature_invalid'),
    ]).toEqual([5, 2]);
    expect(t.logs()).toContain('over FRAUD_UNATTRIBUTED_PER_MINUTE');
    // the line names the metric the rest are counted on (it was masked as an API key)
    expect(t.logs()).toContain('counted (mdai_fraud_events_unstored_total)');

    // an event that names its device is not held by this bound (its own is FRAUD_DEVICE_PER_MINUTE, 50): a blocked phone's syncs
    const site = await http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      body: { name: 'Budget yard', geo: { lat: 19.07, lng: 72.87 }, radiusM: 200 },
    });
    const phone = await enrollPhone(t.baseUrl, t.keys.admin, site.body.siteId as string);
    await http(t.baseUrl, 'POST', `/api/v5/devices/${phone.deviceId}/block`, {
      key: t.keys.admin,
      body: { reason: 'lost' },
    });
    for (let i = 0; i < 5; i++) {
      const res = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
      expect([res.status, res.body.code]).toEqual([403, 'device_blocked']);
    }
    expect((await events(`type=device_blocked&deviceId=${phone.deviceId}`)).length).toBe(5);

    // the next minute has a budget again
    clock.advance(60_000);
    expect((await syncBatch(t.baseUrl, 'garbage-next.x.y', [])).status).toBe(403);
    expect((await events('type=invalid_token')).length).toBe(4);
  });
});
