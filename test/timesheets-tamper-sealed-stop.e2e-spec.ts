import { ManualClock } from '@app/common';
import { LedgerService } from '@app/offline-sync';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { TimesheetProjector } from '@app/timesheets';
import { gauge, http, startTestApp, TestApp } from './support/test-app';
import { paidSeqsOf, sealedThreeLinkSite, timesheetsOf } from './support/shifts';
import { canonicalJson, sha256Hex } from './support/worker-client';

/** A ledger link as stored, with its texts parsed (the same on both stores). */
type StoredLink = Record<string, any> & {
  siteId: string;
  seq: number;
  prevHash: string;
  recordHash: string;
  data: Record<string, any>;
  meta: Record<string, any>;
};

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
        return doc as StoredLink;
      },
      async write(link: StoredLink): Promise<void> {
        const doc = { ...link, workerId: link.data.workerId, at: new Date(link.data.timestamp) };
        await logs.replaceOne({ siteId: link.siteId, seq: link.seq }, doc);
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
        row,
        siteId,
        seq,
        prevHash: row.prev_hash,
        recordHash: row.record_hash,
        data: JSON.parse(row.data),
        meta: JSON.parse(row.meta),
      };
    },
    // the table refuses UPDATE and DELETE (triggers); a REPLACE is what a writer does
    async write(link: StoredLink): Promise<void> {
      const row: Record<string, unknown> = {
        ...link.row,
        prev_hash: link.prevHash,
        record_hash: link.recordHash,
        data: canonicalJson(link.data),
        meta: canonicalJson(link.meta),
      };
      const columns = Object.keys(row);
      db.prepare(
        `INSERT OR REPLACE INTO attendance_logs (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
      ).run(...columns.map((c) => row[c]));
    },
  };
}

/** The recordHash the ledger gives a link (JCS of siteId, seq, prevHash, data, meta). */
function hashOf(link: StoredLink): string {
  const { siteId, seq, prevHash, data, meta } = link;
  return sha256Hex(canonicalJson({ siteId, seq, prevHash, data, meta }));
}

const DAY = '2026-03-02';
const at = (hour: number) => new Date(Date.parse(`${DAY}T00:00:00.000Z`) + hour * 3_600_000);

/**
 * Review LV #4: a sealed ledger link that fails its check (rewritten in the database after its
 * seal) stopped the site's read model silently: its reads answered 200 without the punches from
 * it on, nothing on /health or /metrics, and every catch-up read and proved the failing page
 * again. The stop is now remembered: the site's reads answer 503
 * timesheets_ledger_unverified, /health names the site and seq (up: review M4), a gauge counts
 * the sites, the link is read again only when its stored row changes (or once a minute), and a
 * link put back as sealed clears it all by itself. Other sites keep working.
 */
describe('timesheet read model: a sealed ledger link that fails its check (e2e)', () => {
  let t: TestApp;
  const clock = new ManualClock();
  beforeAll(async () => {
    t = await startTestApp({}, { clock });
  });
  afterAll(async () => t.close());

  const timesheets = (siteId: string) => timesheetsOf(t, siteId, DAY);
  const paidSeqs = (siteId: string) => paidSeqsOf(t, siteId, DAY);
  /** A site whose three links (Asha's shift, Bina's check-in) are sealed and paid. */
  const sealedSite = () => sealedThreeLinkSite(t, DAY);

  async function health() {
    return http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
  }

  it('should answer 503, degrade /health naming the site and seq, not re-read the link, and clear once the links are put back', async () => {
    const siteId = await sealedSite();
    const other = await sealedSite();
    // Asha's check-out moved two hours later, its hash recomputed, Bina's link chained to it
    const rows = ledgerRows(t);
    const saved = [await rows.read(siteId, 2), await rows.read(siteId, 3)];
    const checkOut = await rows.read(siteId, 2);
    checkOut.data.timestamp = at(18).toISOString();
    checkOut.recordHash = hashOf(checkOut);
    await rows.write(checkOut);
    const next = await rows.read(siteId, 3);
    next.prevHash = checkOut.recordHash;
    next.recordHash = hashOf(next);
    await rows.write(next);
    // the read model re-reads the chain (a rebuild: the same as a reset or a gap)
    await t.app.get(TimesheetProjector).rebuildSite(siteId);

    const res = await timesheets(siteId);
    expect([res.status, res.body?.code]).toEqual([503, 'timesheets_ledger_unverified']);
    expect(res.body.message).toContain('link 2');
    const payroll = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll?from=${DAY}&to=${DAY}`,
      { key: t.keys.auditor },
    );
    expect([payroll.status, payroll.body?.code]).toEqual([503, 'timesheets_ledger_unverified']);
    // a correction's rules read the model: refused, nothing appended
    const correction = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      body: { action: 'void', target: { siteId, seq: 1 }, reason: 'worked at another site' },
      key: t.keys.admin,
    });
    expect([correction.status, correction.body?.code]).toEqual([
      503,
      'timesheets_ledger_unverified',
    ]);
    // reported, not degrading (review M4): a database writer rewriting one sealed link would
    // otherwise take every replica out of a load balancer's rotation
    const degraded = await health();
    expect(degraded.status).toBe(200);
    expect(degraded.body.details.timesheets).toMatchObject({
      status: 'up',
      stoppedSites: [{ siteId, seq: 2, reason: 'not_in_checkpoint', since: expect.any(String) }],
    });
    expect(JSON.stringify(degraded.body.details.timesheets)).not.toContain(checkOut.recordHash);
    expect(await gauge(t.baseUrl, 'mdai_timesheet_sites_stopped')).toBe(1);
    // the other site keeps working
    expect(await paidSeqs(other)).toEqual([1, 2, 3]);

    // reads of the stopped site do not read and prove its chain again
    const ledger = t.app.get(LedgerService);
    const reads = jest.spyOn(ledger, 'readAuthenticatedChain');
    try {
      for (let i = 0; i < 3; i++) expect((await timesheets(siteId)).status).toBe(503);
      expect(reads.mock.calls.filter(([site]) => site === siteId)).toEqual([]);
    } finally {
      reads.mockRestore();
    }

    // the links put back as sealed: the next read checks the changed link again and pays all
    for (const link of saved) await rows.write(link);
    expect(await paidSeqs(siteId)).toEqual([1, 2, 3]);
    expect((await health()).body.details.timesheets.stoppedSites).toBeUndefined();
    expect(await gauge(t.baseUrl, 'mdai_timesheet_sites_stopped')).toBe(0);
  });

  it('should check a link whose stored recordHash did not change again once a minute', async () => {
    const siteId = await sealedSite();
    // Asha's check-out moved, its recordHash left as it was
    const rows = ledgerRows(t);
    const saved = await rows.read(siteId, 2);
    const changed = await rows.read(siteId, 2);
    changed.data.timestamp = at(18).toISOString();
    await rows.write(changed);
    await t.app.get(TimesheetProjector).rebuildSite(siteId);
    expect((await timesheets(siteId)).body.code).toBe('timesheets_ledger_unverified');
    expect((await health()).body.details.timesheets.stoppedSites).toEqual([
      expect.objectContaining({ siteId, seq: 2, reason: 'record_hash_mismatch' }),
    ]);

    // put back: the stored recordHash is the same, so it is read again only after a minute
    await rows.write(saved);
    expect((await timesheets(siteId)).body.code).toBe('timesheets_ledger_unverified');
    clock.advance(61_000);
    expect(await paidSeqs(siteId)).toEqual([1, 2, 3]);
    expect((await health()).body.details.timesheets.stoppedSites).toBeUndefined();
  });
});
