import type Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LedgerService } from '@app/offline-sync';
import { MongoStore, Store } from '@app/persistence';
import { TransparencyLogService } from '@app/tlog';
import { restartApp, withStoreFile } from './support/tamper';
import { http, itOnSqliteFile, pollUntil, startTestApp, TestApp } from './support/test-app';
import {
  checkpointSignedBy,
  consistencyHolds,
  inclusionHolds,
  receiptProven,
  leafOf,
  readCheckpointNote,
} from './support/tlog-check';
import { enrollPhone, Phone, signPacket, syncBatch } from './support/worker-client';
import { fill, rewriteChain, verifyLedger } from './support/ledger-client';
import { jpegBytes } from './support/image-bytes';

/** A consistent rewrite from `seq`: that link's punch type flipped, the rest re-hashed. */
function rewriteFrom(db: Database.Database, siteId: string, seq: number): void {
  rewriteChain(db, siteId, seq, (data, at) =>
    at === seq ? { ...data, type: data.type === 'check_in' ? 'check_out' : 'check_in' } : data,
  );
}

describe('ledger transparency log (e2e)', () => {
  let t: TestApp;
  let logKey: string;
  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0', SYNC_MAX_OFFLINE_AGE_HOURS: '48' });
    const keys = await http(t.baseUrl, 'GET', '/api/v5/tlog/keys');
    expect(keys.status).toBe(200);
    logKey = keys.body.keys.find((k: any) => k.status === 'active').publicKey;
  });
  afterAll(async () => t.close());

  it('should hand back a receipt per accepted packet that an independent RFC 9162 client verifies', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const [first, second] = await fill(t, phone, 2, 5);
    for (const body of [first, second]) {
      expect(body.checkpoints).toHaveLength(1);
      const note = body.checkpoints[0].note as string;
      const cp = readCheckpointNote(note);
      expect(cp.origin).toBe(`mdai.local/ledger/${phone.siteId}`);
      expect(checkpointSignedBy(note, logKey)).toBe(true);
      expect(cp.size).toBe(body.checkpoints[0].treeSize);
      for (const r of body.results) {
        expect(r.receipt.leafHash).toBe(leafOf(r.recordHash).toString('hex'));
        expect(r.receipt.treeSize).toBe(cp.size);
        expect(receiptProven(r, cp)).toBe(true);
      }
    }
    // a checkpoint after every batch, each an append-only extension of the one before
    const one = readCheckpointNote(first.checkpoints[0].note);
    const two = readCheckpointNote(second.checkpoints[0].note);
    expect([one.size, two.size]).toEqual([5, 10]);
    const proof = await http(
      t.baseUrl,
      'GET',
      `/api/v5/ledger/${phone.siteId}/proof/consistency?first=5&second=10`,
      { key: t.keys.auditor },
    );
    expect(proof.status).toBe(200);
    expect(consistencyHolds(5, 10, one.root, two.root, proof.body.proof)).toBe(true);
    // inclusion proof by (packetId, deviceId) and by seq, against an older tree size
    const byPacket = await http(
      t.baseUrl,
      'GET',
      `/api/v5/ledger/${phone.siteId}/proof/inclusion?packetId=${first.results[2].packetId}&deviceId=${phone.deviceId}&treeSize=5`,
      { key: t.keys.auditor },
    );
    expect(byPacket.status).toBe(200);
    expect(byPacket.body.checkpoint).toBe(first.checkpoints[0].note);
    expect(
      inclusionHolds(
        2,
        5,
        leafOf(first.results[2].recordHash),
        byPacket.body.inclusionProof,
        one.root,
      ),
    ).toBe(true);
    const bySeq = await http(
      t.baseUrl,
      'GET',
      `/api/v5/ledger/${phone.siteId}/proof/inclusion?seq=7`,
      {
        key: t.keys.auditor,
      },
    );
    expect(bySeq.body).toMatchObject({
      seq: 7,
      treeSize: 10,
      recordHash: second.results[1].recordHash,
    });
    const bad = await http(
      t.baseUrl,
      'GET',
      `/api/v5/ledger/${phone.siteId}/proof/inclusion?seq=7&treeSize=99`,
      {
        key: t.keys.auditor,
      },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_proof_request');
    const latest = await http(t.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/checkpoint`, {
      key: t.keys.auditor,
    });
    expect(latest.body).toMatchObject({ treeSize: 10, note: second.checkpoints[0].note });
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({
      ok: true,
      length: 10,
      checkpointsChecked: 2,
    });
  });

  it('should give duplicates their receipts again, so a phone that lost the answer can retry', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const packets = Array.from({ length: 3 }, () => signPacket(phone));
    const once = await syncBatch(t.baseUrl, phone.token, packets);
    const twice = await syncBatch(t.baseUrl, phone.token, packets);
    expect(twice.body.duplicates).toBe(3);
    const cp = readCheckpointNote(twice.body.checkpoints[0].note);
    for (const [i, r] of twice.body.results.entries()) {
      expect(r.seq).toBe(once.body.results[i].seq);
      expect(receiptProven(r, cp)).toBe(true);
    }
    const none = await http(t.baseUrl, 'POST', '/api/v5/sync?receipts=false', {
      headers: { authorization: `Bearer ${phone.token}` },
      body: { packets },
    });
    expect(none.body.checkpoints).toBeUndefined();
    expect(none.body.results[0].receipt).toBeUndefined();
  });

  it('should answer a batch sent again with the same receipts, and a batch mixing duplicates, new packets and a conflict packet by packet', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const packets = Array.from({ length: 20 }, () => signPacket(phone));
    const once = await syncBatch(t.baseUrl, phone.token, packets);
    expect(once.body.accepted).toBe(20);
    const twice = await syncBatch(t.baseUrl, phone.token, packets);
    expect(twice.status).toBe(200);
    expect(twice.body).toMatchObject({ accepted: 0, duplicates: 20, rejected: 0 });
    // nothing was appended in between: the same checkpoint, the same receipts
    expect(twice.body.checkpoints).toEqual(once.body.checkpoints);
    expect(twice.body.results).toEqual(
      once.body.results.map((r: any) => ({ ...r, status: 'duplicate' })),
    );

    // a duplicate first, then new packets, duplicates, a copy of a new one, a conflict
    const fresh = [signPacket(phone), signPacket(phone)];
    const forged = signPacket(phone, { packetId: packets[3].payload.packetId, type: 'check_out' });
    const mixed = [packets[0], fresh[0], packets[1], fresh[1], fresh[0], forged, packets[2]];
    const res = await syncBatch(t.baseUrl, phone.token, mixed);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, duplicates: 4, rejected: 1 });
    expect(res.body.results.map((r: any) => [r.packetId, r.status, r.seq ?? r.reason])).toEqual([
      [packets[0].payload.packetId, 'duplicate', once.body.results[0].seq],
      [fresh[0].payload.packetId, 'accepted', 21],
      [packets[1].payload.packetId, 'duplicate', once.body.results[1].seq],
      [fresh[1].payload.packetId, 'accepted', 22],
      [fresh[0].payload.packetId, 'duplicate', 21],
      [forged.payload.packetId, 'rejected', 'packet_id_conflict'],
      [packets[2].payload.packetId, 'duplicate', once.body.results[2].seq],
    ]);
    const cp = readCheckpointNote(res.body.checkpoints[0].note);
    expect(cp.size).toBe(22);
    for (const r of res.body.results.filter((r: any) => r.status !== 'rejected')) {
      expect(receiptProven(r, cp)).toBe(true);
    }
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({ ok: true, length: 22 });
  });

  itOnSqliteFile(
    '(item 1) should fail verify after a link is edited, the rest re-hashed and every checkpoint row deleted',
    async () => {
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 7, 50);
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({
        ok: true,
        length: 350,
        checkpointsChecked: 7,
      });
      withStoreFile(t, (db) => {
        rewriteFrom(db, phone.siteId, 150);
        db.exec('DELETE FROM tlog_checkpoints');
      });
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({
        ok: false,
        length: 350,
        reason: 'checkpoint_missing',
        checkpointsChecked: 0,
      });
      // even with the witness file gone too: appended batches without a checkpoint fail
      rmSync(t.config.tlog.witnessFile, { force: true });
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({
        ok: false,
        brokenAtSeq: 1,
        reason: 'checkpoint_missing',
      });
    },
  );

  itOnSqliteFile(
    '(item 1) should fail verify after a consistent rewrite that keeps the checkpoint rows',
    async () => {
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 3, 20);
      withStoreFile(t, (db) => rewriteFrom(db, phone.siteId, 30));
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({
        ok: false,
        length: 60,
        brokenAtSeq: 40,
        reason: 'checkpoint_mismatch',
      });
    },
  );

  itOnSqliteFile(
    '(item 2) should fail verify when the tail is cut, with or without its checkpoint rows',
    async () => {
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      const bodies = await fill(t, phone, 7, 50);
      // the phone keeps the receipt of a packet of the last batch
      const kept = bodies[6].results[39];
      const keptCheckpoint = bodies[6].checkpoints[0].note as string;
      const origin = readCheckpointNote(keptCheckpoint).origin;
      withStoreFile(t, (db) => {
        db.exec('DROP TRIGGER IF EXISTS attendance_logs_append_only_delete');
        db.prepare('DELETE FROM attendance_logs WHERE site_id = ? AND seq > 300').run(phone.siteId);
      });
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({
        ok: false,
        length: 300,
        brokenAtSeq: 301,
        reason: 'tail_cut',
      });
      withStoreFile(t, (db) =>
        db
          .prepare(
            'DELETE FROM tlog_checkpoints WHERE size > 300 AND log_id = (SELECT id FROM tlog_logs WHERE origin = ?)',
          )
          .run(origin),
      );
      // the witness file outside the store still holds the checkpoint of 350
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({
        ok: false,
        brokenAtSeq: 301,
        reason: 'tail_cut',
      });
      const witness = readFileSync(t.config.tlog.witnessFile, 'utf8');
      expect(witness).toContain(JSON.stringify(keptCheckpoint));

      // (receipt) without the server's help, the phone's stored receipt proves the truncation:
      // a checkpoint signed by the log key says the tree had 350 entries and that its packet
      // is entry 340; the server now shows a smaller tree and no such link
      expect(checkpointSignedBy(keptCheckpoint, logKey)).toBe(true);
      const signed = readCheckpointNote(keptCheckpoint);
      expect(signed.size).toBe(350);
      expect(kept.receipt.seq).toBe(340);
      expect(receiptProven(kept, signed)).toBe(true);
      const now = await http(t.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/checkpoint`, {
        key: t.keys.auditor,
      });
      expect(now.body.treeSize).toBeLessThan(signed.size);
      const lines = (
        await (
          await fetch(`${t.baseUrl}/api/v5/ledger/${phone.siteId}/export`, {
            headers: { 'x-api-key': t.keys.auditor },
          })
        ).text()
      )
        .split('\n')
        .filter(Boolean);
      expect(lines).toHaveLength(300);
      expect(lines.some((l) => l.includes(kept.packetId))).toBe(false);
    },
  );

  it('should refuse proof requests that are malformed or out of range', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    await fill(t, phone, 1, 2);
    const q = (query: string) =>
      http(t.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/proof/${query}`, {
        key: t.keys.auditor,
      });
    expect((await q('inclusion')).body.code).toBe('invalid_proof_request');
    expect((await q('inclusion?seq=1&packetId=00000000-0000-4000-8000-000000000000')).status).toBe(
      400,
    );
    expect((await q('inclusion?seq=9')).status).toBe(404);
    expect((await q('consistency?first=2&second=1')).status).toBe(400);
    expect((await q('consistency?first=1&second=3')).status).toBe(400);
    expect((await q('consistency?first=x&second=1')).status).toBe(400);
    const anon = await http(t.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/checkpoint`);
    expect(anon.status).toBe(401);
  });
});

