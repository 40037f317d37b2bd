import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, Phone, phoneHeaders, signPacket, syncBatch } from './support/worker-client';

/**
 * One phone with a valid token flooding the fraud log (the tester's repro: batches of packets
 * with `geo.lat: 100`, each a `malformed_packet` row): a device's events are stored up to
 * FRAUD_DEVICE_PER_MINUTE per type and minute, the rest counted, not stored; a flood of distinct
 * signed packets refused for a reason only a bug of the app or a forger makes adds one
 * `packet_flood` event, which weighs on the trust score and gets the phone blocked. Unsigned
 * rejections (the bearer token alone makes them) and a batch re-sent are bounded, never a
 * flood. The sync answers are unchanged.
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
  // signed with the phone's secret, naming another worker: refused after the HMAC verified
  const otherWorker = (phone: Phone, n: number) =>
    Array.from({ length: n }, () => signPacket(phone, { workerId: '0123456789abcdef01234567' }));
  const trustOf = async (phone: Phone): Promise<number> => {
    const trust = await http(t.baseUrl, 'GET', `/api/v5/devices/${phone.deviceId}/trust`, {
      key: t.keys.admin,
    });
    return trust.body.score as number;
  };

  it("should store a bounded number of a flooding phone's rows, count the rest and block it", async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin, siteId);
    const before = await unstored('worker_mismatch');
    const first = await syncBatch(t.baseUrl, phone.token, otherWorker(phone, 20));
    // the answer is what it was: every packet rejected, each with its reason
    expect(first.status).toBe(200);
    expect(first.body.rejected).toBe(20);
    expect(
      (first.body.results as { reason: string }[]).every((r) => r.reason === 'worker_mismatch'),
    ).toBe(true);

    const rows = await events(`deviceId=${phone.deviceId}`);
    expect(rows.filter((e) => e.type === 'worker_mismatch')).toHaveLength(5);
    const flood = rows.filter((e) => e.type === 'packet_flood');
    expect(flood).toHaveLength(1);
    expect(flood[0].detail).toContain('worker_mismatch');
    expect((await unstored('worker_mismatch')) - before).toBe(15);
    expect(t.logs()).toContain('over FRAUD_DEVICE_PER_MINUTE');

    // the flood weighed: the phone is blocked (automatically, by the trust floor)
    expect(await trustOf(phone)).toBe(0);
    for (let i = 0; i < 2; i++) {
      const again = await syncBatch(t.baseUrl, phone.token, otherWorker(phone, 20));
      expect([again.status, again.body.code]).toEqual([403, 'device_blocked']);
    }
    expect(
      (await events(`deviceId=${phone.deviceId}&type=worker_mismatch`)).length +
        (await unstored('worker_mismatch')) -
        before,
    ).toBe(20);
  });

  it('should bound, count and not block a flood of rejections decided without the HMAC (the bearer token alone sends them)', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin, siteId);
    const before = await unstored('malformed_packet');
    // the review's repro: empty payloads, no signature, under the phone's token
    const empty = Array.from({ length: 20 }, () => ({ payload: {}, signature: '' }));
    const res = await syncBatch(t.baseUrl, phone.token, empty, phoneHeaders(phone));
    expect([res.status, res.body.rejected]).toEqual([200, 20]);
    expect(await events(`deviceId=${phone.deviceId}&type=malformed_packet`)).toHaveLength(5);
    expect((await unstored('malformed_packet')) - before).toBe(15);
    expect(await events(`deviceId=${phone.deviceId}&type=packet_flood`)).toHaveLength(0);
    // the phone still syncs
    const next = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect([next.status, next.body.accepted]).toEqual([200, 1]);

    // a forged HMAC, another device's packets: the same, bounded, no flood (one phone each:
    // their own rows weigh 8 each, up to 24, in the fraud history, as any such rows do)
    const forged = (p: Phone) => signPacket(p, {}, Buffer.alloc(32, 7));
    const foreign = (p: Phone) => signPacket(p, { deviceId: phone.deviceId });
    for (const [make, type] of [
      [forged, 'invalid_signature'],
      [foreign, 'device_mismatch'],
    ] as const) {
      const other = await enrollPhone(t.baseUrl, t.keys.admin, siteId);
      const packets = [...Array.from({ length: 20 }, () => make(other)), signPacket(other)];
      const r = await syncBatch(t.baseUrl, other.token, packets, phoneHeaders(other));
      expect([r.status, r.body.accepted, r.body.rejected]).toEqual([200, 1, 20]);
      expect(await events(`deviceId=${other.deviceId}&type=${type}`)).toHaveLength(5);
      expect(await events(`deviceId=${other.deviceId}&type=packet_flood`)).toHaveLength(0);
      const after = await syncBatch(t.baseUrl, other.token, [signPacket(other)]);
      expect([after.status, after.body.accepted]).toEqual([200, 1]);
    }
  });

  it('should count a batch sent twice in a minute (a lost response) once toward packet_flood', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin, siteId);
    const batch = otherWorker(phone, 4);
    for (let i = 0; i < 2; i++) {
      const res = await syncBatch(t.baseUrl, phone.token, batch);
      expect([res.status, res.body.rejected]).toEqual([200, 4]);
    }
    // 8 rejections, 4 packets: a signed refusal sent again is recorded once (the resend adds
    // no row), and the flood counts packets
    expect(await events(`deviceId=${phone.deviceId}&type=worker_mismatch`)).toHaveLength(4);
    expect(await events(`deviceId=${phone.deviceId}&type=packet_flood`)).toHaveLength(0);
    const next = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect([next.status, next.body.accepted]).toEqual([200, 1]);
  });

  it("should store an honest phone's occasional events, and count a long queue's late packets without blocking it", async () => {
    // a SIM of its own: the other phones of this file share one (shared_device, 8 each), which
    // the app's headers (+15) no longer lift over the auto-block floor
    const phone = await enrollPhone(t.baseUrl, t.keys.admin, siteId, {
      simHash: 'flood-honest-0001',
    });
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
