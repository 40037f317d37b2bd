import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { TreeNodesCheck } from '@app/tlog';
import {
  http,
  itOnSqliteFile,
  pollUntil,
  slowOnMongo,
  startTestApp,
  TestApp,
} from './support/test-app';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';
import { fill, rewriteChain, verifyLedger } from './support/ledger-client';
import { forgeLedgerLinks, sealConfirmation, sealForeign, withStoreFile } from './support/tamper';

/** Each test boots the app twice and fills a log: slow on a loaded machine. */
const TIMEOUT_MS = 120_000;

const NODE_WHERE = `level = ? AND idx = ? AND log_id = (SELECT id FROM tlog_logs WHERE origin = ?)`;

function nodeAt(dataDir: string, origin: string, level: number, index: number): Buffer {
  return withStoreFile(
    dataDir,
    (db) =>
      (
        db.prepare(`SELECT hash FROM tlog_nodes WHERE ${NODE_WHERE}`).get(level, index, origin) as {
          hash: Buffer;
        }
      ).hash,
  );
}

function setNode(dataDir: string, origin: string, level: number, index: number, hash: Buffer) {
  withStoreFile(dataDir, (db) =>
    db
      .prepare(`UPDATE tlog_nodes SET hash = ? WHERE ${NODE_WHERE}`)
      .run(hash, level, index, origin),
  );
}

const latestSize = (dataDir: string, origin: string): number =>
  withStoreFile(
    dataDir,
    (db) =>
      (
        db
          .prepare(
            'SELECT max(size) AS size FROM tlog_checkpoints WHERE log_id = (SELECT id FROM tlog_logs WHERE origin = ?)',
          )
          .get(origin) as { size: number }
      ).size,
  );

const metric = async (t: TestApp, name: string): Promise<number> => {
  const text = String((await http(t.baseUrl, 'GET', '/metrics')).body);
  return Number(new RegExp(`${name}\\{log="ledger"\\} (\\d+)`).exec(text)?.[1] ?? 0);
};
const mismatchMetric = (t: TestApp) => metric(t, 'mdai_tlog_nodes_mismatch_total');

/** One stored node of a log, read or overwritten through the app's store (SQLite or MongoDB). */
async function storedNode(
  t: TestApp,
  origin: string,
  level: number,
  index: number,
  rewrite?: Buffer,
): Promise<Buffer> {
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    const nodes = store.connection.collection('tlog_nodes');
    if (rewrite) await nodes.updateOne({ origin, level, index }, { $set: { hash: rewrite } });
    const doc = await nodes.findOne({ origin, level, index });
    return Buffer.from((doc!.hash as { buffer: Uint8Array }).buffer ?? doc!.hash);
  }
  const db = (store as SqliteStore).db;
  if (rewrite)
    db.prepare(`UPDATE tlog_nodes SET hash = ? WHERE ${NODE_WHERE}`).run(
      rewrite,
      level,
      index,
      origin,
    );
  return (
    db.prepare(`SELECT hash FROM tlog_nodes WHERE ${NODE_WHERE}`).get(level, index, origin) as {
      hash: Buffer;
    }
  ).hash;
}

/**
 * Review LV #3: stored Merkle nodes that do not give the root the log's last checkpoint signs
 * were rewritten outside the server. A seal signed a new checkpoint over them (an ALARM line,
 * then the witness alarm and a failed verify). It now signs nothing over them: rebuilt from
 * the entries when those give the signed root (ledger-transparency.e2e-spec), refused
 * otherwise (503, /health `nodes_mismatch`, a metric) until the nodes are put back.
 */
