import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import {
  canonicalJson,
  enrollPhone,
  hmacHex,
  Packet,
  Phone,
  signPacket,
  syncBatch,
} from './support/worker-client';

const SITE = { lat: 28.6139, lng: 77.209 };
const EARTH_RADIUS_M = 6_371_008.8;
const HOUR = 3_600_000;

/** The point `metres` due north of `from` (written here, not taken from the server). */
function north(from: { lat: number; lng: number }, metres: number) {
  return { lat: from.lat + (metres / EARTH_RADIUS_M) * (180 / Math.PI), lng: from.lng };
}

function packet(
  phone: Phone,
  at: Date,
  where: { lat: number; lng: number },
  overrides: Record<string, unknown> = {},
): Packet {
  return signPacket(phone, {
    timestamp: at.toISOString(),
    geo: { lat: where.lat, lng: where.lng, accuracyM: 10 },
    ...overrides,
  });
}

async function fraudEvents(t: TestApp, query: string): Promise<any[]> {
  const res = await http(t.baseUrl, 'GET', `/api/v5/fraud/events?${query}`, { key: t.keys.admin });
  expect(res.status).toBe(200);
  return res.body;
}

async function trustOf(t: TestApp, deviceId: string) {
  const res = await http(t.baseUrl, 'GET', `/api/v5/devices/${deviceId}/trust`, {
    key: t.keys.admin,
  });
  expect(res.status).toBe(200);
  return res.body;
}

/** Every device's `liveTrustScore` from the device list (`?trust=live`), walking its pages. */
async function liveScores(t: TestApp): Promise<Map<string, number>> {
  const scores = new Map<string, number>();
  let after = '';
  for (;;) {
    const res = await http(
      t.baseUrl,
      'GET',
      `/api/v5/devices?trust=live&limit=2${after && `&after=${after}`}`,
      { key: t.keys.admin },
    );
    expect(res.status).toBe(200);
    for (const d of res.body) scores.set(d.deviceId, d.liveTrustScore);
    if (res.body.length < 2) return scores;
    after = res.body[res.body.length - 1].deviceId;
  }
}

function factor(trust: any, name: string) {
  return trust.factors.find((f: any) => f.name === name);
}

