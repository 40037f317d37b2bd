import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoStore, Store } from '@app/persistence';
import { http, MONGODB_URI, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';

const alarms = async (t: TestApp): Promise<number> => {
  const text = String((await http(t.baseUrl, 'GET', '/metrics')).body);
  return Number(/mdai_tlog_inconsistency_total\{log="ledger"\} (\d+)/.exec(text)?.[1] ?? 0);
};

/**
 * The production replicas share one MongoDB and one data volume, so one witness file: each
 * reads it when it first seals a log, and may find there a larger checkpoint of that log that
 * another replica witnessed but has not stored (a seal writes its witness line, then its
 * checkpoint row). Its own seal of a smaller tree must not then be an ALARM: that tree is a
 * prefix of the witnessed one. The gap between line and row is held open here by a real
 * store fault (a unique index that refuses the checkpoint rows of sizes 1 and 2, as a
 * replica's write in flight or lost would leave them missing). SQLite is one process: skipped.
 */
const describeOnMongo = MONGODB_URI ? describe : describe.skip;
describeOnMongo(
  `transparency log on two replicas sharing a witness file (e2e)${MONGODB_URI ? '' : ' (skipped: needs MONGODB_URI; an SQLite file has one process)'}`,
  () => {
    let dataDir: string;
    let a: TestApp;
    let b: TestApp;
    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'mdai-tlog-replicas-'));
      a = await startTestApp({ DATA_DIR: dataDir });
      b = await startTestApp({ DATA_DIR: dataDir });
    });
    afterAll(async () => {
      const store = a?.app.get(Store);
      if (store instanceof MongoStore) await store.connection.dropDatabase();
      await b?.close();
      await a?.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it("should not raise an alarm when a replica seals a prefix of another's witnessed checkpoint", async () => {
      const phone = await enrollPhone(a.baseUrl, a.keys.admin);
      const checkpoints = (a.app.get(Store) as MongoStore).connection.collection(
        'tlog_checkpoints',
      );
      await checkpoints.createIndex({ size: 1 }, { unique: true, name: 'fault' });
      await checkpoints.insertMany([
        { origin: 'decoy', size: 1 },
        { origin: 'decoy', size: 2 },
      ]);
      const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
      const first = signPacket(phone, { type: 'check_in', timestamp: at(20) });
      const second = signPacket(phone, { type: 'check_out', timestamp: at(10) });
      // replica b stores both packets and witnesses trees of 1 and 2; their rows are refused
      for (const packet of [first, second]) {
        const res = await syncBatch(b.baseUrl, phone.token, [packet]);
        expect({ status: res.status, code: res.body.code }).toEqual({
          status: 503,
          code: 'checkpoint_unavailable',
        });
      }
      await checkpoints.dropIndex('fault');
      await checkpoints.deleteMany({ origin: 'decoy' });
      const before = await alarms(a);
      // the phone sends its first packet again to replica a, whose first seal of this log
      // signs the tree of 1 (the store has no checkpoint) while the file holds 2
      const again = await syncBatch(a.baseUrl, phone.token, [first]);
      expect(again.status).toBe(200);
      expect(again.body.results[0].receipt).toMatchObject({ seq: 1, treeSize: 1 });
      expect(await alarms(a)).toBe(before);
      expect(a.logs()).not.toContain('ALARM');
    });
  },
);
