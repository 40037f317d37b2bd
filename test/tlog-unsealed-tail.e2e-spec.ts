import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LedgerService } from '@app/offline-sync';
import { SEAL_RETRY_MAX_MS } from '@app/tlog';
import { AttendanceLogRepository } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { dataDirApp, sealForeign } from './support/tamper';
import { http, pollUntil, slowOnMongo, TestApp } from './support/test-app';
import { enrollPhone, Phone } from './support/worker-client';
import { fill, verifyLedger } from './support/ledger-client';

/**
 * A server killed between committing a sync batch and sealing it (the tester's kill -9 ~400 ms
 * into a 500-packet sync) left the site's links without a checkpoint for good: verify said
 * checkpoint_missing, GET checkpoint 404, mdai_tlog_unsealed_logs 0, and only the site's next
 * append sealed it. The state is made here without kill timing: links committed through the
 * store (tagged as the server tags them) and no seal, as the crash leaves them.
 */
describe('logs committed past their last checkpoint, found at start-up (e2e)', () => {
  let dir: string;
  const witnessFile = () => join(dir, 'witness', 'witness.ndjson');
  /** A file where the witness file's directory should be: every seal fails. */
  const block = () => {
    rmSync(join(dir, 'witness'), { recursive: true, force: true });
    writeFileSync(join(dir, 'witness'), 'a file where a directory should be');
  };
  const unblock = () => {
    rmSync(join(dir, 'witness'), { recursive: true, force: true });
    mkdirSync(join(dir, 'witness'));
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-unsealed-witness-'));
    unblock();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const server = dataDirApp('unsealed-tail', { TRUST_AUTO_BLOCK_FLOOR: '0' });
  const start = () => server.start({ TLOG_WITNESS_FILE: witnessFile() });

  /** `count` links appended to the phone's site through the store, not sealed (a crash's state). */
  const commitUnsealed = async (t: TestApp, phone: Phone, count: number, siteId = phone.siteId) => {
    const ledger = t.app.get(LedgerService);
    const [model] = await ledger.readChain(phone.siteId, 0, 1);
    const entries = Array.from({ length: count }, () => {
      const packetId = randomUUID();
      return {
        siteId,
        packetId,
        data: { ...model.data, siteId, packetId },
        meta: model.meta,
      };
    });
    await t.app.get(AttendanceLogRepository, { strict: false }).appendToChains(entries);
  };
  const unsealedMetric = async (t: TestApp) =>
    Number(
      /mdai_tlog_unsealed_logs (\d+)/.exec(
        String((await http(t.baseUrl, 'GET', '/metrics')).body),
      )?.[1],
    );
  const checkpoint = (t: TestApp, siteId: string) =>
    http(t.baseUrl, 'GET', `/api/v5/ledger/${siteId}/checkpoint`, { key: t.keys.auditor });
  const unsealedOnHealth = async (t: TestApp) => {
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    const tlog = health.body.info?.tlog ?? health.body.error?.tlog;
    return (tlog?.unsealedLogs ?? []) as { origin: string; size: number; retrying: boolean }[];
  };

  it(
    'should seal at start-up the links a crash left without a checkpoint, on a site sealed before and on one never sealed',
    async () => {
      let t = await start();
      const sealedBefore = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, sealedBefore, 1, 2);
      await commitUnsealed(t, sealedBefore, 3);
      // a site whose only batch was committed and never sealed: no checkpoint at all
      const site = await http(t.baseUrl, 'POST', '/api/v5/sites', {
        key: t.keys.admin,
        body: { name: 'Tower D', geo: { lat: 28.6139, lng: 77.209 }, radiusM: 150 },
      });
      const neverSealed = site.body.siteId as string;
      await commitUnsealed(t, sealedBefore, 4, neverSealed);
      expect(await verifyLedger(t, sealedBefore.siteId)).toMatchObject({
        ok: false,
        reason: 'checkpoint_missing',
      });
      expect((await checkpoint(t, neverSealed)).status).toBe(404);
      t = await server.restart(undefined, { TLOG_WITNESS_FILE: witnessFile() });
      const verified = await pollUntil(
        () => verifyLedger(t, neverSealed),
        (body) => body.ok,
      );
      expect(verified).toMatchObject({ ok: true, length: 4 });
      expect((await checkpoint(t, neverSealed)).body).toMatchObject({ treeSize: 4 });
      expect(await verifyLedger(t, sealedBefore.siteId)).toMatchObject({ ok: true, length: 5 });
      expect((await checkpoint(t, sealedBefore.siteId)).body).toMatchObject({ treeSize: 5 });
      expect(await unsealedMetric(t)).toBe(0);
      expect(t.logs()).toContain('Sealed ledger links committed without a checkpoint');
    },
    slowOnMongo(120_000),
  );

  it(
    'should count a log left unsealed on the gauge and /health until its seal succeeds',
    async () => {
      let t = await start();
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 1, 2);
      await commitUnsealed(t, phone, 3);
      const origin = t.app.get(LedgerService).originOf(phone.siteId);
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({
        ok: false,
        reason: 'checkpoint_missing',
      });
      // restarted while no seal can be written: found, counted, and retried
      await server.stop();
      block();
      t = await start();
      const counted = await pollUntil(
        () => unsealedMetric(t),
        (n) => n === 1,
      );
      expect(counted).toBe(1);
      expect(await unsealedOnHealth(t)).toEqual([expect.objectContaining({ origin, size: 5 })]);
      expect((await http(t.baseUrl, 'GET', '/health')).status).toBe(200);
      unblock();
      // the next background retry seals it: the retries' waits double from a second up to
      // SEAL_RETRY_MAX_MS, so one may be that far off by now (once the start and the polls above
      // take 16 s on a loaded machine, the next retry is 31 s after the first, past a 20 s poll)
      const verified = await pollUntil(
        () => verifyLedger(t, phone.siteId),
        (body) => body.ok,
        SEAL_RETRY_MAX_MS + 30_000,
      );
      expect(verified).toMatchObject({ ok: true, length: 5 });
      expect((await checkpoint(t, phone.siteId)).body).toMatchObject({ treeSize: 5 });
      expect(await unsealedMetric(t)).toBe(0);
      expect(await unsealedOnHealth(t)).toEqual([]);
    },
    slowOnMongo(240_000),
  );

  it(
    "should have ledger:seal-foreign seal the links a crash left without a checkpoint when all are the server's",
    async () => {
      const t = await start();
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 1, 2);
      await commitUnsealed(t, phone, 3);
      await server.stop();
      const run = await sealForeign('ledger', server.dataDir, '--site', phone.siteId);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('5 links, the last checkpoint covers 2');
      expect(run.stdout).toContain('seq 3..5 had no checkpoint');
      expect(run.stdout).toContain('checkpoint of size 5 signed');
      const again = await sealForeign('ledger', server.dataDir, '--site', phone.siteId);
      expect(again.stdout).toContain('5 links, the last checkpoint covers 5');
      expect(again.stdout).toContain('nothing to seal');
    },
    slowOnMongo(60_000),
  );
});
