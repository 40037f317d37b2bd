import { MongoStore, Store } from '@app/persistence';
import { clearLegacyMarker, dataDirApp, withStoreFile } from './support/tamper';
import { gauge, http, TestApp } from './support/test-app';
import { enrollPhone, refreshToken } from './support/worker-client';

/**
 * The workers' legacy tagging refused at a start (FRAUD_LEGACY_TAGGING off on a store whose
 * workers carry no tag and no marker): every worker from before the upgrade reads tampered, so
 * refused (403 worker_tampered). /health says so, reported, not degraded (`workers`), and a start
 * with the operator's word tags them as legacy.
 */
describe('workers, sites and thekedars legacy tagging refused, on /health and /metrics (e2e)', () => {
  const app = dataDirApp('worker-legacy');

  /** The store as a version from before the worker tags left it: no tag, no marker. */
  async function untagWorkers(t: TestApp): Promise<void> {
    if (t.config.database.driver === 'sqlite') {
      withStoreFile(t, (db) => {
        db.prepare('UPDATE workers SET tag = NULL, event_id = NULL').run();
        db.prepare('UPDATE sites SET tag = NULL').run();
        db.prepare('UPDATE thekedars SET tag = NULL').run();
      });
    } else {
      const c = t.app.get<Store, MongoStore>(Store).connection;
      await c.collection('workers').updateMany({}, { $unset: { tag: '', eventId: '' } });
      await c.collection('sites').updateMany({}, { $unset: { tag: '' } });
      await c.collection('thekedars').updateMany({}, { $unset: { tag: '' } });
    }
    for (const marker of ['worker_seal', 'site_seal', 'thekedar_seal'])
      await clearLegacyMarker(t, marker);
  }

  /**
   * Sitemend2 L4: the workers', sites' and thekedars' refusal had no gauge (/health up, as the
   * worker devices' and kiosks'): every site's syncs and payroll stopped with nothing to page.
   */
  const GAUGES = ['worker', 'site', 'thekedar'].map((k) => `mdai_${k}s_legacy_tagging_refused`);
  const gauges = (t: TestApp) => Promise.all(GAUGES.map((g) => gauge(t.baseUrl, g)));

  const integrityOf = async (t: TestApp, workerId: string) =>
    (await http(t.baseUrl, 'GET', `/api/v5/workers/${workerId}`, { key: t.keys.admin })).body
      .integrity;

  it('should report the refusal on /health (not degraded) with what to do, refuse the workers, and clear it once a start tags them', async () => {
    let t = await app.start();
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'wt-legacy-01' });
    const thekedar = await http(t.baseUrl, 'POST', '/api/v5/thekedars', {
      key: t.keys.admin,
      body: { name: 'Ramesh', phone: '+91 90000 00031', siteIds: [] },
    });
    expect(thekedar.status).toBe(201);
    expect(await gauges(t)).toEqual([0, 0, 0]);
    await untagWorkers(t);

    t = await app.restart(undefined, { FRAUD_LEGACY_TAGGING: '0' });
    expect(await integrityOf(t, p.workerId)).toBe('tampered');
    const refused = await refreshToken(t.baseUrl, p);
    expect([refused.status, refused.body.code]).toEqual([403, 'worker_tampered']);
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.details.workers).toMatchObject({
      status: 'up',
      legacySealRefused: true,
      legacySealRefusedReason: 'not_allowed',
      message: expect.stringContaining('restart once with FRAUD_LEGACY_TAGGING=1'),
    });
    expect(health.body.details.workers.message).toContain('worker_tampered');
    for (const kind of ['sites', 'thekedars']) {
      expect([kind, health.body.details[kind]]).toMatchObject([
        kind,
        { status: 'up', legacySealRefused: true, legacySealRefusedReason: 'not_allowed' },
      ]);
    }
    expect(await gauges(t)).toEqual([1, 1, 1]);

    t = await app.restart(undefined, { FRAUD_LEGACY_TAGGING: '1' });
    const healthy = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(healthy.body.details.workers).toMatchObject({
      status: 'up',
      legacySealedCount: 1,
      legacySealedAt: expect.any(String),
    });
    expect(healthy.body.details.workers.legacySealRefused).toBeUndefined();
    expect(await gauges(t)).toEqual([0, 0, 0]);
    expect(await integrityOf(t, p.workerId)).toBe('legacy');
    expect((await refreshToken(t.baseUrl, p)).status).toBe(200);
  }, 120_000);
});
