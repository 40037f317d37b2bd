import Database from 'better-sqlite3';
import { join } from 'node:path';
import { ManualClock } from '@app/common';
import { MongoStore, Store } from '@app/persistence';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite, phoneAt, punch, sync } from './support/timesheet-client';
import { canonicalJson, sha256Hex } from './support/worker-client';

/**
 * A correction decides on its target's ledger link (its time, its worker) and pins it by its
 * recordHash: the link is read as the read model reads it (hashed again, chained, in the signed
 * tree or tagged), so one rewritten in the store (by someone who can write the database but
 * holds no TLOG_SIGNING_KEY) is refused, never corrected.
 */
describe('timesheet corrections: a target rewritten in the store (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  let siteId: string;
  let seqs: number[];

  const correct = (body: Record<string, unknown>) =>
    http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      body: { reason: 'site register', ...body },
      key: t.keys.admin,
    });

  /** The link's punch time changed and its recordHash hashed again, as the server hashes it. */
  async function rewriteTime(seq: number, timestamp: string): Promise<void> {
    if (t.config.database.driver === 'sqlite') {
      const db = new Database(join(t.dataDir, 'mdai.sqlite'));
      try {
        db.exec('DROP TRIGGER IF EXISTS attendance_logs_append_only_update');
        const row = db
          .prepare('SELECT * FROM attendance_logs WHERE site_id = ? AND seq = ?')
          .get(siteId, seq) as Record<string, string>;
        const data = { ...JSON.parse(row.data), timestamp };
        const meta = JSON.parse(row.meta);
        const recordHash = sha256Hex(
          canonicalJson({ siteId, seq, prevHash: row.prev_hash, data, meta }),
        );
        db.prepare(
          'UPDATE attendance_logs SET data = ?, record_hash = ? WHERE site_id = ? AND seq = ?',
        ).run(canonicalJson(data), recordHash, siteId, seq);
      } finally {
        db.close();
      }
      return;
    }
    const logs = t.app.get<Store, MongoStore>(Store).connection.collection('attendance_logs');
    const doc = (await logs.findOne({ siteId, seq }))!;
    const data = { ...doc.data, timestamp };
    const recordHash = sha256Hex(
      canonicalJson({ siteId, seq, prevHash: doc.prevHash, data, meta: doc.meta }),
    );
    const result = await logs.updateOne({ siteId, seq }, { $set: { data, recordHash } });
    expect(result.modifiedCount).toBe(1);
  }

  beforeAll(async () => {
    t = await startTestApp({ SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 30) }, { clock });
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    clock.set('2026-03-20T06:00:00.000Z');
    const res = await sync(t.baseUrl, phone, [
      punch(phone, 'check_in', '2026-03-02T03:30:00Z'),
      punch(phone, 'check_in', '2026-03-03T03:30:00Z'),
      punch(phone, 'check_in', '2026-03-04T03:30:00Z'),
    ]);
    expect(res.accepted).toBe(3);
    seqs = res.results.map((r) => r.seq!);
    // the read model holds the three punches as synced (a read catches it up)
    const days = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets?from=2026-03-02&to=2026-03-04&workerId=${phone.workerId}`,
      { key: t.keys.admin },
    );
    expect(days.status).toBe(200);
  });
  afterAll(async () => t.close());

  const retriedId = '5d0c7c1e-3a52-4d6f-9b8e-1f2a3b4c5d6e';

  it('should append a correction of the link later rewritten (its retry comes after the rewrite)', async () => {
    const first = await correct({
      action: 'add_check_out',
      target: { siteId, seq: seqs[1] },
      at: '2026-03-03T11:30:00.000Z',
      correctionId: retriedId,
    });
    expect(first.status).toBe(201);
  });

  it('should refuse 503 timesheets_tampered a correction of a sealed link rewritten in the store', async () => {
    // the check-in of 03-03 moved a day later, its hash recomputed: not in the signed tree
    await rewriteTime(seqs[1], '2026-03-04T01:30:00.000Z');
    const refused = await correct({
      action: 'add_check_out',
      target: { siteId, seq: seqs[1] },
      at: '2026-03-03T11:30:00.000Z',
    });
    expect([refused.status, refused.body.code]).toEqual([503, 'timesheets_tampered']);
    // the link after it no longer chains to it: refused as well
    const after = await correct({ action: 'void', target: { siteId, seq: seqs[2] } });
    expect([after.status, after.body.code]).toEqual([503, 'timesheets_tampered']);
    // the link before it is the server's, and is still corrected; an unknown seq is still 404
    const before = await correct({
      action: 'add_check_out',
      target: { siteId, seq: seqs[0] },
      at: '2026-03-02T11:30:00.000Z',
    });
    expect(before.status).toBe(201);
    const unknown = await correct({ action: 'void', target: { siteId, seq: 1000 } });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'entry_not_found']);
  });

  it('should not tell a retry of an appended correction that nothing was appended (review LOW 1)', async () => {
    // the target was rewritten after the correction was appended: the retry is refused at the
    // target's check, and the correction appended under its correctionId stays
    const retried = await correct({
      action: 'add_check_out',
      target: { siteId, seq: seqs[1] },
      at: '2026-03-03T11:30:00.000Z',
      correctionId: retriedId,
    });
    expect([retried.status, retried.body.code]).toEqual([503, 'timesheets_tampered']);
    expect(retried.body.message).not.toMatch(/nothing was appended/);
    expect(retried.body.message).toMatch(/this request appended nothing.*correctionId stays/);
  });
});
