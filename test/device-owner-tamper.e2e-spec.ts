import { ManualClock } from '@app/common';
import { MongoStore, Store } from '@app/persistence';
import { withStoreFile } from './support/tamper';
import { http, startTestApp, TestApp } from './support/test-app';
import {
  createSite,
  crewPhone,
  phoneAt,
  signedBy,
  SITE_GEO,
  thekedarWithDevice,
  ThekedarDevice,
} from './support/timesheet-client';
import { Phone, refreshToken, signPacket, syncBatch } from './support/worker-client';

/**
 * A worker device's own fields changed by someone who can write the database (red team, HIGH):
 * the owner moved to another worker (a token refresh then issued a token of that worker, and
 * the phone's punches counted as theirs) or to a thekedar (the phone's secret then signed that
 * thekedar's corrections), the score at registration raised or the creation time backdated
 * (the age factor). The state tag covers them (WorkerDeviceSeal, form `v2`): such a device
 * reads tampered, so blocked (403 device_blocked), until an admin's unblock vouches for it.
 */
describe('worker device owner and fields changed outside the server (e2e)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-03-20T06:00:00.000Z');
  let siteId: string;
  let thekedar: ThekedarDevice;
  let crew: Phone;

  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' }, { clock });
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    thekedar = await thekedarWithDevice(t.baseUrl, t.keys.admin, [siteId]);
    crew = await crewPhone(t.baseUrl, thekedar, siteId, clock.now().toISOString());
  }, 120_000);
  afterAll(async () => t.close());

  const devices = () =>
    t.app.get<Store, MongoStore>(Store).connection.collection<any>('worker_devices');

  /** Sets a device's row as a database writer would (SQLite columns, or the document's fields). */
  async function edit(
    deviceId: string,
    row: Record<string, unknown>,
    doc: Record<string, unknown>,
  ): Promise<void> {
    if (t.config.database.driver === 'sqlite') {
      const set = Object.keys(row)
        .map((k) => `${k} = @${k}`)
        .join(', ');
      const changed = withStoreFile(
        t,
        (db) =>
          db
            .prepare(`UPDATE worker_devices SET ${set} WHERE device_id = @device_id`)
            .run({ ...row, device_id: deviceId }).changes,
      );
      expect(changed).toBe(1);
    } else {
      const { matchedCount } = await devices().updateOne({ deviceId }, { $set: doc });
      expect(matchedCount).toBe(1);
    }
  }

  const syncOne = (p: Phone) =>
    syncBatch(t.baseUrl, p.token, [
      signPacket(p, {
        timestamp: new Date(clock.now().getTime() - 60_000).toISOString(),
        geo: { ...SITE_GEO, accuracyM: 8 },
      }),
    ]);
  const refresh = (p: Phone) => refreshToken(t.baseUrl, p, clock.now().toISOString());
  const detail = async (deviceId: string) =>
    (await http(t.baseUrl, 'GET', `/api/v5/devices/${deviceId}`, { key: t.keys.admin })).body;

  it("should refuse a phone whose owner was moved to another worker in the database: no token of that worker, no punch as theirs, until an admin's unblock", async () => {
    const a = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const b = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    expect((await syncOne(a)).status).toBe(200);
    await edit(a.deviceId, { user_id: b.workerId }, { 'user.id': b.workerId });

    const refreshed = await refresh(a);
    expect([refreshed.status, refreshed.body.code]).toEqual([403, 'device_blocked']);
    expect(refreshed.body.token).toBeUndefined();
    const sync = await syncOne(a);
    expect([sync.status, sync.body.code]).toEqual([403, 'device_blocked']);
    expect(await detail(a.deviceId)).toMatchObject({
      isBlocked: true,
      blockIntegrity: 'tampered',
    });
    // the other worker's own phone is untouched
    expect((await syncOne(b)).status).toBe(200);
  }, 120_000);

  it("should refuse a correction signed with a worker phone's secret whose owner was made a thekedar in the database", async () => {
    const a = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    await edit(
      a.deviceId,
      { user_kind: 'thekedar', user_id: thekedar.thekedarId },
      { user: { kind: 'thekedar', id: thekedar.thekedarId } },
    );
    const body = {
      action: 'add_shift',
      workerId: crew.workerId,
      at: '2026-03-19T03:30:00.000Z',
      until: '2026-03-19T13:30:00.000Z',
      reason: 'register says so',
    };
    // the thekedar's id, the worker phone's deviceId and secret
    const forged = signedBy(
      { ...thekedar, deviceId: a.deviceId, secret: a.secret },
      body,
      clock.now().toISOString(),
    );
    const res = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      body,
      headers: forged,
    });
    expect([res.status, res.body.code]).toEqual([403, 'device_blocked']);
    const day = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets?from=2026-03-19&to=2026-03-19&workerId=${crew.workerId}`,
      { key: t.keys.admin },
    );
    expect(day.status).toBe(200);
    expect(day.body.days[0]?.workedSeconds ?? 0).toBe(0);
  }, 120_000);

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['its score at registration raised', { trust_score: 100 }, { trustScore: 100 }],
    [
      'its creation time backdated (the age factor)',
      { created_at: '2020-01-01T00:00:00.000Z' },
      { createdAt: new Date('2020-01-01T00:00:00.000Z') },
    ],
    [
      'its SIM hash changed (the shared-device rule)',
      { fingerprint: '{"os":"Android 14","model":"Redmi Note 12","simHash":"elsewhere"}' },
      { 'fingerprint.simHash': 'elsewhere' },
    ],
  ])(
    'should refuse a phone with %s in the database until an admin unblocks it',
    async (_name, row, doc) => {
      const p = await phoneAt(t.baseUrl, t.keys.admin, siteId);
      await edit(p.deviceId, row, doc);
      const sync = await syncOne(p);
      expect([sync.status, sync.body.code]).toEqual([403, 'device_blocked']);
      // the repair: the admin vouches for the device as the console shows it
      const unblocked = await http(t.baseUrl, 'POST', `/api/v5/devices/${p.deviceId}/unblock`, {
        key: t.keys.admin,
        body: { reason: 'checked the phone' },
      });
      expect(unblocked.status).toBe(200);
      expect(await detail(p.deviceId)).toMatchObject({
        isBlocked: false,
        blockIntegrity: 'verified',
      });
      expect((await syncOne(p)).status).toBe(200);
    },
    120_000,
  );
});
