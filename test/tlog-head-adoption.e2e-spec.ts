import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LedgerService } from '@app/offline-sync';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { verifyConsistency } from '@app/tlog/domain/merkle';
import { http, slowOnMongo, startTestApp, TestApp } from './support/test-app';
import { fill } from './support/ledger-client';
import { enrollPhone } from './support/worker-client';

/** Overwrites one stored Merkle node of a log through the app's store (SQLite or MongoDB). */
async function rewriteNode(t: TestApp, origin: string, level: number, index: number) {
  const hash = Buffer.alloc(32, 9);
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    await store.connection
      .collection('tlog_nodes')
      .updateOne({ origin, level, index }, { $set: { hash } });
    return;
  }
  (store as SqliteStore).db
    .prepare(
      `UPDATE tlog_nodes SET hash = ? WHERE level = ? AND idx = ?
       AND log_id = (SELECT id FROM tlog_logs WHERE origin = ?)`,
    )
    .run(hash, level, index, origin);
}

/**
 * Two server processes on one store (two app instances on the same DATA_DIR: one SQLite file
 * in WAL mode, or one MongoDB database). A seal keeps the head it sealed last; when another
 * process has sealed past it since, the seal builds on that process's verified checkpoint
 * instead of reading the entries up to it again (review LV #1): read again, an entry rewritten
 * in the store after the other process sealed it would be signed into this one's tree.
 */
describe('a seal after another process sealed past its head (e2e)', () => {
  let dataDir: string;
  let a: TestApp | undefined;
  let b: TestApp | undefined;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'mdai-head-adoption-'))));
  afterEach(async () => {
    const store = a?.app.get(Store);
    if (store instanceof MongoStore) await store.connection.dropDatabase();
    await b?.close();
    await a?.close();
    a = b = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    "should extend the other process's checkpoint without reading its entries again",
    async () => {
      a = await startTestApp({ DATA_DIR: dataDir });
      b = await startTestApp({ DATA_DIR: dataDir });
      const phone = await enrollPhone(a.baseUrl, a.keys.admin);
      // process B seals the first entries: its head is the tree of 3
      const [first] = await fill(b, phone, 1, 3);
      expect(first.checkpoints[0]).toMatchObject({ treeSize: 3 });
      // process A seals past it: the trees of 8 and 13
      const bodies = await fill(a, phone, 2, 5);
      const fromA = bodies[1].checkpoints[0];
      expect(fromA).toMatchObject({ treeSize: 13 });

      // B's leaf source, spied: which entries its seal reads from the store
      const ledger = b.app.get(LedgerService);
      const reads = jest.spyOn(
        ledger as unknown as {
          authenticatedLeaves: (siteId: string, from: number, to: number) => Promise<string[]>;
        },
        'authenticatedLeaves',
      );
      const [next] = await fill(b, phone, 1, 2);
      const fromB = next.checkpoints[0];
      expect(fromB).toMatchObject({ treeSize: 15 });
      // the entries 4..13 A sealed are not read again: B appended its own two, in hand
      expect(reads.mock.calls.map(([, from, to]) => [from, to])).toEqual([]);

      // positive control: the spy sees this process's seals read entries when they must. A
      // seals past B again (the tree of 17: nodes 4/0 and 0/16) and 4/0 is rewritten in the
      // store: B's next seal cannot adopt that head, it rebuilds it from the entries
      await fill(a, phone, 1, 2);
      await rewriteNode(a, `mdai.local/ledger/${phone.siteId}`, 4, 0);
      const [rebuilt] = await fill(b, phone, 1, 1);
      expect(rebuilt.checkpoints[0]).toMatchObject({ treeSize: 18 });
      expect(reads.mock.calls.length).toBeGreaterThan(0);
      expect(reads.mock.calls.map(([, from]) => from)).toContain(1);
      reads.mockRestore();

      // B's checkpoint extends A's: a consistency proof from B's store verifies between them
      const consistency = await http(
        b.baseUrl,
        'GET',
        `/api/v5/ledger/${phone.siteId}/proof/consistency?first=13&second=15`,
        { key: b.keys.auditor },
      );
      expect(consistency.status).toBe(200);
      expect(
        verifyConsistency(
          13,
          15,
          Buffer.from(fromA.rootHash, 'hex'),
          Buffer.from(fromB.rootHash, 'hex'),
          (consistency.body.proof as string[]).map((p) => Buffer.from(p, 'base64')),
        ),
      ).toBe(true);
      for (const t of [a, b]) {
        const verify = await http(t.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/verify`, {
          key: t.keys.auditor,
        });
        expect(verify.status).toBe(200);
        expect(verify.body).toMatchObject({ ok: true, length: 18 });
      }
      const alarms = (text: string) =>
        Number(/mdai_tlog_inconsistency_total\{log="ledger"\} (\d+)/.exec(text)?.[1] ?? 0);
      expect(alarms(String((await http(b.baseUrl, 'GET', '/metrics')).body))).toBe(0);
      // the only ALARM: the rewritten node of the control, rebuilt
      expect(b.logs()).not.toContain('ALARM: checkpoint inconsistent');
    },
    slowOnMongo(120_000),
  );
});
