import { MongoStore, Store } from '@app/persistence';
import { clearLegacyMarker, dataDirApp, withStoreFile } from './support/tamper';
import { gauge, http, TestApp } from './support/test-app';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';

const METRIC = 'mdai_worker_devices_legacy_tagging_refused';

/**
 * The worker devices' legacy tagging refused at a start (FRAUD_LEGACY_TAGGING off on a store
 * whose devices carry no tag and no marker): every phone from before the upgrade reads
 * tampered, so blocked (403 device_blocked). It was only a log line: /health now says so,
 * reported, not degraded (`devices.legacySealRefused`: every replica shares the store), and a gauge pages.
 */
describe('worker devices legacy tagging refused, on /health and /metrics (e2e)', () => {
  const app = dataDirApp('device-legacy');

  /** The store made as a version from before the device tags left it: no tag, no marker. */
  async function untagDevices(t: TestApp): Promise<void> {
    if (t.config.database.driver === 'sqlite') {
      withStoreFile(t, (db) => {
        db.prepare('UPDATE worker_devices SET block_tag = NULL').run();
        db.prepare('UPDATE worker_device_events SET tag = NULL').run();
      });
    } else {
      const connection = t.app.get<Store, MongoStore>(Store).connection;
      const devices = connection.collection<any>('worker_devices');
      for (const doc of await devices.find({}).toArray()) {
        const events = (doc.events as Array<{ tag?: string }>).map(({ tag: _, ...e }) => e);
        await devices.updateOne({ _id: doc._id }, { $unset: { blockTag: '' }, $set: { events } });
      }
    }
    await clearLegacyMarker(t, 'worker_device_seal');
  }

  it('should report the refusal on /health (not degraded) with what to do, set the gauge, and clear both once a start tags the devices', async () => {
    let t = await app.start();
    const phone = await enrollPhone(t.baseUrl, t.keys.admin, undefined, {
      simHash: 'legacy-refusal-sim-01',
    });
    expect(await gauge(t.baseUrl, METRIC)).toBe(0);
    await untagDevices(t);

    t = await app.restart(undefined, { FRAUD_LEGACY_TAGGING: '0' });
    const sync = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect(sync.status).toBe(403);
    expect(sync.body.code).toBe('device_blocked');
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.details.devices).toMatchObject({
      status: 'up',
      legacySealRefused: true,
      legacySealRefusedReason: 'not_allowed',
      message: expect.stringContaining('restart once with FRAUD_LEGACY_TAGGING=1'),
    });
    expect(health.body.details.devices.message).toContain('403 device_blocked');
    expect(health.body.details.devices.message).toContain('restore');
    // the public answer: the status alone
    expect((await http(t.baseUrl, 'GET', '/health')).body).toEqual({ status: 'ok' });
    expect(await gauge(t.baseUrl, METRIC)).toBe(1);

    // the upgrade's start, with the operator's word: tagged as legacy, the phone works again
    t = await app.restart(undefined, { FRAUD_LEGACY_TAGGING: '1' });
    const healthy = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(healthy.status).toBe(200);
    expect(healthy.body.details.devices).toMatchObject({
      status: 'up',
      legacySealedCount: 1,
      legacySealedAt: expect.any(String),
    });
    expect(healthy.body.details.devices.legacySealRefused).toBeUndefined();
    expect(await gauge(t.baseUrl, METRIC)).toBe(0);
    const synced = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect(synced.status).toBe(200);
  });

  it('should not refuse (nor alarm) when only the marker was deleted and every device carries its tags', async () => {
    let t = await app.start();
    const phone = await enrollPhone(t.baseUrl, t.keys.admin, undefined, {
      simHash: 'legacy-refusal-sim-02',
    });
    // the marker alone deleted, as a database writer could: nothing untagged to launder
    await clearLegacyMarker(t, 'worker_device_seal');
    t = await app.restart(undefined, { FRAUD_LEGACY_TAGGING: '0' });
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.details.devices.legacySealRefused).toBeUndefined();
    expect(await gauge(t.baseUrl, METRIC)).toBe(0);
    const synced = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect(synced.status).toBe(200);
  });
});
