import { MongoStore, Store } from '@app/persistence';
import { StoreMac } from '@app/tlog';
import { dataDirApp, withStoreFile } from './support/tamper';
import { gauge, http, TestApp } from './support/test-app';
import { enrollPhone, Phone, signPacket, syncBatch } from './support/worker-client';

/**
 * Worker-device state tags of the form before the owner fields were covered (`v1`: deviceId,
 * isBlocked, eventId) were accepted with no end date (red team, HIGH): a phone registered before
 * the upgrade kept its `v1` tag, so its owner moved to another worker in the database still read
 * verified. The first start of the form `v2` re-tags them as `v2` legacy over the fields as
 * stored (the operator's word at the upgrade) behind the `worker_device_seal` marker; from then
 * on the owner is covered and a `v1` tag reads tampered (403 device_blocked).
 */
const METRIC = 'mdai_worker_devices_legacy_tagging_refused';

describe('worker-device state tags of the form v1 retired at the upgrade (e2e)', () => {
  const app = dataDirApp('device-v1');

  const devices = (t: TestApp) =>
    t.app.get<Store, MongoStore>(Store).connection.collection<any>('worker_devices');

  /** The phone's stored state: its tag, the event that set it, its owner. */
  async function stored(
    t: TestApp,
    deviceId: string,
  ): Promise<{ tag: string; eventId: string; userId: string }> {
    if (t.config.database.driver === 'sqlite') {
      return withStoreFile(
        t,
        (db) =>
          db
            .prepare(
              `SELECT block_tag AS tag, block_event_id AS eventId, user_id AS userId
               FROM worker_devices WHERE device_id = ?`,
            )
            .get(deviceId) as { tag: string; eventId: string; userId: string },
      );
    }
    const doc = await devices(t).findOne({ deviceId });
    return { tag: doc.blockTag, eventId: doc.blockEventId, userId: doc.user.id };
  }

  /** Sets the phone's tag and owner as a database writer would. */
  async function put(
    t: TestApp,
    deviceId: string,
    state: { tag: string; userId: string },
  ): Promise<void> {
    if (t.config.database.driver === 'sqlite') {
      withStoreFile(t, (db) =>
        db
          .prepare('UPDATE worker_devices SET block_tag = ?, user_id = ? WHERE device_id = ?')
          .run(state.tag, state.userId, deviceId),
      );
    } else {
      await devices(t).updateOne(
        { deviceId },
        { $set: { blockTag: state.tag, 'user.id': state.userId } },
      );
    }
  }

  /** The store as a server of the release before left it: the v1 retirement not run. */
  async function clearRetired(t: TestApp): Promise<void> {
    if (t.config.database.driver === 'sqlite') {
      withStoreFile(t, (db) =>
        db.prepare('UPDATE worker_device_seal SET v1_retired_at = NULL').run(),
      );
    } else {
      await t.app
        .get<Store, MongoStore>(Store)
        .connection.collection<{ _id: string }>('worker_device_seal')
        .deleteOne({ _id: 'v1-retired' });
    }
  }

  /** A state tag of the form v1 (deviceId, isBlocked, eventId) of an unblocked phone. */
  const v1TagOf = (t: TestApp, deviceId: string, eventId: string) =>
    t.app.get(StoreMac).mac('worker-device-state', JSON.stringify([deviceId, false, eventId]));

  const sync = (t: TestApp, p: Phone) => syncBatch(t.baseUrl, p.token, [signPacket(p)]);
  const detail = async (t: TestApp, deviceId: string) =>
    (await http(t.baseUrl, 'GET', `/api/v5/devices/${deviceId}`, { key: t.keys.admin })).body;

  it('should keep a v1-tagged phone working across the upgrade, then refuse it once its owner is moved or its v1 tag put back', async () => {
    let t = await app.start();
    const a = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'v1-retired-a' });
    const b = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'v1-retired-b' });
    // both states tagged in the form v1, as a server of the release before tagged them (a
    // store that holds v2 states with no marker is refused the retirement: below)
    const before = await stored(t, a.deviceId);
    const v1Tag = v1TagOf(t, a.deviceId, before.eventId);
    await put(t, a.deviceId, { tag: v1Tag, userId: before.userId });
    const bBefore = await stored(t, b.deviceId);
    await put(t, b.deviceId, {
      tag: v1TagOf(t, b.deviceId, bBefore.eventId),
      userId: bBefore.userId,
    });
    await clearRetired(t);

    // the upgrade's start: re-tagged as v2 legacy, the phone works as before
    t = await app.restart();
    expect(await detail(t, a.deviceId)).toMatchObject({
      isBlocked: false,
      blockIntegrity: 'legacy',
    });
    expect((await sync(t, a)).status).toBe(200);
    const retagged = await stored(t, a.deviceId);
    expect(retagged.tag).not.toBe(v1Tag);

    // the owner moved to b in the database: covered now
    await put(t, a.deviceId, { tag: retagged.tag, userId: b.workerId });
    const moved = await sync(t, a);
    expect([moved.status, moved.body.code]).toEqual([403, 'device_blocked']);
    expect(await detail(t, a.deviceId)).toMatchObject({
      isBlocked: true,
      blockIntegrity: 'tampered',
    });

    // the v1 tag put back (with that owner, or the real one): no longer accepted, on a restart too
    await put(t, a.deviceId, { tag: v1Tag, userId: before.userId });
    t = await app.restart();
    const putBack = await sync(t, a);
    expect([putBack.status, putBack.body.code]).toEqual([403, 'device_blocked']);
    expect((await detail(t, a.deviceId)).blockIntegrity).toBe('tampered');
    expect((await sync(t, b)).status).toBe(200);
  }, 120_000);

  it('should refuse the retirement with its marker cleared on a store that holds v2 tags: a v1 row put back with its owner moved stays blocked, /health and the gauge say so, until FRAUD_LEGACY_TAGGING=1 set explicitly', async () => {
    let t = await app.start();
    const a = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'v1-marker-a' });
    const b = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'v1-marker-b' });
    // a database writer puts back a's v1 tag (from a backup of the release before), moves its
    // owner to b's worker and clears the marker, for the next start to re-tag it so
    const before = await stored(t, a.deviceId);
    await put(t, a.deviceId, {
      tag: v1TagOf(t, a.deviceId, before.eventId),
      userId: b.workerId,
    });
    await clearRetired(t);

    t = await app.restart();
    const alarms = t
      .logs()
      .split('\n')
      .filter((line) => line.includes('ALARM: no v1-retired marker'));
    expect(alarms).toHaveLength(1);
    const refused = await sync(t, a);
    expect([refused.status, refused.body.code]).toEqual([403, 'device_blocked']);
    expect(await detail(t, a.deviceId)).toMatchObject({
      isBlocked: true,
      blockIntegrity: 'tampered',
    });
    expect((await sync(t, b)).status).toBe(200);
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.details.devices).toMatchObject({
      status: 'up',
      v1RetirementRefused: true,
      message: expect.stringContaining('restart once with FRAUD_LEGACY_TAGGING=1 set explicitly'),
    });
    expect(await gauge(t.baseUrl, METRIC)).toBe(1);

    // the operator's word: re-tagged (owner as stored), reported no more
    t = await app.restart(undefined, { FRAUD_LEGACY_TAGGING: '1' });
    expect((await detail(t, a.deviceId)).blockIntegrity).toBe('legacy');
    const healthy = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(healthy.body.details.devices.v1RetirementRefused).toBeUndefined();
    expect(await gauge(t.baseUrl, METRIC)).toBe(0);
  }, 120_000);
});
