import { randomBytes } from 'node:crypto';
import { WorkerDeviceService } from '@app/device-trust';
import { http, startTestApp, TestApp } from './support/test-app';
import {
  Packet,
  Phone,
  enrollPhone,
  phoneHeaders,
  signPacket,
  syncBatch,
  thekedarPhone,
} from './support/worker-client';

/**
 * What an outside tester's phone client, written from the docs alone, met at the auto-block
 * floor (TRUST_AUTO_BLOCK_FLOOR, 20), over real HTTP syncs:
 *
 * 1. the device score the admin reads (`GET …/trust`) was under the floor while the phone kept
 *    syncing with its app's headers (+15 for the User-Agent, `x-app-version`, `x-device-id`),
 *    and the next sync with an HTTP library's default headers was refused 403 `device_blocked`,
 *    its reason naming the unsigned rejections first;
 * 2. a token's holder without the secret took a fresh phone to exactly the floor, and one honest
 *    `timestamp_in_future` punch (a fast clock) then blocked it;
 * 3. a thekedar's phone got `site_not_allowed` fraud events for a check-in at its own site.
 */
describe('the auto-block floor, as a phone client meets it (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

  /** A sync with only the offline token: Node fetch's own default headers, none of the app's. */
  const plainSync = (p: Phone, packets: Packet[]) =>
    http(t.baseUrl, 'POST', '/api/v5/sync', {
      headers: { authorization: `Bearer ${p.token}` },
      body: { packets },
    });

  const trustOf = (deviceId: string) =>
    http(t.baseUrl, 'GET', `/api/v5/devices/${deviceId}/trust`, { key: t.keys.admin });
  const deviceOf = (deviceId: string) =>
    http(t.baseUrl, 'GET', `/api/v5/devices/${deviceId}`, { key: t.keys.admin });

  it("should block a device whose own score falls under the floor, whatever its request's headers add, naming the signed evidence first", async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'floor-int-0001' });
    // with the app's headers (+15): three signed packets of another worker (-24) and two
    // forged HMACs (unsigned, -15 at most): the device at 50 - 24 - 15 = 11, the request at 26
    const forger = randomBytes(32);
    const res = await syncBatch(
      t.baseUrl,
      p.token,
      [
        ...[1, 2, 3].map(() => signPacket(p, { timestamp: ago(60_000), workerId: 'someone-else' })),
        ...[1, 2].map(() => signPacket(p, { timestamp: ago(60_000) }, forger)),
      ],
      phoneHeaders(p),
    );
    expect([res.status, res.body.rejected]).toEqual([200, 5]);

    // the admin's view and the sync gate agree: blocked by that very sync, not by a later one
    // sent without the headers
    const trust = await trustOf(p.deviceId);
    expect(trust.body.score).toBe(0);
    expect(trust.body.factors).toContainEqual(
      expect.objectContaining({ name: 'block_state', detail: 'the device is blocked' }),
    );
    const device = await deviceOf(p.deviceId);
    expect(device.body.isBlocked).toBe(true);
    const [blocked] = device.body.events.filter((e: { action: string }) => e.action === 'blocked');
    expect(blocked.actor).toBe('system:trust');
    // what tipped it first: the signed refusals; the unsigned ones, never enough alone, last
    expect(blocked.reason).toMatch(/^trust score 11 below the floor 20: fraud_history -24 \(/);
    expect(blocked.reason).toMatch(/; with unsigned_rejections -15 \(/);

    // the headers change nothing now: refused with them as without them
    for (const headers of [phoneHeaders(p), {}]) {
      const next = await http(t.baseUrl, 'POST', '/api/v5/sync', {
        headers: { ...headers, authorization: `Bearer ${p.token}` },
        body: { packets: [signPacket(p, { timestamp: ago(30_000) })] },
      });
      expect([next.status, next.body.code]).toEqual([403, 'device_blocked']);
    }

    // an admin's unblock holds: the view says why a device under the floor is not blocked
    const unblock = await http(t.baseUrl, 'POST', `/api/v5/devices/${p.deviceId}/unblock`, {
      key: t.keys.admin,
      body: { reason: 'checked the phone' },
    });
    expect(unblock.status).toBe(200);
    const unblocked = await trustOf(p.deviceId);
    expect(unblocked.body.score).toBe(11);
    expect(unblocked.body.factors).toContainEqual(
      expect.objectContaining({
        name: 'block_state',
        effect: 0,
        detail: expect.stringMatching(
          /^not blocked: an admin unblocked it at \S+, and the auto-block floor 20 weighs only the fraud events since \(score 50\)$/,
        ),
      }),
    );
    const after = await plainSync(p, [signPacket(p, { timestamp: ago(20_000) })]);
    expect([after.status, after.body.accepted]).toEqual([200, 1]);
  });

  it('should block a device a batch of forged signatures only takes under the floor with its own signed evidence, as the view says', async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'floor-int-0004' });
    // signed: three packets of another worker (-24): the device at 26, not blocked
    const signed = await syncBatch(t.baseUrl, p.token, [
      ...[1, 2, 3].map(() => signPacket(p, { timestamp: ago(60_000), workerId: 'someone-else' })),
    ]);
    expect([signed.status, signed.body.rejected]).toEqual([200, 3]);
    expect((await trustOf(p.deviceId)).body.score).toBe(26);
    // a batch of forged HMACs only: 403 invalid_signatures, and -15 more: 11, under the floor
    const forger = randomBytes(32);
    const forged = await syncBatch(
      t.baseUrl,
      p.token,
      [1, 2].map(() => signPacket(p, { timestamp: ago(30_000) }, forger)),
    );
    expect([forged.status, forged.body.code]).toEqual([403, 'invalid_signatures']);
    // blocked by that batch: the admin's view and the device's record agree now
    const trust = await trustOf(p.deviceId);
    expect(trust.body.score).toBe(0);
    expect(trust.body.factors).toContainEqual(
      expect.objectContaining({ name: 'block_state', detail: 'the device is blocked' }),
    );
    const device = await deviceOf(p.deviceId);
    expect(device.body.isBlocked).toBe(true);
    const [blocked] = device.body.events.filter((e: { action: string }) => e.action === 'blocked');
    expect(blocked.reason).toMatch(
      /^trust score 11 below the floor 20: fraud_history -24 \(.*; with unsigned_rejections -15 \(/,
    );
    // recorded as the block a sync's own check makes is: one device_blocked event, its score
    const events = await http(
      t.baseUrl,
      'GET',
      `/api/v5/fraud/events?type=device_blocked&deviceId=${p.deviceId}`,
      { key: t.keys.admin },
    );
    expect(events.body.map((e: { detail: string }) => e.detail)).toEqual([
      "sync refused (invalid_signatures): the device's trust score 11 fell below the auto-block floor",
    ]);
  });

  it('should answer a batch of forged signatures 403 invalid_signatures when the floor cannot judge it, and judge it at the next sync', async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'floor-int-0005' });
    const signed = await syncBatch(t.baseUrl, p.token, [
      ...[1, 2, 3].map(() => signPacket(p, { timestamp: ago(60_000), workerId: 'someone-else' })),
    ]);
    expect([signed.status, signed.body.rejected]).toEqual([200, 3]);
    // the store fails the unblock history the floor reads after the batch (the device at 11)
    const devices = t.app.get(WorkerDeviceService);
    const failing = jest
      .spyOn(devices, 'lastUnblockedAt')
      .mockRejectedValueOnce(new Error('store unavailable'));
    try {
      const forger = randomBytes(32);
      const forged = await syncBatch(
        t.baseUrl,
        p.token,
        [1, 2].map(() => signPacket(p, { timestamp: ago(30_000) }, forger)),
      );
      expect([forged.status, forged.body.code]).toEqual([403, 'invalid_signatures']);
      expect(failing).toHaveBeenCalledTimes(1);
    } finally {
      failing.mockRestore();
    }
    expect((await deviceOf(p.deviceId)).body.isBlocked).toBe(false);
    expect(t.logs()).toContain('Floor judgement after a batch refused for its signatures failed');
    // the next sync judges it: under the floor, refused and blocked
    const next = await plainSync(p, [signPacket(p, { timestamp: ago(20_000) })]);
    expect([next.status, next.body.code]).toEqual([403, 'device_blocked']);
    expect((await deviceOf(p.deviceId)).body.isBlocked).toBe(true);
  });

  it("should leave a phone a token's holder flooded with unsigned rejections enough margin for an honest clock-skew punch", async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'floor-int-0002' });
    // the token's holder, without the secret: 20 bad HMACs and 20 malformed packets
    const attack = await plainSync(p, [
      ...Array.from({ length: 20 }, () => ({
        ...signPacket(p, { timestamp: ago(60_000) }),
        signature: '0'.repeat(64),
      })),
      ...Array.from({ length: 20 }, () => signPacket(p, { timestamp: ago(60_000), type: 'nope' })),
    ]);
    expect([attack.status, attack.body.rejected]).toEqual([200, 40]);
    const attacked = await trustOf(p.deviceId);
    // half the room above the floor: 50 - 15, not 50 - 30 (exactly the floor)
    expect(attacked.body.score).toBe(35);
    expect(attacked.body.factors).toContainEqual(
      expect.objectContaining({ name: 'unsigned_rejections', effect: -15 }),
    );

    // the honest phone, plain HTTP client: one punch 6 minutes ahead (a fast clock, "not
    // final") and one on time
    const honest = await plainSync(p, [
      signPacket(p, { timestamp: new Date(Date.now() + 360_000).toISOString() }),
      signPacket(p, { timestamp: ago(5_000), type: 'check_out' }),
    ]);
    expect(honest.status).toBe(200);
    expect(honest.body.results.map((r: { status: string; reason?: string }) => r.reason)).toEqual([
      'timestamp_in_future',
      undefined,
    ]);
    const after = await trustOf(p.deviceId);
    expect(after.body.score).toBe(32);
    expect((await deviceOf(p.deviceId)).body.isBlocked).toBe(false);
    const next = await plainSync(p, [signPacket(p, { timestamp: ago(1_000) })]);
    expect([next.status, next.body.accepted]).toEqual([200, 1]);
  });

  it("should refuse a thekedar's phone's attendance with 403 thekedar_device, at no cost to its trust", async () => {
    const { phone: k } = await thekedarPhone(t.baseUrl, t.keys.admin, {
      siteName: 'Tower T',
      phonePrefix: '+91 98200',
      simHash: 'floor-int-0003',
    });
    expect(k.trustScore).toBe(80);
    // a check-in at its own site, signed with its secret
    const res = await syncBatch(t.baseUrl, k.token, [signPacket(k, { timestamp: ago(30_000) })]);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('thekedar_device');
    expect(res.body.message).toContain("thekedar's phone");
    // no fraud event, no trust lost: the workers it onboards inherit 80
    const events = await http(t.baseUrl, 'GET', `/api/v5/fraud/events?deviceId=${k.deviceId}`, {
      key: t.keys.admin,
    });
    expect(events.body).toEqual([]);
    expect((await trustOf(k.deviceId)).body.score).toBe(80);
  });
});
