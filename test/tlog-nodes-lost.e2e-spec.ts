import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TreeNodesCheck } from '@app/tlog';
import { restartApp, withStoreFile } from './support/tamper';
import { http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';
import { fill, rewriteChain, verifyLedger } from './support/ledger-client';

/** What an operator with the SQLite file did (findings L3): a log's Merkle nodes deleted (all logs' without an origin). */
function dropNodes(dataDir: string, origin?: string): number {
  return withStoreFile(dataDir, (db) =>
    origin === undefined
      ? db.prepare('DELETE FROM tlog_nodes').run().changes
      : db
          .prepare(
            'DELETE FROM tlog_nodes WHERE log_id = (SELECT id FROM tlog_logs WHERE origin = ?)',
          )
          .run(origin).changes,
  );
}

/** The number of stored nodes of each log, by origin. */
function nodesByLog(dataDir: string): Record<string, number> {
  const rows = withStoreFile(
    dataDir,
    (db) =>
      db
        .prepare(
          'SELECT l.origin AS origin, count(*) AS n FROM tlog_nodes n JOIN tlog_logs l ON l.id = n.log_id GROUP BY l.origin ORDER BY l.origin',
        )
        .all() as { origin: string; n: number }[],
  );
  return Object.fromEntries(rows.map((r) => [r.origin, r.n]));
}

function countNodes(dataDir: string, origin: string): number {
  return withStoreFile(
    dataDir,
    (db) =>
      db
        .prepare(
          'SELECT count(*) AS n FROM tlog_nodes WHERE log_id = (SELECT id FROM tlog_logs WHERE origin = ?)',
        )
        .get(origin) as { n: number },
  ).n;
}

/** Each test boots the app up to twice and fills a log: slow on a loaded machine. */
const TIMEOUT_MS = 120_000;

const inclusion = (t: TestApp, siteId: string, seq: number) =>
  http(t.baseUrl, 'GET', `/api/v5/ledger/${siteId}/proof/inclusion?seq=${seq}`, {
    key: t.keys.auditor,
  });

/**
 * The stored nodes of a log's Merkle tree are derived data: the leaves (the ledger's links) and
 * the last signed checkpoint determine them. Deleted, they gave a 503 on every append and proof
 * of the log while /health said 200. The server rebuilds them from the leaves when the rebuilt
 * root is the one the last checkpoint signs (a repair), and /health names the log until then.
 */
describe('a transparency log whose stored Merkle nodes were deleted (e2e)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'mdai-nodes-'))));
  afterEach(async () => {
    await t?.close();
    t = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  itOnSqliteFile(
    'should rebuild them from the leaves on the next proof of a running server',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 2, 20);
      const origin = `mdai.local/ledger/${phone.siteId}`;
      const stored = countNodes(dataDir, origin);
      expect(dropNodes(dataDir, origin)).toBe(stored);

      const proof = await inclusion(t, phone.siteId, 3);
      expect(proof.status).toBe(200);
      expect(proof.body).toMatchObject({ seq: 3, treeSize: 40 });
      expect(countNodes(dataDir, origin)).toBe(stored);
      expect(t.logs()).toContain('Rebuilt the lost Merkle nodes of a log from its entries');
      expect((await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin })).status).toBe(200);
      await fill(t, phone, 1, 5);
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({ ok: true, length: 45 });
    },
    TIMEOUT_MS,
  );

  itOnSqliteFile(
    'should rebuild the nodes of every log at start-up, before any request',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 2, 20);
      // the vault audit log: reads without a purpose are refused, and audited
      for (let i = 0; i < 3; i++) {
        const read = await http(t.baseUrl, 'GET', `/api/v5/vault/${randomUUID()}`, {
          key: t.keys.auditor,
        });
        expect(read.status).toBe(400);
      }
      let before: Record<string, number> = {};
      t = await restartApp(t, () => {
        before = nodesByLog(dataDir);
        expect(Object.keys(before)).toEqual([
          'mdai.local/ledger/' + phone.siteId,
          'mdai.local/vault-audit',
        ]);
        dropNodes(dataDir);
      });
      await t.app.get(TreeNodesCheck).settled();

      expect(nodesByLog(dataDir)).toEqual(before);
      expect((await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin })).status).toBe(200);
      expect((await inclusion(t, phone.siteId, 7)).status).toBe(200);
      const [body] = await fill(t, phone, 1, 5);
      expect(body.checkpoints[0]).toMatchObject({ treeSize: 45 });
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({ ok: true, length: 45 });
    },
    TIMEOUT_MS,
  );

  itOnSqliteFile(
    'should not rebuild them from leaves that do not give the signed root: /health names the log',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 2, 20);
      const origin = `mdai.local/ledger/${phone.siteId}`;
      t = await restartApp(t, () => {
        // the links rewritten too: a tree of them would be a rewrite, not a repair
        withStoreFile(dataDir, (db) =>
          rewriteChain(db, phone.siteId, 10, (data, seq) =>
            seq === 10
              ? { ...data, type: data.type === 'check_in' ? 'check_out' : 'check_in' }
              : data,
          ),
        );
        dropNodes(dataDir, origin);
      });

      const sync = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
      expect(sync.status).toBe(503);
      expect((await inclusion(t, phone.siteId, 3)).status).toBe(500);
      const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
      expect(health.status).toBe(503);
      expect(health.body.error.tlog).toMatchObject({
        state: 'degraded',
        reason: 'nodes_missing',
        missingNodes: [expect.objectContaining({ origin })],
      });
      expect(health.body.error.tlog.message).toContain(origin);
      // the public answer says no more than the status
      expect((await http(t.baseUrl, 'GET', '/health')).body).toEqual(
        expect.objectContaining({ status: 'error' }),
      );
    },
    TIMEOUT_MS,
  );
});
