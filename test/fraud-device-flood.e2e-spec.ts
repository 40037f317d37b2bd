import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, Phone, signPacket, syncBatch } from './support/worker-client';

/**
 * One phone with a valid token flooding the fraud log (the tester's repro: batches of packets
 * with `geo.lat: 100`, each a `malformed_packet` row): a device's events are stored up to
 * FRAUD_DEVICE_PER_MINUTE per type and minute, the rest counted, not stored; a flood of a
 * rejection only a bug of the app or a forger makes adds one `packet_flood` event, which
 * weighs on the trust score and gets the phone blocked. The sync answers are unchanged.
 */
describe('fraud events of one device over FRAUD_DEVICE_PER_MINUTE (e2e)', () => {
  let t: TestApp;
  let siteId: string;
  const clock = new ManualClock(new Date(Math.floor(Date.now() / 60_000) * 60_000 + 1_000));

  beforeAll(async () => {
    t = await startTestApp({ FRAUD_DEVICE_PER_MINUTE: '5' }, { clock });
    const site = await http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      body: { name: 'Flood yard', geo: { lat: 28.61391, lng: 77.20902 }, radiusM: 500 },
    });
    siteId = site.body.siteId as string;
  });
  afterAll(async () => t.close());

  const events = async (query: string): Promise<{ type: string; detail: string }[]> => {
    const res = await http(t.baseUrl, 'GET', `/api/v5/fraud/events?${query}&limit=100`, {
      key: t.keys.admin,
    });
    expect(res.status).toBe(200);
    return res.body as { type: string; detail: string }[];
  };
  const unstored = async (type: string): Promise<number> => {
    const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`mdai_fraud_events_unstored_total{type="${type}"}`));
    return Number(line?.split(' ')[1]);
  };
  const malformed = (phone: Phone, n: number) =>
    Array.from({ length: n }, () => signPacket(phone, { geo: { lat: 100, lng: 0, accuracyM: 1 } }));

  it("should store a bounded number of a flooding phone's rows, count the rest and block it", async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin, siteId);
    const first = await syncBatch(t.baseUrl, phone.token, malformed(phone, 20));
    // the answer is what it was: every packet rejected, each with its reason
    expect(first.status).toBe(200);
    expect(first.body.rejected).toBe(20);
    expect(
      (first.body.results as { reason: string }[]).every((r) => r.reason === 'malformed_packet'),
    ).toBe(true);

    const rows = await events(`deviceId=${phone.deviceId}`);
    expect(rows.filter((e) => e.type === 'malformed_packet')).toHaveLength(5);
    const flood = rows.filter((e) => e.type === 'packet_flood');
    expect(flood).toHaveLength(1);
    expect(flood[0].detail).toContain('malformed_packet');
    expect(await unstored('malformed_packet')).toBe(15);
    expect(t.logs()).toContain('over FRAUD_DEVICE_PER_MINUTE');

    // the flood weighed: the phone is blocked (automatically, by the trust floor)
    const trust = await http(t.baseUrl, 'GET', `/api/v5/devices/${phone.deviceId}/trust`, {
      key: t.keys.admin,
    });
    expect(trust.body.score).toBe(0);
    for (let i = 0; i < 2; i++) {
      const again = await syncBatch(t.baseUrl, phone.token, malformed(phone, 20));
      expect([again.status, again.body.code]).toEqual([403, 'device_blocked']);
    }
    expect(
      (await events(`deviceId=${phone.deviceId}&type=malformed_packet`)).length +
        (await unstored('malformed_packet')),
    ).toBe(20);
  });

  it("should store an honest phone's occasional events, and count a long queue's late packets without blocking it", async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin, siteId);
    // a few bad packets among good ones: every event stored, the phone trusted
    const mixed = await syncBatch(t.baseUrl, phone.token, [
      ...malformed(phone, 3),
      signPacket(phone),
    ]);
    expect([mixed.status, mixed.body.accepted, mixed.body.rejected]).toEqual([200, 1, 3]);
    expect(await events(`deviceId=${phone.deviceId}&type=malformed_packet`)).toHaveLength(3);

    // a rejection an honest phone may send in bulk (not one of a bug of the app): bounded and
    // counted, no packet_flood
    const other = '0123456789abcdef01234567';
    const before = await unstored('site_not_allowed');
    const late = await syncBatch(
      t.baseUrl,
      phone.token,
      Array.from({ length: 8 }, () => signPacket(phone, { siteId: other })),
    );
    expect(late.status).toBe(200);
    expect(new Set((late.body.results as { reason: string }[]).map((r) => r.reason))).toEqual(
      new Set(['site_not_allowed']),
    );
    expect(await events(`deviceId=${phone.deviceId}&type=site_not_allowed`)).toHaveLength(5);
    expect((await unstored('site_not_allowed')) - before).toBe(3);
    expect(await events(`deviceId=${phone.deviceId}&type=packet_flood`)).toHaveLength(0);
    const next = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect([next.status, next.body.accepted]).toEqual([200, 1]);

    // the next minute has a budget again
    clock.advance(60_000);
    await syncBatch(t.baseUrl, phone.token, malformed(phone, 2));
    expect(await events(`deviceId=${phone.deviceId}&type=malformed_packet`)).toHaveLength(5);
  });
});
