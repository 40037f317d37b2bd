import Database from 'better-sqlite3';
import { join } from 'node:path';
import { http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import {
  canonicalJson,
  enrollPhone,
  sha256Hex,
  signPacket,
  syncBatch,
} from './support/worker-client';

const LINKS = 100_000;

/** Sends /health one after another until `done` settles; returns how many answered 200 before. */
async function healthWhile(t: TestApp, done: Promise<unknown>): Promise<number> {
  let settled = false;
  void done.finally(() => (settled = true));
  let answered = 0;
  while (!settled) {
    const res = await fetch(`${t.baseUrl}/health`);
    await res.arrayBuffer();
    if (res.status === 200 && !settled) answered++;
  }
  return answered;
}

describe('verify and export of a 100k-link ledger do not block the server (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
  });
  afterAll(async () => t.close());

  jest.setTimeout(300_000);

  itOnSqliteFile(
    'should answer /health while a 100k-link chain is sealed, verified and exported',
    async () => {
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      // a long chain written straight into the store (as a deployment from before the tlog has)
      const db = new Database(join(t.dataDir, 'mdai.sqlite'));
      const insert = db.prepare(
        'INSERT INTO attendance_logs (site_id, seq, packet_id, prev_hash, record_hash, data, meta) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      const meta = {
        isOfflineSync: true,
        syncTimestamp: '2026-01-01T00:00:00.000Z',
        deviceTrustScore: 50,
      };
      db.transaction(() => {
        let prev = '0'.repeat(64);
        for (let seq = 1; seq <= LINKS; seq++) {
          const packetId = `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`;
          const data = {
            ...signPacket(phone, { packetId, timestamp: '2026-01-01T00:00:00.000Z' }).payload,
            signature: 'ab'.repeat(32),
          };
          const hash = sha256Hex(
            canonicalJson({ siteId: phone.siteId, seq, prevHash: prev, data, meta }),
          );
          insert.run(
            phone.siteId,
            seq,
            packetId,
            prev,
            hash,
            canonicalJson(data),
            canonicalJson(meta),
          );
          prev = hash;
        }
      })();
      db.close();
      // the insert held this process (server included) for seconds: let idle keep-alive sockets
      // that timed out meanwhile close before the next request
      await new Promise((resolve) => setTimeout(resolve, 200));

      // the first sync seals the whole backlog into the tree
      const synced = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
      expect(synced.status).toBe(200);
      expect(synced.body.checkpoints[0].treeSize).toBe(LINKS + 1);

      const verify = http(t.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/verify`, {
        key: t.keys.auditor,
      });
      expect(await healthWhile(t, verify)).toBeGreaterThan(0);
      expect((await verify).body).toMatchObject({
        ok: true,
        length: LINKS + 1,
        checkpointsChecked: 1,
      });

      const exported = fetch(`${t.baseUrl}/api/v5/ledger/${phone.siteId}/export`, {
        headers: { 'x-api-key': t.keys.auditor },
      }).then((res) => res.text());
      expect(await healthWhile(t, exported)).toBeGreaterThan(0);
      expect((await exported).split('\n').filter(Boolean)).toHaveLength(LINKS + 1);
    },
  );
});
