import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LedgerService } from '@app/offline-sync';
import { AttendanceLogRepository } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { MongoStore, Store } from '@app/persistence';
import { CATCH_UP_PAGE } from '@app/timesheets';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { e2eDriver, http, slowOnMongo, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

/** Links in the chain before the read: more than a page, so the catch-up reads several. */
const BACKLOG = CATCH_UP_PAGE + 50;
/**
 * Pages the other replica follows at most (a catch-up that followed the head would read this
 * many and then the rest): fewer on the MongoDB test server (every link is a round trip).
 */
const ROUNDS = e2eDriver === 'mongo' ? 4 : 8;
/** Workers whose punches the links are (taking turns: link i is worker i % WORKERS's). */
const WORKERS = 10;
/** Yesterday (UTC): every punch's day. */
const DAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

/**
 * A site whose chain grows faster than the projector takes it: another replica appends (straight
 * into the shared ledger store, so this process's read model hears nothing of it) a page's worth
 * of links every time the read's catch-up reads a page of the chain. A catch-up that read until
 * a page came back short never reached the head (seen on the MongoDB test server, whose pages
 * are slow): it read page after page for as long as the replica kept appending, and the read
 * waiting for it with it. The catch-up stops at the head it read when it started, so the read
 * answers while the replica still appends, with every link up to that head; the next
 * catch-up starts where it ended and takes the rest.
 */
describe('a timesheet catch-up on a site whose chain grows faster than it is projected (e2e)', () => {
  let dataDir: string;
  let t: TestApp;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-ts-catch-up-'));
    t = await startTestApp({ DATA_DIR: dataDir });
  }, 120_000);
  afterAll(async () => {
    const store = t?.app.get(Store);
    if (store instanceof MongoStore) await store.connection.dropDatabase();
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The seqs behind the site's days (every link is a punch of one of them), sorted. */
  async function seqsRead(siteId: string): Promise<number[]> {
    const res = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets?from=${DAY}&to=${DAY}`,
      { key: t.keys.auditor },
    );
    expect(res.status).toBe(200);
    expect(res.body.nextCursor).toBeUndefined();
    return (res.body.days as { seqs: number[] }[]).flatMap((d) => d.seqs).sort((a, b) => a - b);
  }

  const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it(
    'should answer a read at the head its catch-up started from, and take the links appended meanwhile in the next one',
    async () => {
      const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata');
      const ledgerStore = t.app.get(AttendanceLogRepository, { strict: false });
      let appended = 0;
      /** Link i: worker i % WORKERS, its (i / WORKERS)th punch of the day, in and out by turns. */
      const append = (count: number) => {
        const entries = Array.from({ length: count }, (_, n) => {
          const i = appended + n;
          const k = Math.floor(i / WORKERS);
          return punchEntry({
            siteId,
            workerId: String(i % WORKERS).padStart(24, 'a'),
            type: k % 2 === 0 ? 'check_in' : 'check_out',
            timestamp: new Date(Date.parse(`${DAY}T03:30:00.000Z`) + k * 60_000).toISOString(),
          });
        });
        appended += count;
        return ledgerStore.appendToChains(entries);
      };
      await append(BACKLOG);

      // the other replica: after every page the catch-up reads of this site, as many links
      // as the page could hold, until the read answered or ROUNDS pages were followed
      // (the catch-up's read of the chain: `readAuthenticatedChain`, each link checked)
      const ledger = t.app.get(LedgerService);
      const readChain = ledger.readAuthenticatedChain.bind(ledger);
      let rounds = 0;
      let answered = false;
      const reads = jest
        .spyOn(ledger, 'readAuthenticatedChain')
        .mockImplementation(async (site, afterSeq, limit) => {
          const page = await readChain(site, afterSeq, limit);
          if (site === siteId && !answered && rounds < ROUNDS) {
            rounds += 1;
            await append(limit);
          }
          return page;
        });
      try {
        const first = await seqsRead(siteId);
        answered = true;
        // answered while the replica still appended, with exactly the chain up to the head
        // read when its catch-up started
        expect(rounds).toBeGreaterThan(0);
        expect(rounds).toBeLessThan(ROUNDS);
        expect(appended).toBeGreaterThan(BACKLOG);
        expect(first).toEqual(upTo(BACKLOG));

        // the next read's catch-up starts where that one ended: every link, none twice
        expect(await seqsRead(siteId)).toEqual(upTo(appended));
        const progress = await t.app.get(TimesheetRepository, { strict: false }).progress(siteId);
        expect(progress).toEqual({ maxSeq: appended, count: appended });
      } finally {
        reads.mockRestore();
      }
    },
    slowOnMongo(120_000),
  );
});
