import { LedgerService } from '@app/offline-sync';
import { MongoStore, Store } from '@app/persistence';
import { describeReplicas, http, TestApp } from './support/test-app';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';

/** Batches sent to both replicas at once. */
const RESENT_ROUNDS = 10;

const alarms = async (t: TestApp): Promise<number> => {
  const text = String((await http(t.baseUrl, 'GET', '/metrics')).body);
  return Number(/mdai_tlog_inconsistency_total\{log="ledger"\} (\d+)/.exec(text)?.[1] ?? 0);
};

/**
 * The production replicas share one MongoDB and one data volume, so one witness file: each
 * reads it when it first seals a log, and may find there a larger checkpoint of that log that
 * another replica witnessed but has not stored (a seal writes its witness line, then its
 * checkpoint row). Its own seal of a smaller tree must not then be an ALARM: that tree is a
 * prefix of the witnessed one. The gap between line and row (a few milliseconds in
 * production) is held open here by removing the rows the other replica wrote. SQLite is one
 * process: skipped.
 */
describeReplicas('transparency log on two replicas sharing a witness file (e2e)', (replicas) => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(() => ({ a, b } = replicas()));

  it("should not raise an alarm when a replica seals a prefix of another's witnessed checkpoint", async () => {
    const phone = await enrollPhone(a.baseUrl, a.keys.admin);
    const checkpoints = a.app
      .get<Store, MongoStore>(Store)
      .connection.collection('tlog_checkpoints');
    const first = signPacket(phone, { type: 'check_in' });
    const second = signPacket(phone, {
      type: 'check_out',
      timestamp: new Date(Date.now() - 30_000).toISOString(),
    });
    // replica b stores both packets and witnesses the trees of 1 and 2
    for (const packet of [first, second]) {
      expect((await syncBatch(b.baseUrl, phone.token, [packet])).status).toBe(200);
    }
    // their checkpoint rows not written yet (b between its witness lines and its rows)
    const origin = a.app.get(LedgerService).originOf(phone.siteId);
    expect((await checkpoints.deleteMany({ origin })).deletedCount).toBe(2);
    const before = await alarms(a);
    // the phone sends its first packet again to replica a, whose first seal of this log
    // signs the tree of 1 (the store has no checkpoint) while the file holds 2
    const again = await syncBatch(a.baseUrl, phone.token, [first]);
    expect(again.status).toBe(200);
    expect(again.body.results[0].receipt).toMatchObject({ seq: 1, treeSize: 1 });
    expect(await alarms(a)).toBe(before);
    expect(a.logs()).not.toContain('ALARM');
  });

  it('should answer both syncs when a phone sends one batch to both replicas at once', async () => {
    const phone = await enrollPhone(a.baseUrl, a.keys.admin);
    for (let round = 0; round < RESENT_ROUNDS; round++) {
      // a phone that timed out on one replica sends the same batch to the other
      const packet = signPacket(phone, {
        type: round % 2 === 0 ? 'check_in' : 'check_out',
        timestamp: new Date(Date.now() - 60_000 + round * 1000).toISOString(),
      });
      const answers = await Promise.all(
        [a, b].map((t) => syncBatch(t.baseUrl, phone.token, [packet])),
      );
      expect(answers.map((r) => [r.status, r.body.code])).toEqual([
        [200, undefined],
        [200, undefined],
      ]);
      const receipts = answers.map((r) => r.body.results[0].receipt);
      expect(receipts[0].seq).toBe(round + 1);
      expect(receipts[1].seq).toBe(round + 1);
    }
  });
});
