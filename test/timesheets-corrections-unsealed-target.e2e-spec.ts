import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ManualClock } from '@app/common';
import { LedgerService } from '@app/offline-sync';
import { MongoStore, Store } from '@app/persistence';
import { SealRefusals } from '@app/tlog';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite, phoneAt, punch, sync } from './support/timesheet-client';
import { canonicalJson, sha256Hex, syncBatch } from './support/worker-client';

/**
 * Review of smallfix, M2 and M3: a correction whose target is a link past the site's last
 * checkpoint that the server did not write (no store MAC, or one under a key this server does
 * not hold) is refused, and the check of the target changes nothing: the site's appends are not
 * refused because of it (only a seal that meets the link refuses them), and nothing is appended.
 */
describe('timesheet corrections: a target past the last checkpoint (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  let siteId: string;
  let phone: Awaited<ReturnType<typeof phoneAt>>;

  const correct = (body: Record<string, unknown>) =>
    http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      body: { reason: 'site register', ...body },
      key: t.keys.admin,
    });
  const ledger = () => t.app.get(LedgerService, { strict: false });
  const refusal = () => t.app.get(SealRefusals, { strict: false }).of(ledger().originOf(siteId));

  /**
   * Appends one link after the site's head, hashed and chained as the server does it, with the
   * given tag (none: untagged): written straight into the store. Returns its seq.
   */
  async function forgeHead(tag?: { mac: string; kid: string }): Promise<number> {
    if (t.config.database.driver === 'sqlite') {
      const db = new Database(join(t.dataDir, 'mdai.sqlite'));
      try {
        const last = db
          .prepare('SELECT * FROM attendance_logs WHERE site_id = ? ORDER BY seq DESC LIMIT 1')
          .get(siteId) as Record<string, any>;
        const seq = (last.seq as number) + 1;
        const data = {
          ...JSON.parse(last.data),
          packetId: randomUUID(),
          type: 'check_out',
          signature: randomBytes(32).toString('hex'),
        };
        const meta = JSON.parse(last.meta);
        const recordHash = sha256Hex(
          canonicalJson({ siteId, seq, prevHash: last.record_hash, data, meta }),
        );
        db.prepare(
          `INSERT INTO attendance_logs (site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta, mac, mac_kid)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          siteId,
          seq,
          data.packetId,
          data.deviceId,
          last.record_hash,
          recordHash,
          canonicalJson(data),
          canonicalJson(meta),
          tag?.mac ?? null,
          tag?.kid ?? null,
        );
        return seq;
      } finally {
        db.close();
      }
    }
    const logs = t.app.get<Store, MongoStore>(Store).connection.collection('attendance_logs');
    const [last] = await logs.find({ siteId }).sort({ seq: -1 }).limit(1).toArray();
    const { _id, mac, macKid, ...rest } = last;
    void [_id, mac, macKid];
    const seq = (last.seq as number) + 1;
    const data = {
      ...last.data,
      packetId: randomUUID(),
      type: 'check_out',
      signature: randomBytes(32).toString('hex'),
    };
    const recordHash = sha256Hex(
      canonicalJson({ siteId, seq, prevHash: last.recordHash, data, meta: last.meta }),
    );
    await logs.insertOne({
      ...rest,
      seq,
      packetId: data.packetId,
      prevHash: last.recordHash,
      recordHash,
      data,
      ...(tag ? { mac: tag.mac, macKid: tag.kid } : {}),
    });
    return seq;
  }

  /** An operator's restore: the forged link removed from the store. */
  async function removeLink(seq: number): Promise<void> {
    if (t.config.database.driver === 'sqlite') {
      const db = new Database(join(t.dataDir, 'mdai.sqlite'));
      try {
        db.exec('DROP TRIGGER IF EXISTS attendance_logs_append_only_delete');
        db.prepare('DELETE FROM attendance_logs WHERE site_id = ? AND seq = ?').run(siteId, seq);
      } finally {
        db.close();
      }
      return;
    }
    const logs = t.app.get<Store, MongoStore>(Store).connection.collection('attendance_logs');
    expect((await logs.deleteOne({ siteId, seq })).deletedCount).toBe(1);
  }

  beforeAll(async () => {
    t = await startTestApp({ SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 30) }, { clock });
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    clock.set('2026-03-20T06:00:00.000Z');
    const res = await sync(t.baseUrl, phone, [punch(phone, 'check_in', '2026-03-02T03:30:00Z')]);
    expect(res.accepted).toBe(1);
    // the read model caught up with that append before any link is forged: its catch-up, which
    // the append set going, read a link forged meanwhile and refused the site as the read path
    // does (seen on MongoDB, where it ran late), which is no correction's doing
    const read = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll?from=2026-03-02&to=2026-03-02`,
      { key: t.keys.auditor },
    );
    expect(read.status).toBe(200);
  });
  afterAll(async () => t.close());

  it('should refuse 503 timesheets_tampered an untagged target, append nothing, and leave the site unrefused', async () => {
    const forged = await forgeHead();
    const refused = await correct({ action: 'void', target: { siteId, seq: forged } });
    expect([refused.status, refused.body.code]).toEqual([503, 'timesheets_tampered']);
    // nothing appended: the head is the forged link still
    expect(await ledger().headSeq(siteId)).toBe(forged);
    // reading one link is no seal: the site's appends are not refused over it
    expect(refusal()).toBeUndefined();
    // the operator restores the store: the site's syncs are taken
    await removeLink(forged);
    const later = await syncBatch(t.baseUrl, phone.token, [
      punch(phone, 'check_out', '2026-03-02T11:30:00Z'),
    ]);
    expect(later.status).toBe(200);
    expect(later.body.accepted).toBe(1);
    expect(refusal()).toBeUndefined();
  });

  it('should answer 404 entry_not_found for a missing seq past the last checkpoint, refusing nothing', async () => {
    // seq head+1 does not exist, head+2 does (a forged link after a gap): the read is of head+1
    // exactly, never of the link after it
    const head = await ledger().headSeq(siteId);
    const missing = await forgeHead();
    const after = await forgeHead();
    await removeLink(missing);
    expect([missing, after]).toEqual([head + 1, head + 2]);
    const gapped = await correct({ action: 'void', target: { siteId, seq: missing } });
    expect([gapped.status, gapped.body.code]).toEqual([404, 'entry_not_found']);
    expect(refusal()).toBeUndefined();
    await removeLink(after);
  });

  it('should answer 503 timesheets_key_unavailable, retryable, for a target tagged under a key this server does not hold', async () => {
    const forged = await forgeHead({ mac: randomBytes(32).toString('base64'), kid: 'not-held' });
    const refused = await correct({ action: 'void', target: { siteId, seq: forged } });
    expect([refused.status, refused.body.code]).toEqual([503, 'timesheets_key_unavailable']);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.body.message).not.toMatch(/outside the server/);
    expect(await ledger().headSeq(siteId)).toBe(forged);
    expect(refusal()).toBeUndefined();
    await removeLink(forged);
  });

  it('should answer seq_gap for a link whose predecessor is missing, and refuse it as tampered', async () => {
    // review L5: the outcome of checkedLink for a link stored after a deleted one
    const before = await forgeHead();
    const after = await forgeHead();
    await removeLink(before);
    expect(await ledger().checkedLink(siteId, after)).toEqual({ fault: 'seq_gap' });
    const refused = await correct({ action: 'void', target: { siteId, seq: after } });
    expect([refused.status, refused.body.code]).toEqual([503, 'timesheets_tampered']);
    expect(refusal()).toBeUndefined();
    await removeLink(after);
  });

  it('should wait for a key not held 10 minutes per target, then refuse it as tampered', async () => {
    // review M3 of lv3mend: a made-up key id was answered 503 timesheets_key_unavailable for good
    const tag = () => ({ mac: randomBytes(32).toString('base64'), kid: 'made-up' });
    const first = await forgeHead(tag());
    const second = await forgeHead(tag());
    const codeOf = async (seq: number) => {
      const res = await correct({ action: 'void', target: { siteId, seq } });
      expect(res.status).toBe(503);
      return res.body.code as string;
    };
    expect(await codeOf(first)).toBe('timesheets_key_unavailable');
    clock.advance(9 * 60_000);
    expect(await codeOf(first)).toBe('timesheets_key_unavailable');
    // the second target's wait starts when a correction first meets it
    expect(await codeOf(second)).toBe('timesheets_key_unavailable');
    clock.advance(2 * 60_000);
    expect(await codeOf(first)).toBe('timesheets_tampered');
    expect(await codeOf(second)).toBe('timesheets_key_unavailable');
    clock.advance(9 * 60_000);
    expect(await codeOf(second)).toBe('timesheets_tampered');
    expect(await ledger().headSeq(siteId)).toBe(second);
    expect(refusal()).toBeUndefined();
    await removeLink(second);
    await removeLink(first);
  });
});
