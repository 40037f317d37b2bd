import { randomUUID } from 'node:crypto';
import { describeReplicas, http, TestApp } from './support/test-app';
import { enrollPhone, Phone, signPacket, syncBatch } from './support/worker-client';

const SITE = { lat: 28.6139, lng: 77.209 };

function checkIn(phone: Phone, at: Date) {
  return signPacket(phone, { timestamp: at.toISOString(), geo: { ...SITE, accuracyM: 10 } });
}

/**
 * The trust engine's auto-block, decided by both replicas at once for one device (two syncs of
 * it, one on each, each scoring below the floor by its own headers and each appending a packet
 * of its own, which proves the device's secret): both batches are accepted, and the device is
 * blocked once, with one `system:trust` block event. SQLite is one process: skipped (the
 * conditional block is the same statement there).
 */
describeReplicas('trust auto-block on two replicas (e2e)', (replicas) => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(() => ({ a, b } = replicas()));

  it('should block a device once when both replicas find it below the floor at once', async () => {
    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      const phone = await enrollPhone(a.baseUrl, a.keys.admin, undefined, {
        simHash: `replica-floor-${round}-${randomUUID().slice(0, 8)}`,
      });
      const other = await enrollPhone(a.baseUrl, a.keys.admin, phone.siteId, {
        simHash: `replica-floor-o${round}-${randomUUID().slice(0, 8)}`,
      });
      // 50 - 20 (iOS vs Android) + 5 (app version) - 30 (x-device-id names another device) = 5
      const headers = {
        'user-agent': 'MDAI-Worker/1.4.0 (iOS 17; iPhone 13)',
        'x-device-id': other.deviceId,
      };
      const now = new Date(Date.now() - 60_000);
      const [ra, rb] = await Promise.all([
        syncBatch(a.baseUrl, phone.token, [checkIn(phone, now)], headers),
        syncBatch(b.baseUrl, phone.token, [checkIn(phone, new Date(now.getTime() + 1))], headers),
      ]);
      // the headers count only after the append: each batch is accepted, then blocks
      expect([ra.status, rb.status, ra.body.accepted, rb.body.accepted]).toEqual([200, 200, 1, 1]);

      const detail = await http(a.baseUrl, 'GET', `/api/v5/devices/${phone.deviceId}`, {
        key: a.keys.admin,
      });
      expect(detail.status).toBe(200);
      const blocks = detail.body.events.filter((e: any) => e.action === 'blocked');
      expect(blocks).toHaveLength(1);
      expect(blocks[0].actor).toBe('system:trust');
      // the floor judges 50 - 20 - 30 = 0 (the app version's +5 never lifts it; a rapid repeat
      // of the first check-in, recorded before, changes nothing under 0)
      expect(blocks[0].reason).toMatch(/^trust score 0 below the floor 20: device_id_header -30/);
      const next = await syncBatch(b.baseUrl, phone.token, [checkIn(phone, new Date())]);
      expect([next.status, next.body.code]).toEqual([403, 'device_blocked']);
    }
  });
});
