import { randomBytes, randomUUID } from 'node:crypto';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { TimesheetProjector } from '@app/timesheets';
import { http, startTestApp, TestApp } from './support/test-app';
import { verifyLedger } from './support/ledger-client';
import { allTimesheetDays, createSite, phoneAt, punch, sync } from './support/timesheet-client';
import { canonicalJson, sha256Hex, syncBatch } from './support/worker-client';

/** A ledger link as stored, with its texts parsed (the same on both stores). */
interface StoredLink {
  siteId: string;
  seq: number;
  packetId: string;
  deviceId: string;
  prevHash: string;
  recordHash: string;
  data: Record<string, any>;
  meta: Record<string, any>;
  mac: string | null;
  macKid: string | null;
}

/**
 * The ledger's rows, read and written straight in the store (SQLite: the app's file; MongoDB:
 * its collection): what someone who can write the database but not read TLOG_SIGNING_KEY can do.
 */
function ledgerRows(t: TestApp) {
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    const logs = store.connection.collection('attendance_logs');
    return {
      async read(siteId: string, seq: number): Promise<StoredLink> {
        const { _id, ...doc } = (await logs.findOne({ siteId, seq }))!;
        return { ...(doc as any), mac: doc.mac ?? null, macKid: doc.macKid ?? null };
      },
      async write(link: StoredLink, replace: boolean): Promise<void> {
        const doc = {
          ...link,
          workerId: link.data.workerId,
          at: new Date(link.data.timestamp),
        };
        if (replace) await logs.replaceOne({ siteId: link.siteId, seq: link.seq }, doc);
        else await logs.insertOne(doc);
      },
    };
  }
  const db = (store as SqliteStore).db;
  return {
    async read(siteId: string, seq: number): Promise<StoredLink> {
      const row = db
        .prepare('SELECT * FROM attendance_logs WHERE site_id = ? AND seq = ?')
        .get(siteId, seq) as Record<string, any>;
      return {
        siteId,
        seq,
        packetId: row.packet_id,
        deviceId: row.device_id,
        prevHash: row.prev_hash,
        recordHash: row.record_hash,
        data: JSON.parse(row.data),
        meta: JSON.parse(row.meta),
        mac: row.mac,
        macKid: row.mac_kid,
      };
    },
    async write(link: StoredLink, replace: boolean): Promise<void> {
      db.prepare(
        `INSERT ${replace ? 'OR REPLACE ' : ''}INTO attendance_logs (site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta, mac, mac_kid)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        link.siteId,
        link.seq,
        link.packetId,
        link.deviceId,
        link.prevHash,
        link.recordHash,
        canonicalJson(link.data),
        canonicalJson(link.meta),
        link.mac,
        link.macKid,
      );
    },
  };
}

/** The recordHash the ledger gives a link (JCS of siteId, seq, prevHash, data, meta). */
function hashOf(link: StoredLink): string {
  const { siteId, seq, prevHash, data, meta } = link;
  return sha256Hex(canonicalJson({ siteId, seq, prevHash, data, meta }));
}

/** The seqs the site's timesheet days pay (from two days ago to tomorrow). */
async function paidSeqs(t: TestApp, siteId: string): Promise<number[]> {
  const to = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const from = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
  const days = await allTimesheetDays(t.baseUrl, t.keys.admin, siteId, `from=${from}&to=${to}`);
  return days.flatMap((d) => d.seqs as number[]);
}

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
/** Punches within the phones' token window (enrolled just before, with the clock skew allowed). */
const UNIT = 30_000;

/**
 * Review T3, H-A: a link's store MAC covers its recordHash, so a link written into the store
 * with forged data and a genuine link's record_hash, prev_hash, mac and mac_kid carried a valid
 * tag: the read model paid it and the next seal signed it. The server now hashes such a link
 * again from its stored texts and checks that it chains to the link before it.
 *
 * Review T3, M-1: a re-read of the chain from 0 (a rebuild, a reset, a gap) projected the links
 * a checkpoint covers as stored. A sealed link rewritten in the store, its hash recomputed and
 * the link after it chained to it again, is now out of the signed tree: the read model stops
 * before it.
 *
 * One app (Nest's logger is shared by the apps of a process): the sealed link's case makes
 * /health degraded (`timesheets`), the forged link's case too (`logs`).
 */
describe('ledger links with copied tags, or rewritten after their seal (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
  });
  afterAll(async () => t.close());

  it('should not pay a rewritten sealed link after a rebuild, nor the links after it', async () => {
    const { siteId } = await createSite(t.baseUrl, t.keys.admin);
    const asha = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const bina = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    await sync(t.baseUrl, asha, [
      punch(asha, 'check_in', ago(5 * UNIT)),
      punch(asha, 'check_out', ago(4 * UNIT)),
    ]);
    await sync(t.baseUrl, bina, [punch(bina, 'check_in', ago(2 * UNIT))]);
    expect(await paidSeqs(t, siteId)).toEqual(expect.arrayContaining([1, 2, 3]));

    // Asha's check-out moved three minutes later, its hash recomputed, Bina's link chained to it
    const rows = ledgerRows(t);
    const checkOut = await rows.read(siteId, 2);
    checkOut.data.timestamp = ago(UNIT);
    checkOut.recordHash = hashOf(checkOut);
    await rows.write(checkOut, true);
    const next = await rows.read(siteId, 3);
    next.prevHash = checkOut.recordHash;
    next.recordHash = hashOf(next);
    await rows.write(next, true);

    await t.app.get(TimesheetProjector).rebuildSite(siteId);
    // nothing paid without the links from it on (review LV #4): 503 until it is put back
    const to = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const read = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets?from=${to}&to=${to}`,
      {
        key: t.keys.admin,
      },
    );
    expect([read.status, read.body?.code]).toEqual([503, 'timesheets_ledger_unverified']);
    expect((await verifyLedger(t, siteId)).ok).toBe(false);
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    // reported, not degrading (review M4): the replicas stay in rotation
    expect(health.status).toBe(200);
    expect(health.body.details.timesheets.stoppedSites).toEqual([
      expect.objectContaining({ siteId, seq: 2, reason: 'not_in_checkpoint' }),
    ]);
    expect(t.logs()).toContain('"reason":"not_in_checkpoint"');
  });

  it('should refuse to seal a forged link carrying a copied tag (503), name it in verify and /health, and never pay it', async () => {
    const { siteId } = await createSite(t.baseUrl, t.keys.admin);
    const asha = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    await sync(t.baseUrl, asha, [punch(asha, 'check_in', ago(3 * UNIT))]);
    const rows = ledgerRows(t);
    const genuine = await rows.read(siteId, 1);
    expect(genuine.mac).toEqual(expect.any(String));

    // Asha's check-out and a second shift, forged, each with the genuine link's hash and tag
    const forged = [
      { type: 'check_out', at: ago(UNIT) },
      { type: 'check_in', at: ago(UNIT - 60_000) },
    ];
    for (const [i, { type, at }] of forged.entries()) {
      const packetId = randomUUID();
      await rows.write(
        {
          ...genuine,
          seq: 2 + i,
          packetId,
          data: {
            ...genuine.data,
            packetId,
            type,
            timestamp: at,
            signature: randomBytes(32).toString('hex'),
          },
        },
        false,
      );
    }

    // the next sync's seal reads the forged links (not in hand) and refuses them
    const bina = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const refused = await syncBatch(t.baseUrl, bina.token, [punch(bina, 'check_in', ago(5_000))]);
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('ledger_unauthenticated_entry');
    const checkpoint = await http(t.baseUrl, 'GET', `/api/v5/ledger/${siteId}/checkpoint`, {
      key: t.keys.auditor,
    });
    expect(checkpoint.body.size ?? checkpoint.body.treeSize).toBe(1);
    expect(await verifyLedger(t, siteId)).toMatchObject({ ok: false, brokenAtSeq: 2 });
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(503);
    expect(health.body.error.logs.unauthenticatedEntries).toEqual([
      { log: 'ledger', siteId, seq: 2, reason: 'record_hash_mismatch' },
    ]);

    // the read model stops before the first forged link, on a catch-up and on a re-read
    expect(await paidSeqs(t, siteId)).toEqual([1]);
    await t.app.get(TimesheetProjector).rebuildSite(siteId);
    expect(await paidSeqs(t, siteId)).toEqual([1]);
  });
});