describe('fraud rules on synced attendance (e2e)', () => {
  let t: TestApp;
  let sim = 0;
  // packets must be signed after the token was issued: register, then let time pass
  const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  const passes = (ms: number) => clock.advance(ms);
  const phone = (siteId?: string) =>
    enrollPhone(t.baseUrl, t.keys.admin, siteId, { simHash: `rules-sim-${++sim}-0000` });
  beforeAll(async () => {
    t = await startTestApp(
      {
        TRUST_AUTO_BLOCK_FLOOR: '0',
        FRAUD_MAX_SPEED_KMH: '120',
        FRAUD_RAPID_REPEAT_SECONDS: '60',
        FRAUD_SHARED_DEVICE_MAX_WORKERS: '3',
        FRAUD_SHARED_DEVICE_WINDOW_HOURS: '24',
      },
      { clock },
    );
  });
  afterAll(async () => t.close());

  it('should flag impossible travel just over the speed limit, not just under, after subtracting both GPS accuracies', async () => {
    const p = await phone();
    const t0 = clock.now();
    passes(3 * HOUR);
    const first = packet(p, t0, SITE);
    // 1 h later: 120 km + both 10 m accuracies - 50 m → 119.95 km/h
    const underAt = north(SITE, 120_000 + 20 - 50);
    const under = packet(p, new Date(t0.getTime() + HOUR), underAt, { type: 'check_out' });
    // 1 h after that: 120 km + 20 m + 50 m → 120.05 km/h
    const over = packet(p, new Date(t0.getTime() + 2 * HOUR), north(underAt, 120_000 + 20 + 50));
    const res = await syncBatch(t.baseUrl, p.token, [first, under, over]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 3, rejected: 0 });
    const flagged = await fraudEvents(t, `type=impossible_travel&workerId=${p.workerId}`);
    expect(flagged.map((e) => e.packetId)).toEqual([over.payload.packetId]);
    expect(flagged[0].detail).toContain('> 120 km/h');
    expect(flagged[0]).toMatchObject({ deviceId: p.deviceId, siteId: p.siteId });
  });

  it("should compare with the worker's previous packet in time, even one from an earlier batch", async () => {
    const p = await phone();
    const t0 = clock.now();
    passes(2 * HOUR);
    await syncBatch(t.baseUrl, p.token, [packet(p, t0, SITE)]);
    // 10 minutes later, 30 km away: 180 km/h
    const jump = packet(p, new Date(t0.getTime() + 600_000), north(SITE, 30_000), {
      type: 'check_out',
    });
    expect((await syncBatch(t.baseUrl, p.token, [jump])).body.accepted).toBe(1);
    const flagged = await fraudEvents(t, `type=impossible_travel&workerId=${p.workerId}`);
    expect(flagged.map((e) => e.packetId)).toEqual([jump.payload.packetId]);
  });

  it('should flag a packet just outside the geofence (distance - accuracy > radiusM), not one just inside', async () => {
    const p = await phone();
    const t0 = clock.now();
    passes(2 * HOUR);
    const inside = packet(p, t0, north(SITE, 150 + 10 - 1));
    const outside = packet(p, new Date(t0.getTime() + HOUR), north(SITE, 150 + 10 + 1), {
      type: 'check_out',
    });
    const res = await syncBatch(t.baseUrl, p.token, [inside, outside]);
    expect(res.body.accepted).toBe(2);
    const flagged = await fraudEvents(t, `type=outside_geofence&workerId=${p.workerId}`);
    expect(flagged.map((e) => e.packetId)).toEqual([outside.payload.packetId]);
  });

  it('should flag the same type again within the rapid-repeat window, not just after it', async () => {
    const p = await phone();
    const t0 = clock.now().getTime();
    passes(HOUR);
    const first = packet(p, new Date(t0), SITE);
    const after61 = packet(p, new Date(t0 + 61_000), SITE);
    const after59 = packet(p, new Date(t0 + 61_000 + 59_000), SITE);
    const otherType = packet(p, new Date(t0 + 61_000 + 59_000 + 1_000), SITE, {
      type: 'check_out',
    });
    const res = await syncBatch(t.baseUrl, p.token, [first, after61, after59, otherType]);
    expect(res.body.accepted).toBe(4);
    const flagged = await fraudEvents(t, `type=rapid_repeat&workerId=${p.workerId}`);
    expect(flagged.map((e) => e.packetId)).toEqual([after59.payload.packetId]);
  });

  it('should flag one phone (one SIM) used by more workers than allowed, not up to the limit', async () => {
    const simHash = 'shared-phone-sim-0001';
    const first = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash });
    const phones = [first];
    for (let i = 0; i < 3; i++) {
      phones.push(await enrollPhone(t.baseUrl, t.keys.admin, first.siteId, { simHash }));
    }
    const t0 = clock.now().getTime();
    passes(HOUR);
    for (const [i, p] of phones.slice(0, 3).entries()) {
      const res = await syncBatch(t.baseUrl, p.token, [packet(p, new Date(t0 + i * 60_000), SITE)]);
      expect(res.body.accepted).toBe(1);
    }
    for (const p of phones.slice(0, 3)) {
      expect(await fraudEvents(t, `type=shared_device&deviceId=${p.deviceId}`)).toEqual([]);
    }
    const fourth = phones[3];
    const res = await syncBatch(t.baseUrl, fourth.token, [
      packet(fourth, new Date(t0 + 4 * 60_000), SITE),
    ]);
    expect(res.body.accepted).toBe(1);
    const flagged = await fraudEvents(t, `type=shared_device&deviceId=${fourth.deviceId}`);
    expect(flagged).toHaveLength(1);
    expect(flagged[0].detail).toContain('4 distinct workers');
  });

  it('should lower the device trust through its fraud history and explain it', async () => {
    const p = await phone();
    const before = await trustOf(t, p.deviceId);
    expect(before.score).toBe(50);
    expect((await liveScores(t)).get(p.deviceId)).toBe(50);
    const t0 = clock.now().getTime();
    passes(2 * HOUR);
    await syncBatch(t.baseUrl, p.token, [
      packet(p, new Date(t0), SITE),
      packet(p, new Date(t0 + 60_000), north(SITE, 50_000), { type: 'check_out' }),
    ]);
    const after = await trustOf(t, p.deviceId);
    expect(after.score).toBeLessThan(50);
    expect(factor(after, 'fraud_history').effect).toBeLessThan(0);
    expect(factor(after, 'fraud_history').detail).toContain('impossible_travel x1');
    expect(factor(after, 'fraud_history').detail).toContain('outside_geofence x1');
    // the device list's live score is the same formula over the same inputs, read per page
    expect((await liveScores(t)).get(p.deviceId)).toBe(after.score);
    expect(after.factors.map((f: any) => f.name)).toEqual([
      'baseline',
      'device_age',
      'fraud_history',
      'block_state',
    ]);
    expect(after.score).toBe(
      Math.max(
        0,
        Math.min(
          100,
          after.factors.reduce((n: number, f: any) => n + f.effect, 0),
        ),
      ),
    );
  });

  it("should not let a phone's refused syncs while blocked sink its trust once an admin unblocks it", async () => {
    const p = await phone();
    passes(10 * 60_000);
    const admin = (action: string) =>
      http(t.baseUrl, 'POST', `/api/v5/devices/${p.deviceId}/${action}`, {
        key: t.keys.admin,
        body: { reason: 'reported lost, then found by the worker' },
      });
    expect((await admin('block')).status).toBe(200);
    // the app retries its queue while blocked: each refusal is recorded
    for (let i = 0; i < 4; i++) {
      passes(60_000);
      const refused = await syncBatch(t.baseUrl, p.token, [
        packet(p, new Date(clock.now().getTime() - 30_000), SITE),
      ]);
      expect([refused.status, refused.body.code]).toEqual([403, 'device_blocked']);
    }
    expect(await fraudEvents(t, `type=device_blocked&deviceId=${p.deviceId}`)).toHaveLength(4);
    expect((await admin('unblock')).status).toBe(200);
    // the block was the action; the refusals it caused are no evidence against the phone
    const trust = await trustOf(t, p.deviceId);
    expect(trust.score).toBe(50);
    expect(factor(trust, 'fraud_history').effect).toBe(0);
    passes(60_000);
    const synced = await syncBatch(t.baseUrl, p.token, [
      packet(p, new Date(clock.now().getTime() - 30_000), SITE),
    ]);
    expect(synced.status).toBe(200);
    const ledger = await fetch(`${t.baseUrl}/api/v5/ledger/${p.siteId}/export`, {
      headers: { 'x-api-key': t.keys.auditor },
    });
    const line = JSON.parse((await ledger.text()).trim().split('\n').pop()!);
    expect(line.meta.lowTrust).toBeUndefined();
  });

  it('should page fraud events with a cursor, without gaps or repeats', async () => {
    const p = await phone();
    const t0 = clock.now().getTime();
    passes(HOUR);
    await syncBatch(
      t.baseUrl,
      p.token,
      Array.from({ length: 5 }, (_, i) => packet(p, new Date(t0 + i * 1000), SITE)),
    );
    const all = await fraudEvents(t, `workerId=${p.workerId}`);
    expect(all).toHaveLength(4);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await http(
        t.baseUrl,
        'GET',
        `/api/v5/fraud/events?workerId=${p.workerId}&limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        { key: t.keys.admin },
      );
      seen.push(...res.body.map((e: any) => e.id));
      cursor = res.headers.get('x-next-cursor');
    } while (cursor);
    expect(seen).toEqual(all.map((e) => e.id));
    const bad = await http(t.baseUrl, 'GET', '/api/v5/fraud/events?cursor=bm9wZQ', {
      key: t.keys.admin,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_cursor');
  });
});

describe('trust score, auto-block and assisted onboarding (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  beforeAll(async () => {
    t = await startTestApp({}, { clock });
  });
  afterAll(async () => t.close());

  it('should give the same score and factors for the same inputs and the same instant', async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'det-sim-0001' });
    const a = await trustOf(t, p.deviceId);
    const b = await trustOf(t, p.deviceId);
    expect(b).toEqual(a);
    expect(a).toEqual({
      deviceId: p.deviceId,
      score: 50,
      computedAt: clock.now().toISOString(),
      factors: [
        { name: 'baseline', effect: 50, detail: "the worker's own standing" },
        {
          name: 'device_age',
          effect: 0,
          detail: 'registered 0 days ago (+5 from 7 days, +10 from 30 days)',
        },
        { name: 'fraud_history', effect: 0, detail: 'no fraud events in the last 30 days' },
        { name: 'block_state', effect: 0, detail: 'not blocked' },
      ],
    });
    const unknown = await http(t.baseUrl, 'GET', '/api/v5/devices/0123456789abcdef01234567/trust', {
      key: t.keys.admin,
    });
    expect(unknown.status).toBe(404);
    const mobile = await http(t.baseUrl, 'GET', `/api/v5/devices/${p.deviceId}/trust`, {
      key: t.keys.mobile,
    });
    expect(mobile.status).toBe(403);
  });

  it('should mark low-trust packets, keep a device at the floor, and block it automatically one point below', async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'floor-sim-0001' });
    // 50 - 20 (an iPhone User-Agent for an Android registration) - 10 (app 0.9.0 < 1.0.0) = 20
    const suspicious = {
      'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)',
      'x-app-version': '0.9.0',
      'x-device-id': '',
    };
    const at = clock.now().getTime();
    clock.advance(600_000);
    const first = await syncBatch(t.baseUrl, p.token, [packet(p, new Date(at), SITE)], suspicious);
    expect(first.status).toBe(200);
    expect(first.body.accepted).toBe(1);
    const ledger = await fetch(`${t.baseUrl}/api/v5/ledger/${p.siteId}/export`, {
      headers: { 'x-api-key': t.keys.auditor },
    });
    const line = JSON.parse((await ledger.text()).trim().split('\n').pop()!);
    expect(line.meta).toMatchObject({ deviceTrustScore: 20, lowTrust: true });

    // a rapid repeat takes one point off: 19 < 20 → blocked after this (accepted) batch
    const second = await syncBatch(
      t.baseUrl,
      p.token,
      [packet(p, new Date(at + 30_000), SITE)],
      suspicious,
    );
    expect(second.status).toBe(200);
    expect(second.body.accepted).toBe(1);
    const third = await syncBatch(t.baseUrl, p.token, [packet(p, new Date(at + 90_000), SITE)]);
    expect(third.status).toBe(403);
    expect(third.body).toMatchObject({ statusCode: 403, code: 'device_blocked' });
    const detail = await http(t.baseUrl, 'GET', `/api/v5/devices/${p.deviceId}`, {
      key: t.keys.admin,
    });
    const blocked = detail.body.events.find((e: any) => e.action === 'blocked');
    expect(blocked.actor).toBe('system:trust');
    expect(blocked.reason).toContain('trust score 19 below the floor 20');
    const trust = await trustOf(t, p.deviceId);
    expect(trust.score).toBe(0);
    expect(factor(trust, 'block_state').detail).toBe('the device is blocked');

    const unblock = await http(t.baseUrl, 'POST', `/api/v5/devices/${p.deviceId}/unblock`, {
      key: t.keys.admin,
      body: { reason: 'checked with the worker' },
    });
    expect(unblock.status).toBe(200);
    const again = await syncBatch(t.baseUrl, p.token, [packet(p, new Date(at + 200_000), SITE)]);
    expect(again.status).toBe(200);
    expect(again.body.accepted).toBe(1);
  });

  it("should let an admin's unblock hold: the floor weighs only the fraud events recorded since", async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'floor-sim-0004' });
    clock.advance(600_000);
    const forged = (at: number) => ({
      ...packet(p, new Date(at), SITE),
      signature: 'ab'.repeat(32),
    });
    const future = (ms: number) =>
      packet(p, new Date(clock.now().getTime() + 3_600_000 + ms), SITE);
    // the sync's own request factors are +15 (its app's headers): 65, less 52 for one burst's
    // events at full weight (four forged: invalid_signature -24 at the cap; four an hour ahead:
    // timestamp_in_future -9; three malformed: -6; one 50 km away a minute later:
    // impossible_travel -10 and outside_geofence -3) = 13, under the floor of 20
    const burst = () => {
      const at = clock.now().getTime() - 300_000;
      return [
        packet(p, new Date(at), SITE),
        packet(p, new Date(at + 60_000), north(SITE, 50_000), { type: 'check_out' }),
        ...[1, 2, 3, 4].map((i) => forged(at + i * 1000)),
        ...[1, 2, 3, 4].map(future),
        ...[1, 2, 3].map((i) => ({
          ...packet(p, new Date(at + 10_000 + i), SITE),
          signature: 'AB'.repeat(32),
        })),
      ];
    };
    const first = await syncBatch(t.baseUrl, p.token, burst());
    expect(first.status).toBe(200);
    expect(first.body.accepted).toBe(2);
    const blockedEvents = async () =>
      (
        await http(t.baseUrl, 'GET', `/api/v5/devices/${p.deviceId}`, { key: t.keys.admin })
      ).body.events.filter((e: any) => e.action === 'blocked');
    expect(await blockedEvents()).toHaveLength(1);

    clock.advance(60_000);
    const unblock = await http(t.baseUrl, 'POST', `/api/v5/devices/${p.deviceId}/unblock`, {
      key: t.keys.admin,
      body: { reason: 'a test build of the app; checked with the worker' },
    });
    expect(unblock.status).toBe(200);
    // the events before the unblock still lower the score, but no longer block
    clock.advance(60_000);
    expect((await trustOf(t, p.deviceId)).score).toBeLessThan(20);
    const clean = await syncBatch(t.baseUrl, p.token, [
      packet(p, new Date(clock.now().getTime() - 30_000), SITE, { type: 'check_out' }),
    ]);
    expect(clean.status).toBe(200);
    expect(clean.body.accepted).toBe(1);
    expect(await blockedEvents()).toHaveLength(1);

    // a new burst after the unblock is judged on its own, and blocks again
    clock.advance(120_000);
    const again = await syncBatch(t.baseUrl, p.token, burst());
    expect(again.status).toBe(200);
    const blocks = await blockedEvents();
    expect(blocks).toHaveLength(2);
    expect(blocks.map((e: any) => e.reason).join(' ')).toMatch(
      /trust score \d+ since the unblock of \S+ below the floor 20/,
    );
  });

  it('should block a device after a batch whose request scores below the floor and whose packet it appended', async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'floor-sim-0002' });
    const other = await enrollPhone(t.baseUrl, t.keys.admin, p.siteId, {
      simHash: 'floor-sim-0003',
    });
    // 50 - 20 (iOS vs Android) + 5 (app version) - 30 (x-device-id names another device) = 5:
    // the packet this request appended proves the secret, so its headers block the phone; the
    // floor judges 50 - 20 - 30 = 0 (the app version's +5, the sender's choice too, never lifts it)
    const res = await syncBatch(t.baseUrl, p.token, [packet(p, clock.now(), SITE)], {
      'user-agent': 'MDAI-Worker/1.4.0 (iOS 17; iPhone 13)',
      'x-device-id': other.deviceId,
    });
    expect([res.status, res.body.accepted]).toEqual([200, 1]);
    await expectBlockedAt(p, 0);
  });

  /** The phone was blocked by the floor at `score`: the next sync is refused. */
  async function expectBlockedAt(p: Phone, score: number) {
    const detail = await http(t.baseUrl, 'GET', `/api/v5/devices/${p.deviceId}`, {
      key: t.keys.admin,
    });
    expect(detail.body.isBlocked).toBe(true);
    const blocked = detail.body.events.filter((e: any) => e.action === 'blocked');
    expect(blocked).toHaveLength(1);
    expect(blocked[0].actor).toBe('system:trust');
    expect(blocked[0].reason).toContain(`trust score ${score} below the floor 20`);
    clock.advance(1000);
    const next = await syncBatch(t.baseUrl, p.token, [
      packet(p, clock.now(), SITE, { type: 'check_out' }),
    ]);
    expect([next.status, next.body.code]).toEqual([403, 'device_blocked']);
  }

  it("should not block a device by the request's own headers when no packet proves its secret", async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'floor-sim-0004' });
    const other = await enrollPhone(t.baseUrl, t.keys.admin, p.siteId, {
      simHash: 'floor-sim-0005',
    });
    const headers = {
      'user-agent': 'MDAI-Worker/1.4.0 (iOS 17; iPhone 13)',
      'x-device-id': other.deviceId,
    };
    // the same headers (the request scores 5), with a packet signed by another key, then none
    const forged = await syncBatch(
      t.baseUrl,
      p.token,
      [signPacket(p, { timestamp: clock.now().toISOString() }, Buffer.alloc(32, 7))],
      headers,
    );
    expect([forged.status, forged.body.code]).toEqual([403, 'invalid_signatures']);
    const empty = await syncBatch(t.baseUrl, p.token, [], headers);
    expect([empty.status, empty.body.accepted]).toEqual([200, 0]);
    const device = await http(t.baseUrl, 'GET', `/api/v5/devices/${p.deviceId}`, {
      key: t.keys.admin,
    });
    expect(device.body.isBlocked).toBe(false);
    expect(await fraudEvents(t, `type=device_blocked&deviceId=${p.deviceId}`)).toEqual([]);
    // the forged packet is still recorded against the phone
    expect((await fraudEvents(t, `type=invalid_signature&deviceId=${p.deviceId}`)).length).toBe(1);
  });

  it("should not block a device by the request's own headers when its signed packets are a replay of ones already in the ledger", async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'replay-sim-0001' });
    const other = await enrollPhone(t.baseUrl, t.keys.admin, p.siteId, {
      simHash: 'replay-sim-0002',
    });
    const hostile = {
      'user-agent': 'MDAI-Worker/1.4.0 (iOS 17; iPhone 13)',
      'x-device-id': other.deviceId,
    };
    const genuine = [packet(p, clock.now(), SITE)];
    const synced = await syncBatch(t.baseUrl, p.token, genuine);
    expect([synced.status, synced.body.accepted]).toEqual([200, 1]);
    // the phone's request captured and replayed under its token with hostile headers (the
    // request scores 5): its packet's HMAC verifies, but the ledger holds it already
    const replay = await syncBatch(t.baseUrl, p.token, genuine, hostile);
    expect([replay.status, replay.body.duplicates]).toEqual([200, 1]);
    const device = await http(t.baseUrl, 'GET', `/api/v5/devices/${p.deviceId}`, {
      key: t.keys.admin,
    });
    expect(device.body.isBlocked).toBe(false);
    expect(await fraudEvents(t, `type=device_blocked&deviceId=${p.deviceId}`)).toEqual([]);
    const warned = t
      .logs()
      .split('\n')
      .filter((l) => l.includes(p.deviceId) && l.includes('by its own headers'));
    expect(warned).toHaveLength(1);
    // level 40: pino's warn; the score the floor judges with the headers (no +5 for the version)
    expect(JSON.parse(warned[0])).toMatchObject({ level: 40, score: 0, floor: 20 });

    // a packet this request appends proves the secret: the same headers block after the batch
    clock.advance(60_000);
    const fresh = await syncBatch(
      t.baseUrl,
      p.token,
      [packet(p, clock.now(), SITE, { type: 'check_out' })],
      hostile,
    );
    expect([fresh.status, fresh.body.accepted]).toEqual([200, 1]);
    await expectBlockedAt(p, 0);
  });

  it("should not block a device by the request's own headers when its signed packet is a replay of one the server refused, nor record that refusal again", async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'replay-sim-0003' });
    const other = await enrollPhone(t.baseUrl, t.keys.admin, p.siteId, {
      simHash: 'replay-sim-0004',
    });
    const hostile = {
      'user-agent': 'MDAI-Worker/1.4.0 (iOS 17; iPhone 13)',
      'x-device-id': other.deviceId,
    };
    // the phone's clock an hour ahead: its genuine packet verifies, is refused and never stored
    const ahead = [packet(p, new Date(clock.now().getTime() + HOUR), SITE)];
    const refused = await syncBatch(t.baseUrl, p.token, ahead);
    expect([refused.status, refused.body.rejected]).toEqual([200, 1]);
    expect(refused.body.results[0].reason).toBe('timestamp_in_future');
    // captured and replayed under the phone's token with hostile headers (the request scores 5)
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      const replay = await syncBatch(t.baseUrl, p.token, ahead, hostile);
      expect([replay.status, replay.body.rejected]).toEqual([200, 1]);
    }
    const device = await http(t.baseUrl, 'GET', `/api/v5/devices/${p.deviceId}`, {
      key: t.keys.admin,
    });
    expect(device.body.isBlocked).toBe(false);
    expect(await fraudEvents(t, `type=device_blocked&deviceId=${p.deviceId}`)).toEqual([]);
    // the refusal is recorded once, not once a replay
    const events = await fraudEvents(t, `deviceId=${p.deviceId}`);
    expect(events.map((e) => [e.type, e.packetId])).toEqual([
      ['timestamp_in_future', ahead[0].payload.packetId],
    ]);
    expect(factor(await trustOf(t, p.deviceId), 'fraud_history').effect).toBe(-3);
    // the phone's honest punch still syncs
    const honest = await syncBatch(t.baseUrl, p.token, [packet(p, clock.now(), SITE)]);
    expect([honest.status, honest.body.accepted]).toEqual([200, 1]);
  });

  describe('assisted onboarding', () => {
    let siteId: string;
    let thekedarId: string;
    let device: { deviceId: string; secret: Buffer };

    const signed = (
      body: unknown,
      options: { timestamp?: string; secret?: Buffer; deviceId?: string } = {},
    ) => {
      const timestamp = options.timestamp ?? clock.now().toISOString();
      return {
        'x-thekedar-id': thekedarId,
        'x-device-id': options.deviceId ?? device.deviceId,
        'x-request-timestamp': timestamp,
        'x-signature': hmacHex(
          options.secret ?? device.secret,
          `${timestamp}.${canonicalJson(body)}`,
        ),
      };
    };
    const createWorker = (body: unknown, headers: Record<string, string>) =>
      http(t.baseUrl, 'POST', '/api/v5/workers', { body, headers });
    let phones = 0;
    // each body its own phone: a thekedar onboards a phone once (409 worker_exists)
    const workerBody = (name = 'Meena') => ({
      name,
      phone: `+91 90000 ${String((phones += 1)).padStart(5, '0')}`,
      siteIds: [siteId],
    });

    beforeAll(async () => {
      const site = await http(t.baseUrl, 'POST', '/api/v5/sites', {
        key: t.keys.admin,
        body: { name: 'Onboarding yard', geo: SITE, radiusM: 200 },
      });
      siteId = site.body.siteId;
      const thekedar = await http(t.baseUrl, 'POST', '/api/v5/thekedars', {
        key: t.keys.admin,
        body: { name: 'Ramesh', phone: '+91 90000 00011', siteIds: [siteId] },
      });
      thekedarId = thekedar.body.thekedarId;
      const reg = await http(t.baseUrl, 'POST', '/api/v5/device/register', {
        body: {
          enrollmentCode: thekedar.body.enrollmentCode,
          fingerprint: { os: 'Android 14', model: 'Pixel 8', simHash: 'thekedar-sim-0001' },
        },
      });
      expect(reg.status).toBe(201);
      device = {
        deviceId: reg.body.deviceId,
        secret: Buffer.from(reg.body.deviceSecret, 'base64'),
      };
    });

    it("should create a worker from a thekedar's signed request and let it inherit the thekedar's trust for 30 days only", async () => {
      const body = workerBody();
      const created = await createWorker(body, signed(body));
      expect(created.status).toBe(201);
      const until = new Date(clock.now().getTime() + 30 * 86_400_000).toISOString();
      expect(created.body).toMatchObject({ trustScore: 80, trustInheritedUntil: until });
      const reg = await http(t.baseUrl, 'POST', '/api/v5/device/register', {
        body: {
          enrollmentCode: created.body.enrollmentCode,
          fingerprint: { os: 'Android 13', model: 'Moto G', simHash: 'inherit-sim-0001' },
        },
      });
      expect(reg.status).toBe(201);
      expect(reg.body.trustScore).toBe(80);
      const baseline = async () => factor(await trustOf(t, reg.body.deviceId), 'baseline');
      expect(await baseline()).toEqual({
        name: 'baseline',
        effect: 80,
        detail: `inherited from thekedar ${thekedarId} until ${until}`,
      });
      clock.advance(30 * 86_400_000 - 1);
      expect((await baseline()).effect).toBe(80);
      expect((await trustOf(t, reg.body.deviceId)).score).toBe(85);
      clock.advance(1);
      expect(await baseline()).toEqual({
        name: 'baseline',
        effect: 50,
        detail: `own record (inheritance from thekedar ${thekedarId} ended ${until})`,
      });
      expect((await trustOf(t, reg.body.deviceId)).score).toBe(60);
    });

    it("should list every device's live score as its trust view gives it (thekedar, inherited, own)", async () => {
      const live = await liveScores(t);
      expect(live.has(device.deviceId)).toBe(true); // the thekedar's own phone
      expect(live.size).toBeGreaterThanOrEqual(3);
      for (const [deviceId, score] of live) {
        expect([deviceId, score]).toEqual([deviceId, (await trustOf(t, deviceId)).score]);
      }
      const plain = await http(t.baseUrl, 'GET', '/api/v5/devices?limit=500', {
        key: t.keys.admin,
      });
      expect(plain.status).toBe(200);
      expect(plain.body.some((d: any) => 'liveTrustScore' in d)).toBe(false);
      const big = await http(t.baseUrl, 'GET', '/api/v5/devices?trust=live&limit=101', {
        key: t.keys.admin,
      });
      expect(big.status).toBe(400);
      expect(big.body.errors).toEqual([
        { field: 'limit', message: 'must not be greater than 100 with trust=live' },
      ]);
      const wrong = await http(t.baseUrl, 'GET', '/api/v5/devices?trust=stored', {
        key: t.keys.admin,
      });
      expect(wrong.status).toBe(400);
      expect(wrong.body.code).toBe('validation_failed');
    });

    it('should refuse a forged signature, a tampered body and a wrong device, each with a fraud event', async () => {
      const body = workerBody('Forged');
      const forged = await createWorker(body, signed(body, { secret: Buffer.alloc(32, 9) }));
      expect(forged.status).toBe(401);
      expect(forged.body).toMatchObject({ statusCode: 401, code: 'invalid_signature' });
      expect(forged.body.correlationId).toBeDefined();
      const tampered = await createWorker({ ...body, name: 'Someone else' }, signed(body));
      expect(tampered.status).toBe(401);
      const other = await enrollPhone(t.baseUrl, t.keys.admin, siteId, {
        simHash: 'not-thekedar-0001',
      });
      const wrongDevice = await createWorker(
        body,
        signed(body, { deviceId: other.deviceId, secret: other.secret }),
      );
      expect(wrongDevice.status).toBe(401);
      const events = await fraudEvents(t, 'type=onboarding_signature_invalid');
      // no refused request names its device (a signed request can be a copy): the detail does
      expect(events.filter((e) => e.deviceId !== undefined)).toHaveLength(0);
      const naming = (id: string) =>
        events.filter((e) => e.detail.endsWith(`(x-device-id ${id})`)).length;
      expect([naming(device.deviceId), naming(other.deviceId)]).toEqual([2, 1]);
      expect(JSON.stringify(events)).not.toContain(signed(body)['x-signature']);
    });

    it("should not lower a device's trust for requests that name it without its signature", async () => {
      const victim = await enrollPhone(t.baseUrl, t.keys.admin, siteId, { simHash: 'victim-0001' });
      const before = await trustOf(t, victim.deviceId);
      const body = workerBody('Framed');
      const headers = {
        ...signed(body, { deviceId: victim.deviceId, secret: Buffer.alloc(32, 3) }),
        'x-thekedar-id': 'anyone',
      };
      for (let i = 0; i < 4; i++) {
        expect((await createWorker(body, headers)).status).toBe(401);
        const timestamp = clock.now().toISOString();
        const refresh = await http(t.baseUrl, 'POST', '/api/v5/device/token', {
          body: {
            deviceId: victim.deviceId,
            timestamp,
            signature: hmacHex(
              Buffer.alloc(32, 4),
              `mdai.token-refresh.${victim.deviceId}.${timestamp}`,
            ),
          },
        });
        expect([refresh.status, refresh.body.code]).toEqual([401, 'invalid_signature']);
      }
      expect(await trustOf(t, victim.deviceId)).toEqual(before);
      expect(await fraudEvents(t, `deviceId=${victim.deviceId}`)).toEqual([]);
      // the attempts are still on record, the claimed device in their detail
      const refreshes = await fraudEvents(t, 'type=invalid_token');
      const named = refreshes.filter((e) => e.detail.endsWith(`(device ${victim.deviceId})`));
      expect(named).toHaveLength(4);
      // and the victim syncs as before
      const synced = await syncBatch(t.baseUrl, victim.token, [
        signPacket(victim, { siteId, timestamp: clock.now().toISOString() }),
      ]);
      expect([synced.status, synced.body.accepted]).toEqual([200, 1]);
    });

    it('should judge the credential before the body: no key and a malformed body is a 401', async () => {
      const anonymous = await createWorker({ name: 1, extra: true }, {});
      expect([anonymous.status, anonymous.body.code]).toEqual([401, 'unauthorized']);
      const admin = await http(t.baseUrl, 'POST', '/api/v5/workers', {
        body: { name: 1, extra: true },
        key: t.keys.admin,
      });
      expect([admin.status, admin.body.code]).toEqual([400, 'validation_failed']);
    });

    it('should refuse a replayed signed request with a fraud event', async () => {
      const body = workerBody('Once');
      const headers = signed(body);
      expect((await createWorker(body, headers)).status).toBe(201);
      const replay = await createWorker(body, headers);
      expect(replay.status).toBe(403);
      expect(replay.body.code).toBe('replayed_request');
      const events = await fraudEvents(t, 'type=onboarding_replay');
      // a replay is someone's copy of the device's request: on record, not on the device's trust
      expect(events.map((e) => [e.deviceId, e.detail])).toEqual([
        [
          undefined,
          `worker creation refused: the same signed request was sent again (x-device-id ${device.deviceId})`,
        ],
      ]);
    });

    it('should refuse a timestamp just outside the skew window and accept one just inside', async () => {
      const now = clock.now().getTime();
      const stale = workerBody('Stale');
      const staleRes = await createWorker(
        stale,
        signed(stale, { timestamp: new Date(now - 301_000).toISOString() }),
      );
      expect(staleRes.status).toBe(401);
      expect(staleRes.body.code).toBe('stale_request');
      const future = workerBody('Future');
      const futureRes = await createWorker(
        future,
        signed(future, { timestamp: new Date(now + 301_000).toISOString() }),
      );
      expect(futureRes.status).toBe(401);
      const staleEvents = (await fraudEvents(t, 'type=onboarding_stale_timestamp')).filter((e) =>
        e.detail.endsWith(`(x-device-id ${device.deviceId})`),
      );
      expect(staleEvents.map((e) => e.deviceId)).toEqual([undefined, undefined]);
      const fresh = workerBody('Fresh');
      const freshRes = await createWorker(
        fresh,
        signed(fresh, { timestamp: new Date(now - 299_000).toISOString() }),
      );
      expect(freshRes.status).toBe(201);
    });

    it('should still accept the admin key, refuse other roles and missing credentials, and never log signatures', async () => {
      const body = workerBody('By admin');
      const admin = await http(t.baseUrl, 'POST', '/api/v5/workers', { key: t.keys.admin, body });
      expect(admin.status).toBe(201);
      expect(admin.body.trustScore).toBe(50);
      expect(admin.body.trustInheritedUntil).toBeUndefined();
      const mobile = await http(t.baseUrl, 'POST', '/api/v5/workers', { key: t.keys.mobile, body });
      expect(mobile.status).toBe(403);
      const none = await http(t.baseUrl, 'POST', '/api/v5/workers', { body });
      expect(none.status).toBe(401);
      expect(none.body.code).toBe('unauthorized');
      const partial = await createWorker(body, { 'x-thekedar-id': thekedarId });
      expect(partial.status).toBe(401);
      expect(partial.body.code).toBe('missing_signature_headers');
      const headers = signed(body);
      await createWorker(body, headers);
      expect(t.logs()).not.toContain(headers['x-signature']);
      expect(t.logs()).not.toContain(device.secret.toString('base64'));
    });
  });
});
