import { randomUUID } from 'node:crypto';
import { LedgerService } from '@app/offline-sync';
import { AttendanceLogRepository } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { TlogRepository } from '@app/tlog/infrastructure/persistence/tlog.repository';
import { UnsealedTailSweep } from '../apps/api/src/unsealed-tail-sweep';
import { fill } from './support/ledger-client';
import { slowOnMongo, startTestApp, TestApp } from './support/test-app';
import { enrollPhone } from './support/worker-client';

/**
 * The sweep read each site's latest checkpoint apart: a read per site a minute, 20,000 for
 * 20,000 sites. It reads a page of sites' checkpoints at once now: here over more than one
 * page of sites (500 each), one of them left with links committed past its checkpoint.
 */
describe('the unsealed-tail sweep over many sites (e2e)', () => {
  const SITES = 501;
  let t: TestApp;
  beforeEach(async () => {
    // no timer sweep during the test (committing 501 links can outlast a minute on mongomock):
    // the test's own sweeps only, after the start's
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0', TLOG_UNSEALED_SWEEP_MS: '3600000' });
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await t.close();
  });

  it(
    "should read a page of sites' checkpoints at once, and find and seal the one site left unsealed among them",
    async () => {
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 1, 1);
      const ledger = t.app.get(LedgerService);
      const [model] = await ledger.readChain(phone.siteId, 0, 1);
      const logs = t.app.get(AttendanceLogRepository, { strict: false });
      /** `count` links on each site, committed through the store and not sealed (a crash's state). */
      const commit = (siteIds: string[], count: number) =>
        logs.appendToChains(
          siteIds.flatMap((siteId) =>
            Array.from({ length: count }, () => {
              const packetId = randomUUID();
              return {
                siteId,
                packetId,
                data: { ...model.data, siteId, packetId },
                meta: model.meta,
              };
            }),
          ),
        );
      const sites = Array.from({ length: SITES }, () => randomUUID()).sort();
      await commit(sites, 1);
      const sweep = t.app.get(UnsealedTailSweep);
      // every one of them sealed once (the start's sweep ran before they were committed)
      expect(await sweep.sweep()).toBe(SITES);

      const left = sites[400]; // on the first page (or the second: the phone's site is random too)
      await commit([left], 3);
      expect(await ledger.verify(left)).toMatchObject({
        ok: false,
        reason: 'checkpoint_missing',
      });
      const store = t.app.get(TlogRepository, { strict: false });
      const latestOne = jest.spyOn(store, 'latestCheckpoint');
      const latestOfPage = jest.spyOn(store, 'latestCheckpoints');
      expect(await sweep.sweep()).toBe(1);

      // the pages of sites (502 with the phone's: 500, 2), one read each
      expect(latestOfPage.mock.calls.map(([origins]) => origins.length)).toEqual([500, 2]);
      // one log's latest read apart: the unsealed one's (again after the seals in flight, and
      // by its seal), and the vault audit log's; never another site's
      const readApart = new Set(latestOne.mock.calls.map(([origin]) => origin));
      readApart.delete(ledger.originOf(left));
      expect([...readApart].filter((origin) => origin.includes('/ledger/'))).toEqual([]);
      // the sites are the store's only (none registered): read through the ledger, not HTTP
      expect(await ledger.verify(left)).toMatchObject({ ok: true, length: 4 });
      expect(await ledger.latestCheckpoint(left)).toMatchObject({ size: 4 });
      expect(await sweep.sweep()).toBe(0);
    },
    // sealing 501 logs first takes a minute or more on a loaded machine (the CI's parallel run)
    slowOnMongo(600_000),
  );
});
