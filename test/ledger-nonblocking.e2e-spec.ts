import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { StoreMac } from '@app/tlog';
import { UnsealedTailSweep } from '../apps/api/src/unsealed-tail-sweep';
import { http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import { readCheckpointNote, receiptProven } from './support/tlog-check';
import {
  canonicalJson,
  enrollPhone,
  Phone,
  sha256Hex,
  signPacket,
  syncBatch,
} from './support/worker-client';

const LINKS = 100_000;

/**
 * A chain of LINKS links of the phone's site written straight into the store, tagged as the
 * server tags its own (as a chain whose seals failed for long, or a deployment from before the
 * timesheet read model, has), the n-th packet timestamped `at(n)`.
 */
function writeChain(t: TestApp, phone: Phone, at: (seq: number) => string): void {
  const db = new Database(join(t.dataDir, 'mdai.sqlite'));
  const insert = db.prepare(
    'INSERT INTO attendance_logs (site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta, mac, mac_kid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  // tagged as the server tags its links (the chain stands for one the server wrote and never
  // sealed: a link without the tag is refused a checkpoint until ledger:seal-foreign)
  const mac = t.app.get(StoreMac);
  const meta = {
    isOfflineSync: true,
    syncTimestamp: '2026-01-01T00:00:00.000Z',
    deviceTrustScore: 50,
  };
  // packet ids are unique across sites: each chain has its own first group
  const chain = randomBytes(4).toString('hex');
  db.transaction(() => {
    let prev = '0'.repeat(64);
    for (let seq = 1; seq <= LINKS; seq++) {
      const packetId = `${chain}-0000-4000-8000-${String(seq).padStart(12, '0')}`;
      const data = {
        ...signPacket(phone, {
          packetId,
          type: seq % 2 === 1 ? 'check_in' : 'check_out',
          timestamp: at(seq),
        }).payload,
        signature: 'ab'.repeat(32),
      };
      const hash = sha256Hex(
        canonicalJson({ siteId: phone.siteId, seq, prevHash: prev, data, meta }),
      );
      insert.run(
        phone.siteId,
        seq,
        packetId,
        phone.deviceId,
        prev,
        hash,
        canonicalJson(data),
        canonicalJson(meta),
        mac.mac('ledger-link', hash),
        mac.kid,
      );
      prev = hash;
    }
  })();
  db.close();
}

/**
 * Sends /health one after another until `done` settles; returns how many answered 200 before,
 * counting only the answers read while `during()` holds (when given).
 */
async function healthWhile(
  t: TestApp,
  done: Promise<unknown>,
  during: () => boolean = () => true,
): Promise<number> {
  let settled = false;
  void done.finally(() => (settled = true));
  let answered = 0;
  while (!settled) {
    const res = await fetch(`${t.baseUrl}/health`);
    await res.arrayBuffer();
    if (res.status === 200 && !settled && during()) answered++;
  }
  return answered;
}

describe('the backlog seal, verify, export and the timesheet catch-up of a 100k-link ledger do not block the server (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
    // no unsealed-tail sweep while the spec runs (its start's waited for): a chain written
    // straight into the store is a tail the sweep seals (at its own size, a checkpoint of its
    // own) when it comes round between the write and the spec's sync, and the spec lasts
    // minutes on a loaded machine. The seal under test is the sync's, the only one.
    await t.app.get(UnsealedTailSweep).stop();
  });
  afterAll(async () => t.close());

  jest.setTimeout(300_000);

  itOnSqliteFile(
    'should answer /health while a 100k-link chain is sealed, verified and exported',
    async () => {
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      writeChain(t, phone, () => '2026-01-01T00:00:00.000Z');
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

  itOnSqliteFile(
    'should answer /health while the first sync after 100k links without a checkpoint seals them',
    async () => {
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      writeChain(t, phone, () => '2026-01-01T00:00:00.000Z');
      await new Promise((resolve) => setTimeout(resolve, 200));

      // the site's tree nodes, read from the file as the seal stores them
      const db = new Database(join(t.dataDir, 'mdai.sqlite'), { readonly: true });
      const nodes = db.prepare<[string], { n: number }>(
        `SELECT count(*) AS n FROM tlog_nodes
         WHERE log_id = (SELECT id FROM tlog_logs WHERE origin = ?)`,
      );
      const stored = () => nodes.get(`mdai.local/ledger/${phone.siteId}`)!.n;
      try {
        const synced = syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
        // answers read while some of the backlog's nodes were stored and some not: the seal
        // let the loop turn between its slices
        const midway = () => {
          const n = stored();
          return n > 0 && n < LINKS;
        };
        expect(await healthWhile(t, synced, midway)).toBeGreaterThan(0);
        const res = await synced;
        expect(res.status).toBe(200);
        expect(res.body.checkpoints[0].treeSize).toBe(LINKS + 1);
        const checkpoint = readCheckpointNote(res.body.checkpoints[0].note);
        expect(receiptProven(res.body.results[0], checkpoint)).toBe(true);
        // every perfect subtree of the 100,001-leaf tree: ⌊n / 2^level⌋ per level
        let perfect = 0;
        for (let width = LINKS + 1; width > 0; width = Math.floor(width / 2)) perfect += width;
        expect(stored()).toBe(perfect);
      } finally {
        db.close();
      }
    },
  );

  itOnSqliteFile(
    'should answer /health while the timesheet read model catches up over a 100k-link chain',
    async () => {
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      // the read model has never seen this site: its first read takes the whole chain
      const start = Date.parse('2026-01-01T00:00:00.000Z');
      writeChain(t, phone, (seq) => new Date(start + seq * 600_000).toISOString());
      await new Promise((resolve) => setTimeout(resolve, 200));

      // the read model's entries of the site, read from the file as the catch-up writes them
      const db = new Database(join(t.dataDir, 'mdai.sqlite'), { readonly: true });
      const entries = db.prepare<[string], { n: number }>(
        'SELECT count(*) AS n FROM timesheet_entries WHERE site_id = ?',
      );
      const stored = () => entries.get(phone.siteId)!.n;
      try {
        const read = http(
          t.baseUrl,
          'GET',
          `/api/v5/sites/${phone.siteId}/timesheets?from=2026-01-01&to=2026-01-31`,
          { key: t.keys.admin },
        );
        // answers read while some of the chain was taken and some not: the catch-up let the
        // loop turn between its pages
        const midway = () => {
          const n = stored();
          return n > 0 && n < LINKS;
        };
        expect(await healthWhile(t, read, midway)).toBeGreaterThan(0);
        const res = await read;
        expect(res.status).toBe(200);
        expect(stored()).toBe(LINKS);
        // 31 days of check-ins and check-outs every 10 minutes, one worker
        expect(res.body.days).toHaveLength(31);
      } finally {
        db.close();
      }
    },
  );
});
