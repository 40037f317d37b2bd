import { FraudService } from '@app/fraud';
import { LedgerService, PendingLogEntry } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

/**
 * A packet's identity is (deviceId, packetId): one worker's two phones (an old one and a new
 * one) may each send a packet with the same packetId, two punches. A fraud event names its
 * device: the timesheet flags only the punch that device's packet is, not the other phone's
 * punch with the same worker and packetId.
 */
describe('timesheet fraud flags matched by device and packetId (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it("should flag the punch of the event's device only, not the same worker's punch from another device", async () => {
    const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata');
    const workerId = 'f'.repeat(24);
    const packetId = '0b5c3e0e-6a3b-4c1e-9c4f-2f3a4b5c6d7e';
    const samePacket = (entry: PendingLogEntry): PendingLogEntry => ({
      ...entry,
      packetId,
      data: { ...entry.data, packetId },
    });
    const [oldPhone, newPhone] = await t.app.get(LedgerService).append([
      samePacket(
        punchEntry({
          siteId,
          workerId,
          deviceId: 'device-old',
          type: 'check_in',
          timestamp: '2026-03-02T03:30:00.000Z',
        }),
      ),
      samePacket(
        punchEntry({
          siteId,
          workerId,
          deviceId: 'device-new',
          type: 'check_out',
          timestamp: '2026-03-02T11:30:00.000Z',
        }),
      ),
    ]);
    expect([oldPhone.status, newPhone.status]).toEqual(['appended', 'appended']);
    await t.app.get(FraudService).record({
      type: 'outside_geofence',
      deviceId: 'device-new',
      workerId,
      siteId,
      packetId,
      detail: 'far from the site',
    });
    const res = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets?from=2026-03-02&to=2026-03-02`,
      { key: t.keys.auditor },
    );
    expect(res.status).toBe(200);
    const [day] = res.body.days as { flags: { type: string; seq: number; detail?: string }[] }[];
    expect(day.flags.filter((f) => f.type === 'fraud')).toEqual([
      { type: 'fraud', seq: newPhone.log.seq, detail: 'outside_geofence' },
    ]);
  });
});
