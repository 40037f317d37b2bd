import { MongoStore, Store } from '@app/persistence';
import { startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { TestKiosk } from './support/kiosk';
import { listedKiosk, openSession, pair, refusedKioskAuth } from './support/pairing';
import { withStoreFile } from './support/tamper';
import { http, TestApp } from './support/test-app';

/**
 * A kiosk's public key or status changed by someone who can write the database: the row carries
 * the server's store-MAC tag (KioskSeal), so a swapped key (whose holder would then pass the
 * kiosk's RSA challenges) or an unblock in the database leaves the kiosk blocked everywhere it
 * is used, with the codes the kiosks already know; the listing says `tampered`; an admin's key
 * rotation with the genuine key, then an unblock, repairs it.
 */
const PLATFORM_ID = 'PLT_tamperedKiosk1';

describe('kiosk key and status changed outside the server (e2e)', () => {
  let relay: UpstreamApps;
  let t: TestApp;
  beforeAll(async () => {
    relay = await startUpstreamApps({ env: { UPSTREAM_API_KEY: 'k' } });
    t = relay.t;
  });
  afterAll(() => relay.close());

  /** Sets stored fields of a kiosk as a database writer would. */
  async function setStored(
    deviceId: string,
    set: { public_key_pem?: string; status?: string },
  ): Promise<void> {
    if (t.config.database.driver === 'sqlite') {
      withStoreFile(t, (db) => {
        for (const [column, value] of Object.entries(set)) {
          const changed = db
            .prepare(`UPDATE kiosk_devices SET ${column} = ? WHERE device_id = ?`)
            .run(value, deviceId).changes;
          expect(changed).toBe(1);
        }
      });
    } else {
      await t.app
        .get<Store, MongoStore>(Store)
        .connection.collection('kiosk_devices')
        .updateOne(
          { deviceId },
          {
            $set: {
              ...(set.public_key_pem ? { publicKeyPem: set.public_key_pem } : {}),
              ...(set.status ? { status: set.status } : {}),
            },
          },
        );
    }
  }

  const admin = (path: string, body?: object, method = 'POST') =>
    http(t.baseUrl, method, path, { key: t.keys.admin, ...(body ? { body } : {}) });
  const generate = (deviceId: string) =>
    admin('/api/generate-challenge', {
      device_id: deviceId,
      wifi_ssid: 'Site-7 Office',
      wifi_password: 'Sup3r-Secret-WiFi-Pa55',
    });
  const kioskAuth = (kiosk: TestKiosk) => refusedKioskAuth(t, kiosk, PLATFORM_ID);
  const listed = (deviceId: string) => listedKiosk(t, deviceId);

  it("should refuse a swapped key's holder the Wi-Fi challenge and the relay, list the kiosk as tampered, and take a rotation to the genuine key then an unblock as the repair", async () => {
    const kiosk = await TestKiosk.registered(t, 'TEE-TAMPER-KEY');
    expect(await listed(kiosk.deviceId)).toMatchObject({ status: 'active', integrity: 'verified' });

    const intruder = new TestKiosk(kiosk.deviceId);
    await setStored(kiosk.deviceId, { public_key_pem: intruder.publicKeyPem });

    expect(await listed(kiosk.deviceId)).toMatchObject({
      status: 'blocked',
      integrity: 'tampered',
    });
    const challenge = await generate(kiosk.deviceId);
    expect([challenge.status, challenge.body.code]).toEqual([403, 'device_blocked']);
    expect(await kioskAuth(intruder)).toEqual({ code: 'device_blocked', close: 4403 });

    // an unblock would vouch for the intruder's key
    const unblock = await admin(`/api/kiosks/${kiosk.deviceId}/unblock`, { reason: 'why' });
    expect([unblock.status, unblock.body.code]).toEqual([409, 'kiosk_tampered']);

    // the repair: the genuine key again (blocked), then an unblock
    const rotated = await admin(`/api/kiosks/${kiosk.deviceId}/rotate-key`, {
      public_key: kiosk.publicKeyPem,
      reason: 'key swapped in the database',
    });
    expect([rotated.status, rotated.body.status, rotated.body.integrity]).toEqual([
      200,
      'blocked',
      'verified',
    ]);
    expect(
      (await admin(`/api/kiosks/${kiosk.deviceId}/unblock`, { reason: 'checked' })).status,
    ).toBe(200);
    expect(await listed(kiosk.deviceId)).toMatchObject({ status: 'active', integrity: 'verified' });
    expect((await generate(kiosk.deviceId)).status).toBe(200);
    const { mobile, device } = await pair(t, t, kiosk, await openSession(t, PLATFORM_ID));
    mobile.close();
    device.close();
  });

  it('should keep a kiosk unblocked in the database blocked: challenge and pairing refused', async () => {
    const kiosk = await TestKiosk.registered(t, 'TEE-TAMPER-STATUS');
    expect((await admin(`/api/kiosks/${kiosk.deviceId}/block`, { reason: 'stolen' })).status).toBe(
      200,
    );
    await setStored(kiosk.deviceId, { status: 'active' });
    expect(await listed(kiosk.deviceId)).toMatchObject({
      status: 'blocked',
      integrity: 'tampered',
    });
    expect((await generate(kiosk.deviceId)).body.code).toBe('device_blocked');
    expect(await kioskAuth(kiosk)).toEqual({ code: 'device_blocked', close: 4403 });
  });
});