describe('ledger and vault audit when the witness file cannot be written (e2e)', () => {
  let t: TestApp;
  let dir: string;
  /** A file where the witness file's directory should be: every append fails. */
  const block = () => {
    rmSync(join(dir, 'blocked'), { recursive: true, force: true });
    writeFileSync(join(dir, 'blocked'), 'a file where a directory should be');
  };
  const unblock = () => {
    rmSync(join(dir, 'blocked'));
    mkdirSync(join(dir, 'blocked'));
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-witness-'));
    block();
    t = await startTestApp({
      TRUST_AUTO_BLOCK_FLOOR: '0',
      TLOG_WITNESS_FILE: join(dir, 'blocked', 'witness.ndjson'),
    });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should keep the packets, answer 503 checkpoint_unavailable, and give receipts once the disk is back', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const packets = [signPacket(phone), signPacket(phone)];
    const refused = await syncBatch(t.baseUrl, phone.token, packets);
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('checkpoint_unavailable');
    unblock();
    const retried = await syncBatch(t.baseUrl, phone.token, packets);
    expect(retried.status).toBe(200);
    // MongoDB: the failed sync released its batch's pending marker (nothing was screened), so
    // the re-send takes it over and answers the stored packets `accepted`; SQLite: `duplicate`
    const mongo = t.app.get(Store) instanceof MongoStore;
    expect([retried.body.accepted, retried.body.duplicates]).toEqual(mongo ? [2, 0] : [0, 2]);
    expect(retried.body.results[1].receipt).toMatchObject({ seq: 2, treeSize: 2 });
    expect(readFileSync(join(dir, 'blocked', 'witness.ndjson'), 'utf8')).toContain(
      `mdai.local/ledger/${phone.siteId}`,
    );
  });

  it('should hand appended links to the read models after their seal, and when the seal fails', async () => {
    const ledger = t.app.get(LedgerService);
    const tlog = t.app.get(TransparencyLogService);
    block(); // whatever ran before: then a writable directory
    unblock();
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    // what the read models are given, and how far the site's log was sealed at that moment
    const handed: { seqs: number[]; sealedSize: number }[] = [];
    ledger.onAppended(async (links) => {
      if (links[0].siteId !== phone.siteId) return;
      const latest = await tlog.latest(ledger.originOf(phone.siteId));
      handed.push({ seqs: links.map((l) => l.seq), sealedSize: latest?.size ?? 0 });
    });
    const sealed = await syncBatch(t.baseUrl, phone.token, [signPacket(phone), signPacket(phone)]);
    expect(sealed.status).toBe(200);
    block();
    const refused = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    unblock();
    expect([refused.status, refused.body.code]).toEqual([503, 'checkpoint_unavailable']);
    expect(handed).toEqual([
      { seqs: [1, 2], sealedSize: 2 },
      { seqs: [3], sealedSize: 2 },
    ]);
    // sealed again in the background (the next test counts the logs left unsealed)
    const verified = await pollUntil(
      () => verifyLedger(t, phone.siteId),
      (body) => body.ok,
    );
    expect(verified).toMatchObject({ ok: true, length: 3 });
  });

  it('should seal the stored packets by itself once the disk is back, with no batch sent again', async () => {
    const unsealed = async () =>
      Number(
        /mdai_tlog_unsealed_logs (\d+)/.exec(
          String((await http(t.baseUrl, 'GET', '/metrics')).body),
        )?.[1],
      );
    block();
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const refused = await syncBatch(t.baseUrl, phone.token, [signPacket(phone), signPacket(phone)]);
    expect([refused.status, refused.body.code]).toEqual([503, 'checkpoint_unavailable']);
    expect(await unsealed()).toBe(1);
    unblock();
    // the phone never comes back: the server seals the stored packets in the background
    const verified = await pollUntil(
      () => verifyLedger(t, phone.siteId),
      (body) => body.ok,
    );
    expect(verified).toMatchObject({ ok: true, length: 2, checkpointsChecked: 1 });
    expect(await unsealed()).toBe(0);
  });

  it('should seal by itself every site of a batch that spans two sites', async () => {
    const site = async () =>
      (
        await http(t.baseUrl, 'POST', '/api/v5/sites', {
          key: t.keys.admin,
          body: { name: 'Tower C', geo: { lat: 28.6139, lng: 77.209 }, radiusM: 150 },
        })
      ).body.siteId as string;
    const [first, second] = [await site(), await site()];
    const worker = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Ravi Kumar', phone: '+91 98100 00002', siteIds: [first, second] },
    });
    const reg = await http(t.baseUrl, 'POST', '/api/v5/device/register', {
      body: {
        enrollmentCode: worker.body.enrollmentCode,
        fingerprint: { os: 'Android 14', model: 'Redmi Note 12', simHash: 'f00dfeedcafe0002' },
      },
    });
    expect(reg.status).toBe(201);
    const phone: Phone = {
      deviceId: reg.body.deviceId,
      workerId: worker.body.workerId,
      siteId: first,
      secret: Buffer.from(reg.body.deviceSecret, 'base64'),
      token: reg.body.offlineToken,
      tokenExpiresAt: reg.body.offlineTokenExpiresAt,
      trustScore: reg.body.trustScore,
    };
    block();
    const refused = await syncBatch(t.baseUrl, phone.token, [
      signPacket(phone),
      signPacket(phone, { siteId: second }),
    ]);
    expect([refused.status, refused.body.code]).toEqual([503, 'checkpoint_unavailable']);
    unblock();
    // the phone never comes back: both sites' packets are sealed in the background
    for (const siteId of [first, second]) {
      const verified = await pollUntil(
        () => verifyLedger(t, siteId),
        (body) => body.ok,
      );
      expect(verified).toMatchObject({ ok: true, length: 1, checkpointsChecked: 1 });
    }
  });

  it('should refuse vault access, then seal the audit record by itself once the disk is back', async () => {
    block();
    const upload = await http(t.baseUrl, 'POST', '/api/v5/vault', {
      key: t.keys.admin,
      rawBody: jpegBytes(64, 1),
      headers: { 'content-type': 'image/jpeg' },
    });
    expect([upload.status, upload.body.code]).toEqual([503, 'audit_unavailable']);
    unblock();
    // nobody touches the vault again: the record of the refused upload is sealed anyway
    const verified = await pollUntil(
      async () =>
        (await http(t.baseUrl, 'GET', '/api/v5/vault/audit/verify', { key: t.keys.auditor })).body,
      (body) => body.ok,
    );
    expect(verified).toMatchObject({ ok: true, length: 1, checkpointsChecked: 1 });
  });
});