describe('a transparency log whose stored Merkle nodes were rewritten (e2e)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'mdai-nodes-mismatch-'))));
  afterEach(async () => {
    await t?.close();
    t = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'should rebuild from the entries the nodes of a head another process sealed, rewritten in the store since, when this process loads that head',
    async () => {
      let b: TestApp | undefined;
      try {
        t = await startTestApp({ DATA_DIR: dataDir });
        b = await startTestApp({ DATA_DIR: dataDir });
        const phone = await enrollPhone(t.baseUrl, t.keys.admin);
        await fill(t, phone, 2, 8);
        const origin = `mdai.local/ledger/${phone.siteId}`;
        // the tree of 16 is one perfect node: rewritten in the store while both run
        const genuine = await storedNode(t, origin, 4, 0);
        expect(await storedNode(t, origin, 4, 0, Buffer.alloc(32, 9))).toEqual(Buffer.alloc(32, 9));
        // process B's first seal of the log loads its head from the store
        const [body] = await fill(b, phone, 1, 2);
        expect(body.checkpoints[0]).toMatchObject({ treeSize: 18 });
        expect(await storedNode(b, origin, 4, 0)).toEqual(genuine);
        expect(await mismatchMetric(b)).toBe(1);
        expect(await metric(b, 'mdai_tlog_inconsistency_total')).toBe(0);
        expect(b.logs()).toContain(
          'ALARM: the stored Merkle nodes of a log do not give the root its last checkpoint signs',
        );
        expect(b.logs()).toContain('Rebuilt the lost Merkle nodes of a log from its entries');
        // the evidence the repair overwrites is logged first: the roots, the node, both hashes
        const alarm = b
          .logs()
          .split('\n')
          .find((line) => line.includes('ALARM: replaced stored Merkle nodes'));
        expect(alarm).toBeDefined();
        expect(alarm).toContain('"4/0"');
        expect(alarm).toContain('09'.repeat(32));
        expect(alarm).toContain(genuine.toString('hex'));
        expect(b.logs()).toMatch(new RegExp(`storedRoot.{0,4}${'09'.repeat(32)}`));
        expect(await verifyLedger(b, phone.siteId)).toMatchObject({ ok: true, length: 18 });
        expect((await http(b.baseUrl, 'GET', '/health', { key: b.keys.admin })).status).toBe(200);
      } finally {
        const store = t?.app.get(Store);
        if (store instanceof MongoStore) await store.connection.dropDatabase();
        await b?.close();
      }
    },
    slowOnMongo(TIMEOUT_MS),
  );

  itOnSqliteFile(
    'should refuse to seal over nodes its entries do not prove, and seal again once they are put back',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 2, 16);
      const origin = `mdai.local/ledger/${phone.siteId}`;
      await t.close({ keepData: true });
      // the tree of 32 is one perfect node: its hash and the links both rewritten (a forged
      // history whose tree the entries do not prove either)
      const genuine = nodeAt(dataDir, origin, 5, 0);
      setNode(dataDir, origin, 5, 0, Buffer.alloc(32, 7));
      withStoreFile(dataDir, (db) =>
        rewriteChain(db, phone.siteId, 10, (data, seq) =>
          seq === 10
            ? { ...data, type: data.type === 'check_in' ? 'check_out' : 'check_in' }
            : data,
        ),
      );
      t = await startTestApp({ DATA_DIR: dataDir });
      await t.app.get(TreeNodesCheck).settled();

      const sync = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
      expect(sync.status).toBe(503);
      expect(sync.body).toMatchObject({ code: 'checkpoint_unavailable' });
      // the generic answer: the device can do nothing about the tree (the cause is on /health)
      expect(sync.body.message).toBe(
        'The packets are stored but their checkpoint could not be signed; send the same batch again for receipts',
      );
      expect(sync.body.message).not.toMatch(/rewritten|health|Merkle/);
      // nothing signed over the rewritten node: the last checkpoint is still the tree of 32
      expect(latestSize(dataDir, origin)).toBe(32);
      expect(nodeAt(dataDir, origin, 5, 0)).toEqual(Buffer.alloc(32, 7));
      const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
      expect(health.status).toBe(503);
      expect(health.body.error.tlog).toMatchObject({
        state: 'degraded',
        reason: 'nodes_mismatch',
        mismatchedNodes: [expect.objectContaining({ origin, size: 32 })],
      });
      expect(health.body.error.tlog.message).toContain(origin);
      expect(await mismatchMetric(t)).toBe(1);
      // a second refusal is the same episode: one alarm
      expect((await syncBatch(t.baseUrl, phone.token, [signPacket(phone)])).status).toBe(503);
      expect(await mismatchMetric(t)).toBe(1);
      expect(latestSize(dataDir, origin)).toBe(32);

      // the operator puts the node back: the next seal signs the links stored meanwhile
      setNode(dataDir, origin, 5, 0, genuine);
      const next = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
      expect(next.status).toBe(200);
      expect(next.body.checkpoints[0]).toMatchObject({ treeSize: 35 });
      const healed = await pollUntil(
        () => http(t!.baseUrl, 'GET', '/health', { key: t!.keys.admin }),
        (res) => res.body?.error?.tlog === undefined,
      );
      expect(healed.body.error?.tlog).toBeUndefined();
      expect(healed.body.details?.tlog ?? healed.body.info?.tlog).toMatchObject({ status: 'up' });
    },
    TIMEOUT_MS,
  );
  itOnSqliteFile(
    'should clear /health with no append once an operator puts back nodes the start-up check found rewritten',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 2, 16);
      const origin = `mdai.local/ledger/${phone.siteId}`;
      await t.close({ keepData: true });
      const genuine = nodeAt(dataDir, origin, 5, 0);
      setNode(dataDir, origin, 5, 0, Buffer.alloc(32, 7));
      withStoreFile(dataDir, (db) =>
        rewriteChain(db, phone.siteId, 10, (data, seq) =>
          seq === 10
            ? { ...data, type: data.type === 'check_in' ? 'check_out' : 'check_in' }
            : data,
        ),
      );
      t = await startTestApp({ DATA_DIR: dataDir });
      await t.app.get(TreeNodesCheck).settled();
      const refused = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
      expect(refused.status).toBe(503);
      expect(refused.body.error.tlog).toMatchObject({ reason: 'nodes_mismatch' });

      // put back in the SQLite file while the server runs; no device syncs meanwhile
      setNode(dataDir, origin, 5, 0, genuine);
      const healed = await pollUntil(
        () => http(t!.baseUrl, 'GET', '/health', { key: t!.keys.admin }),
        (res) => res.status === 200,
      );
      expect(healed.status).toBe(200);
      expect(healed.body.details.tlog).toMatchObject({ status: 'up' });
      expect(latestSize(dataDir, origin)).toBe(32);
      expect(t.logs()).toContain('give its signed root again');
    },
    TIMEOUT_MS,
  );
  itOnSqliteFile(
    'should refuse seal-foreign over a tree and entries both rewritten with a clear message and exit 66',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 2, 16);
      const origin = `mdai.local/ledger/${phone.siteId}`;
      await t.close({ keepData: true });
      t = undefined;
      setNode(dataDir, origin, 5, 0, Buffer.alloc(32, 7));
      withStoreFile(dataDir, (db) =>
        rewriteChain(db, phone.siteId, 10, (data, seq) =>
          seq === 10
            ? { ...data, type: data.type === 'check_in' ? 'check_out' : 'check_in' }
            : data,
        ),
      );
      // one link appended straight into the file, hashed and chained, with no server MAC
      const forged = forgeLedgerLinks(dataDir, phone.siteId, 1, () => ({
        type: 'check_in',
        timestamp: new Date().toISOString(),
      }));
      const shown = await sealForeign('ledger', dataDir, '--site', phone.siteId);
      expect(shown.code).toBe(2);
      const confirm = sealConfirmation(shown.stdout);
      expect(confirm.join(' ')).toContain(`--through ${forged}`);
      const refused = await sealForeign('ledger', dataDir, '--site', phone.siteId, ...confirm);
      expect(refused.code).toBe(66);
      expect(refused.stderr).toContain(
        `refused: the stored Merkle tree of log ${origin} does not give the root its checkpoint of size 32 signs`,
      );
      expect(refused.stderr).toContain('restore the log from a backup');
      expect(refused.stderr).not.toMatch(/\n\s+at /);
      expect(latestSize(dataDir, origin)).toBe(32);
    },
    TIMEOUT_MS,
  );
  // lv3mend review L1: a rebuild that fails on the store is not a rewrite of the entries
  itOnSqliteFile(
    'should tell a store error in the rebuild from entries rewritten: exit 75, retryable, then sealed',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 2, 16);
      const origin = `mdai.local/ledger/${phone.siteId}`;
      await t.close({ keepData: true });
      t = undefined;
      // the tree rewritten, the entries not: a rebuild from them repairs it
      setNode(dataDir, origin, 5, 0, Buffer.alloc(32, 7));
      const forged = forgeLedgerLinks(dataDir, phone.siteId, 1, () => ({
        type: 'check_in',
        timestamp: new Date().toISOString(),
      }));
      // every write of a node fails in SQLite itself (as a full disk or an I/O error would)
      withStoreFile(dataDir, (db) =>
        db.exec(`
          CREATE TRIGGER nodes_fail_insert BEFORE INSERT ON tlog_nodes BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;
          CREATE TRIGGER nodes_fail_update BEFORE UPDATE ON tlog_nodes BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;
        `),
      );
      const shown = await sealForeign('ledger', dataDir, '--site', phone.siteId);
      expect(shown.code).toBe(2);
      const confirm = sealConfirmation(shown.stdout);
      expect(confirm.join(' ')).toContain(`--through ${forged}`);
      const failed = await sealForeign('ledger', dataDir, '--site', phone.siteId, ...confirm);
      // before: exit 66 "restore the log from a backup", as for entries rewritten
      expect(failed.code).toBe(75);
      expect(failed.stderr).toContain(
        `not sealed, try again: the stored Merkle tree of log ${origin}`,
      );
      expect(failed.stderr).toContain('disk I/O error');
      expect(failed.stderr).not.toContain('restore');
      expect(failed.stderr).not.toMatch(/\n\s+at /);
      expect(latestSize(dataDir, origin)).toBe(32);
      // the store answers again: the same command seals
      withStoreFile(dataDir, (db) =>
        db.exec('DROP TRIGGER nodes_fail_insert; DROP TRIGGER nodes_fail_update;'),
      );
      const sealed = await sealForeign('ledger', dataDir, '--site', phone.siteId, ...confirm);
      expect(sealed).toMatchObject({ code: 0 });
      expect(latestSize(dataDir, origin)).toBe(forged);
    },
    TIMEOUT_MS,
  );
});
