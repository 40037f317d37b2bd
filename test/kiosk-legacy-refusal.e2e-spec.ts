import { MongoStore, Store } from '@app/persistence';
import { TestKiosk } from './support/kiosk';
import { clearLegacyMarker, dataDirApp, withStoreFile } from './support/tamper';
import { gauge, http, TestApp } from './support/test-app';

const METRIC = 'mdai_kiosks_legacy_tagging_refused';

/**
 * The kiosks' legacy tagging refused at a start (FRAUD_LEGACY_TAGGING off on a store whose
 * kiosks carry no tag and no marker): every kiosk from before the upgrade reads tampered, so
 * blocked. It was only a log line: /health now says so, reported, not degraded (`kiosks.legacySealRefused`: every replica shares the store),
 * and a gauge pages, as for the worker devices.
 */
describe('kiosks legacy tagging refused, on /health and /metrics (e2e)', () => {
  const app = dataDirApp('kiosk-legacy');

  /** The store made as a version from before the kiosk tags left it: no tag, no numbered event, no marker. */
  async function untagKiosks(t: TestApp): Promise<void> {
    if (t.config.database.driver === 'sqlite') {
      withStoreFile(t, (db) => {
        db.prepare('UPDATE kiosk_devices SET tag = NULL, event_id = NULL, event_seq = NULL').run();
        db.prepare('UPDATE kiosk_events SET seq = NULL, tag = NULL').run();
        db.prepare('DELETE FROM kiosk_event_mark').run();
      });
    } else {
      const connection = t.app.get<Store, MongoStore>(Store).connection;
      const kiosks = connection.collection('kiosk_devices');
      for (const doc of await kiosks.find({}).toArray()) {
        const events = (doc.events as Record<string, unknown>[]).map(
          ({ seq: _seq, tag: _tag, ...e }) => e,
        );
        await kiosks.updateOne(
          { _id: doc._id },
          { $set: { events }, $unset: { tag: '', eventId: '', eventSeq: '' } },
        );
      }
    }
    await clearLegacyMarker(t, 'kiosk_seal');
  }

  async function listed(t: TestApp, deviceId: string) {
    const res = await http(t.baseUrl, 'GET', `/api/kiosks?prefix=${deviceId}`, {
      key: t.keys.admin,
    });
    return (res.body as Array<{ device_id: string }>).find((k) => k.device_id === deviceId);
  }

  it('should report the refusal on /health (not degraded) with what to do, set the gauge, and clear both once a start tags the kiosks', async () => {
    let t = await app.start();
    const kiosk = await TestKiosk.registered(t, 'kiosk-legacy-refusal-01');
    expect(await gauge(t.baseUrl, METRIC)).toBe(0);
    await untagKiosks(t);

    t = await app.restart(undefined, { FRAUD_LEGACY_TAGGING: '0' });
    expect(await listed(t, kiosk.deviceId)).toMatchObject({
      status: 'blocked',
      integrity: 'tampered',
    });
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.details.kiosks).toMatchObject({
      status: 'up',
      legacySealRefused: true,
      legacySealRefusedReason: 'not_allowed',
      message: expect.stringContaining('restart once with FRAUD_LEGACY_TAGGING=1'),
    });
    expect(health.body.details.kiosks.message).toContain('device_blocked');
    expect(health.body.details.kiosks.message).toContain('restore');
    // the public answer: the status alone
    const anonymous = await http(t.baseUrl, 'GET', '/health');
    expect(anonymous.body).toEqual({ status: 'ok' });
    expect(JSON.stringify(anonymous.body)).not.toContain('kiosk_seal');
    expect(await gauge(t.baseUrl, METRIC)).toBe(1);

    // the upgrade's start, with the operator's word: tagged as legacy, the kiosk active again
    t = await app.restart(undefined, { FRAUD_LEGACY_TAGGING: '1' });
    const healthy = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(healthy.status).toBe(200);
    expect(healthy.body.details.kiosks).toMatchObject({
      status: 'up',
      legacySealedCount: 1,
      legacySealedAt: expect.any(String),
    });
    expect(healthy.body.details.kiosks.legacySealRefused).toBeUndefined();
    expect(await gauge(t.baseUrl, METRIC)).toBe(0);
    expect(await listed(t, kiosk.deviceId)).toMatchObject({
      status: 'active',
      integrity: 'legacy',
    });
  });
});