describe('witness alarm across a restart (e2e)', () => {
  itOnSqliteFile(
    'should fail verify when the tail was cut and the log grew back to a witnessed size',
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'mdai-regrow-'));
      const env = { DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' };
      let t = await startTestApp(env);
      try {
        const phone = await enrollPhone(t.baseUrl, t.keys.admin);
        await fill(t, phone, 2, 5);
        const origin = `mdai.local/ledger/${phone.siteId}`;
        // cut the last batch, its checkpoint row and its tree nodes (so nothing at start-up
        // can put the row back); the witness file keeps its line of 10
        t = await restartApp(
          t,
          () =>
            withStoreFile(dataDir, (db) => {
              const log = 'log_id = (SELECT id FROM tlog_logs WHERE origin = ?)';
              db.exec('DROP TRIGGER IF EXISTS attendance_logs_append_only_delete');
              db.prepare('DELETE FROM attendance_logs WHERE site_id = ? AND seq > 5').run(
                phone.siteId,
              );
              db.prepare(`DELETE FROM tlog_checkpoints WHERE size > 5 AND ${log}`).run(origin);
              db.prepare(
                `DELETE FROM tlog_nodes WHERE (idx + 1) * (1 << level) > 5 AND ${log}`,
              ).run(origin);
            }),
          env,
        );
        // other packets take seq 6..10: a checkpoint of 10 again, with another root (the
        // seal raises the alarm, but the witness file's last line of 10 now matches its row)
        await fill(t, phone, 1, 5);
        const lines = readFileSync(t.config.tlog.witnessFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
          .filter((l) => l.origin === origin && l.size === 10);
        expect(new Set(lines.map((l) => l.rootHash)).size).toBe(2);
        expect(await verifyLedger(t, phone.siteId)).toMatchObject({
          ok: false,
          length: 10,
          brokenAtSeq: 10,
          reason: 'checkpoint_mismatch',
        });
      } finally {
        await t.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  );

  itOnSqliteFile(
    // review LV #3: the seal signed over the rewritten nodes (a witness alarm after the fact);
    // it now signs over no node that does not give the signed root
    'should rebuild a stored tree rewritten while the server was down from its entries, and sign nothing over the rewrite',
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'mdai-alarm-'));
      const env = { DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' };
      let t = await startTestApp(env);
      try {
        const phone = await enrollPhone(t.baseUrl, t.keys.admin);
        await fill(t, phone, 1, 8);
        const origin = `mdai.local/ledger/${phone.siteId}`;
        const rootNode = (db: Database.Database) =>
          (
            db
              .prepare(
                `SELECT hash FROM tlog_nodes WHERE level = 3 AND idx = 0
                   AND log_id = (SELECT id FROM tlog_logs WHERE origin = ?)`,
              )
              .get(origin) as { hash: Buffer }
          ).hash;
        const genuine = withStoreFile(dataDir, rootNode);
        // rewrite the stored tree nodes of the first 8 entries (a forged history)
        t = await restartApp(
          t,
          () =>
            withStoreFile(dataDir, (db) =>
              db
                .prepare(
                  `UPDATE tlog_nodes SET hash = randomblob(32) WHERE level = 3 AND idx = 0
                 AND log_id = (SELECT id FROM tlog_logs WHERE origin = ?)`,
                )
                .run(origin),
            ),
          env,
        );
        const count = (text: string, name: string) =>
          Number(new RegExp(`${name}\\{log="ledger"\\} (\\d+)`).exec(text)?.[1] ?? 0);
        const [body] = await fill(t, phone, 1, 3);
        expect(body.checkpoints[0]).toMatchObject({ treeSize: 11 });
        const metrics = String((await http(t.baseUrl, 'GET', '/metrics')).body);
        // found (at start-up) and repaired, the entries giving the signed root: never signed over
        expect(count(metrics, 'mdai_tlog_nodes_mismatch_total')).toBe(1);
        expect(count(metrics, 'mdai_tlog_inconsistency_total')).toBe(0);
        expect(t.logs()).not.toContain('ALARM: checkpoint inconsistent with the witnessed history');
        expect(withStoreFile(dataDir, rootNode)).toEqual(genuine);
        expect(await verifyLedger(t, phone.siteId)).toMatchObject({ ok: true, length: 11 });
        expect((await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin })).status).toBe(200);
        const witness = await http(t.baseUrl, 'GET', '/api/v5/tlog/witness', {
          key: t.keys.auditor,
        });
        expect(witness.status).toBe(200);
        expect(Number(witness.headers.get('x-witness-size'))).toBeGreaterThan(0);
        expect(String(witness.body)).toContain(origin);
      } finally {
        await t.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  );
});
