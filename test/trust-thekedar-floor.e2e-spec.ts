import { rmSync } from 'node:fs';
import { dropMongoDatabaseOf, http, startTestApp, TestApp } from './support/test-app';
import {
  canonicalJson,
  hmacHex,
  nextPhoneNumber,
  Phone,
  registerPhone,
  signPacket,
  syncBatch,
} from './support/worker-client';

/**
 * The auto-block floor and a thekedar's phone, over real HTTP (review after trustmend):
 *
 * 1. a worker a thekedar onboarded stands on the thekedar device's score (80) for 30 days; under
 *    a floor above it (raised by the operator: 85) its phone is blocked, and an admin's unblock
 *    was undone by every sync (the floor judged the inherited 80 again, with no new event);
 * 2. a thekedar's phone never syncs (403 thekedar_device), so it was never judged by the floor:
 *    its signed requests are now, and a worker it onboards never inherits less than the floor;
 * 3. the admin's view of a thekedar's phone under the floor said "its next sync … blocks it".
 */
describe('the auto-block floor and a thekedar phone (e2e)', () => {
  let a: TestApp | undefined;
  let b: TestApp | undefined;
  let dataDir: string | undefined;

  afterAll(async () => {
    await b?.close();
    await a?.close({ keepData: true });
    if (dataDir) {
      await dropMongoDatabaseOf(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

  /** A site, a thekedar of it and the thekedar's registered phone. */
  const thekedarPhone = async (t: TestApp, simHash: string) => {
    const site = await http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      body: { name: 'Tower K', geo: { lat: 28.6139, lng: 77.209 }, radiusM: 150 },
    });
    expect(site.status).toBe(201);
    const siteId = site.body.siteId as string;
    const thekedar = await http(t.baseUrl, 'POST', '/api/v5/thekedars', {
      key: t.keys.admin,
      body: { name: 'Ramesh', phone: nextPhoneNumber('+91 98300'), siteIds: [siteId] },
    });
    expect(thekedar.status).toBe(201);
    const phone = await registerPhone(
      t.baseUrl,
      { enrollmentCode: thekedar.body.enrollmentCode, workerId: thekedar.body.thekedarId },
      siteId,
      simHash,
    );
    return { siteId, thekedarId: thekedar.body.thekedarId as string, phone };
  };

  /** `POST /api/v5/workers` signed by the thekedar's phone. */
  const onboard = (t: TestApp, k: { siteId: string; thekedarId: string; phone: Phone }) => {
    const body = { name: 'Meena', phone: nextPhoneNumber('+91 98301'), siteIds: [k.siteId] };
    const timestamp = new Date().toISOString();
    return http(t.baseUrl, 'POST', '/api/v5/workers', {
      body,
      headers: {
        'x-thekedar-id': k.thekedarId,
        'x-device-id': k.phone.deviceId,
        'x-request-timestamp': timestamp,
        'x-signature': hmacHex(k.phone.secret, `${timestamp}.${canonicalJson(body)}`),
      },
    });
  };

  const deviceOf = (t: TestApp, deviceId: string) =>
    http(t.baseUrl, 'GET', `/api/v5/devices/${deviceId}`, { key: t.keys.admin });
  const unblock = async (t: TestApp, deviceId: string) => {
    const res = await http(t.baseUrl, 'POST', `/api/v5/devices/${deviceId}/unblock`, {
      key: t.keys.admin,
      body: { reason: 'checked the phone' },
    });
    expect(res.status).toBe(200);
  };

  it("should keep an admin's unblock of a phone standing on a thekedar's score under a raised floor", async () => {
    a = await startTestApp();
    dataDir = a.dataDir;
    const k = await thekedarPhone(a, 'thek-floor-0001');
    const created = await onboard(a, k);
    expect([created.status, created.body.trustScore]).toEqual([201, 80]);
    const p = await registerPhone(a.baseUrl, created.body, k.siteId, 'thek-floor-0002');
    await a.close({ keepData: true });
    a = undefined;

    // the operator raises the floor over the inherited 80
    b = await startTestApp({ DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '85' });
    const first = await syncBatch(b.baseUrl, p.token, [signPacket(p, { timestamp: ago(60_000) })]);
    expect([first.status, first.body.code]).toEqual([403, 'device_blocked']);
    expect((await deviceOf(b, p.deviceId)).body.isBlocked).toBe(true);

    // the admin's unblock holds: no new evidence since it, the floor counts the baseline at 85
    await unblock(b, p.deviceId);
    const res = await syncBatch(b.baseUrl, p.token, [signPacket(p, { timestamp: ago(50_000) })]);
    expect([res.status, res.body.accepted]).toEqual([200, 1]);
    expect((await deviceOf(b, p.deviceId)).body.isBlocked).toBe(false);

    // the admin's views agree on it (one rule): the listing's liveTrustScore is the score
    // `…/trust` shows, at the floor, not the inherited 80 that read as "blocked by its next sync"
    const trust = await http(b.baseUrl, 'GET', `/api/v5/devices/${p.deviceId}/trust`, {
      key: b.keys.admin,
    });
    const listed = await http(
      b.baseUrl,
      'GET',
      `/api/v5/devices?trust=live&workerId=${created.body.workerId}`,
      { key: b.keys.admin },
    );
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([
      expect.objectContaining({
        deviceId: p.deviceId,
        isBlocked: false,
        liveTrustScore: trust.body.score,
      }),
    ]);
    expect(trust.body.score).toBeGreaterThanOrEqual(85);
  });

  it("should judge a thekedar's phone by the floor at its signed requests, and never let its workers inherit less than the floor", async () => {
    const t = b!;
    const k = await thekedarPhone(t, 'thek-floor-0003');
    expect(k.phone.trustScore).toBe(80);

    // under the floor (80 < 85): the admin's view names what blocks it, not a sync it never sends
    const trust = await http(t.baseUrl, 'GET', `/api/v5/devices/${k.phone.deviceId}/trust`, {
      key: t.keys.admin,
    });
    expect(trust.body.factors).toContainEqual(
      expect.objectContaining({
        name: 'block_state',
        detail:
          "not blocked yet: under the auto-block floor 85, so its next signed thekedar request (a worker's creation, a timesheet read or correction) is refused (403 device_blocked) and blocks it",
      }),
    );

    // its signed request is refused, and blocks it, as a worker's phone's sync would
    const refused = await onboard(t, k);
    expect([refused.status, refused.body.code]).toEqual([403, 'device_blocked']);
    const device = await deviceOf(t, k.phone.deviceId);
    expect(device.body.isBlocked).toBe(true);
    const [blocked] = device.body.events.filter((e: { action: string }) => e.action === 'blocked');
    expect(blocked.actor).toBe('system:trust');
    expect(blocked.reason).toMatch(/^trust score 80 below the floor 85/);
    // and a `device_blocked` fraud event names the phone, as a worker's phone's blocking sync's
    const events = await http(
      t.baseUrl,
      'GET',
      `/api/v5/fraud/events?deviceId=${k.phone.deviceId}&type=device_blocked`,
      { key: t.keys.admin },
    );
    expect(events.status).toBe(200);
    expect(events.body).toEqual([
      expect.objectContaining({
        type: 'device_blocked',
        deviceId: k.phone.deviceId,
        detail:
          "worker creation refused: the thekedar's device's trust score 80 is below the auto-block floor",
      }),
    ]);

    // unblocked by an admin: its worker inherits the floor, not 80, and its phone syncs
    await unblock(t, k.phone.deviceId);
    const created = await onboard(t, k);
    expect([created.status, created.body.trustScore]).toEqual([201, 85]);
    const p = await registerPhone(t.baseUrl, created.body, k.siteId, 'thek-floor-0004');
    const res = await syncBatch(t.baseUrl, p.token, [signPacket(p, { timestamp: ago(30_000) })]);
    expect([res.status, res.body.accepted]).toEqual([200, 1]);
  });
});
