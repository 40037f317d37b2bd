import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { LedgerService } from '@app/offline-sync';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { TransparencyLogService } from '@app/tlog';
import { rewriteChain, verifyLedger } from './support/ledger-client';
import { jpegBytes } from './support/image-bytes';
import { withStoreFile } from './support/tamper';
import { http, itOnSqliteFile, secretsOf, startTestApp, TestApp } from './support/test-app';
import {
  checkpointSignedBy,
  merkleRoot,
  readCheckpointNote,
  signCheckpointNote,
} from './support/tlog-check';
import { enrollPhone, Phone, signPacket, syncBatch } from './support/worker-client';

/** When the old log key was retired: two hours ago, no grace (its window ended then). */
const RETIRED_AGO_MS = 2 * 3600_000;

interface Row {
  size: number;
  rootHash: string;
  signedAt: Date;
  note: string;
}

/**
 * What an operator with database access can do to a checkpoint row: rewrite its `signedAt`
 * column and its note, in the SQLite file (another connection than the server's) or in the
 * MongoDB collection.
 */
async function rewriteRow(
  t: TestApp,
  origin: string,
  size: number,
  row: { signedAt: Date; note: string },
): Promise<void> {
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    const result = await store.connection
      .collection('tlog_checkpoints')
      .updateOne({ origin, size }, { $set: { signedAt: row.signedAt, note: row.note } });
    expect(result.matchedCount).toBe(1);
    return;
  }
  expect(store).toBeInstanceOf(SqliteStore);
  withStoreFile(t.dataDir, (db) => {
    const changed = db
      .prepare(
        `UPDATE tlog_checkpoints SET signed_at = ?, note = ?
         WHERE size = ? AND log_id = (SELECT id FROM tlog_logs WHERE origin = ?)`,
      )
      .run(row.signedAt.toISOString(), row.note, size, origin);
    expect(changed.changes).toBe(1);
  });
}

/**
 * The signing time of a checkpoint is inside its signed note (`timestamp <Unix ms>`, a C2SP
 * extension line), so neither a rewritten `signedAt` column nor a checkpoint forged with a
 * stolen retired log key (dated inside that key's window, the column to match) goes unnoticed,
 * while checkpoints signed before the line existed verify as they did.
 */
describe('the signing time inside the checkpoint note (e2e)', () => {
  let dataDir: string;
  let t: TestApp;
  /** The retired log key (PKCS#8 PEM), as a thief of it holds it. */
  let oldKey: string;
  let currentKey: string;
  let retiredAt: Date;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-signed-time-'));
    const env = { DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' };
    // a log key used, then rotated out two hours ago: it verifies only what is dated before then
    t = await startTestApp(env);
    oldKey = secretsOf(dataDir).TLOG_SIGNING_KEY;
    await t.close({ keepData: true });
    retiredAt = new Date(Date.now() - RETIRED_AGO_MS);
    rotateLocalKeys(dataDir, ['log'], retiredAt, 0);
    currentKey = secretsOf(dataDir).TLOG_SIGNING_KEY;
    t = await startTestApp(env);
  });
  afterAll(async () => {
    const store = t?.app.get(Store);
    if (store instanceof MongoStore) await store.connection.dropDatabase();
    await t?.close({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  const originOf = (siteId: string) => t.app.get(LedgerService).originOf(siteId);
  const rows = (origin: string): Promise<Row[]> =>
    t.app.get(TransparencyLogService).listCheckpoints(origin, 0, 100);
  /** A site with three checkpoints (trees of 2, 4 and 6), all signed now by the current key. */
  const siteOfThree = async (): Promise<{ phone: Phone; origin: string }> => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    for (let batch = 0; batch < 3; batch++) {
      const res = await syncBatch(t.baseUrl, phone.token, [signPacket(phone), signPacket(phone)]);
      expect(res.status).toBe(200);
      expect(res.body.accepted).toBe(2);
    }
    const origin = originOf(phone.siteId);
    expect((await rows(origin)).map((r) => r.size)).toEqual([2, 4, 6]);
    return { phone, origin };
  };
  /** A time inside the retired key's window: what a forger with that key must claim. */
  const insideOldWindow = () => new Date(retiredAt.getTime() - 60_000);

  it('should sign the time into every new checkpoint, equal to its signedAt, read by an independent parser', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const before = Date.now();
    const res = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect(res.status).toBe(200);
    const note = res.body.checkpoints[0].note as string;
    const cp = readCheckpointNote(note);
    // origin, size, root, then the extension line; the signature covers it
    expect(cp.text.toString('utf8').split('\n')).toEqual([
      cp.origin,
      '1',
      cp.root.toString('base64'),
      `timestamp ${cp.timestamp}`,
      '',
    ]);
    expect(cp.timestamp).toBeGreaterThanOrEqual(before);
    expect(cp.timestamp).toBeLessThanOrEqual(Date.now());
    const keys = (await http(t.baseUrl, 'GET', '/api/v5/tlog/keys')).body.keys;
    expect(checkpointSignedBy(note, keys[0].publicKey)).toBe(true);
    const latest = await http(t.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/checkpoint`, {
      key: t.keys.auditor,
    });
    expect(latest.body).toMatchObject({ note, signedAt: new Date(cp.timestamp!).toISOString() });
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({ ok: true, length: 1 });
  });

  it("should name a stored signedAt rewritten behind the server's back signed_at_mismatch", async () => {
    const { phone, origin } = await siteOfThree();
    const row = (await rows(origin))[1];
    // moved into the retired key's window: a column alone no longer says when it was signed
    await rewriteRow(t, origin, 4, { signedAt: insideOldWindow(), note: row.note });
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({
      ok: false,
      brokenAtSeq: 4,
      reason: 'signed_at_mismatch',
    });
    // a millisecond is enough
    await rewriteRow(t, origin, 4, {
      signedAt: new Date(row.signedAt.getTime() + 1),
      note: row.note,
    });
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({ reason: 'signed_at_mismatch' });
    await rewriteRow(t, origin, 4, row);
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({ ok: true, length: 6 });
  });

  it("should not take the active key's own time gone back (a clock stepped back) for a forgery", async () => {
    const { phone, origin } = await siteOfThree();
    const [, fourth, last] = await rows(origin);
    // the key that signed the earlier times signs a larger tree ten minutes before them
    const at = new Date(fourth.signedAt.getTime() - 10 * 60_000);
    const body = { origin, size: 6, root: Buffer.from(last.rootHash, 'hex') };
    await rewriteRow(t, origin, 6, {
      signedAt: at,
      note: signCheckpointNote({ ...body, timestamp: at.getTime() }, currentKey),
    });
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({ ok: true, length: 6 });
    await rewriteRow(t, origin, 6, last);
  });

  it('should name a checkpoint forged with the retired key, dated in its window and its column to match, signed_at_out_of_order', async () => {
    const { phone, origin } = await siteOfThree();
    const last = (await rows(origin))[2];
    const at = insideOldWindow();
    const body = { origin, size: 6, root: Buffer.from(last.rootHash, 'hex') };
    // the old key signs it, in its window: only its place among the log's times shows it
    for (const note of [
      signCheckpointNote({ ...body, timestamp: at.getTime() }, oldKey),
      // the old form, no time in the note: its stored time is held to the same order
      signCheckpointNote(body, oldKey),
    ]) {
      await rewriteRow(t, origin, 6, { signedAt: at, note });
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({
        ok: false,
        brokenAtSeq: 6,
        reason: 'signed_at_out_of_order',
      });
    }
    // dated after the key's window instead: outside it
    const after = new Date();
    await rewriteRow(t, origin, 6, {
      signedAt: after,
      note: signCheckpointNote({ ...body, timestamp: after.getTime() }, oldKey),
    });
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({
      brokenAtSeq: 6,
      reason: 'key_outside_window',
    });
    await rewriteRow(t, origin, 6, last);
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({ ok: true, length: 6 });
  });

  itOnSqliteFile(
    'should catch a rewrite of punches resealed with the retired key from the store alone (the witness file emptied)',
    async () => {
      const { phone, origin } = await siteOfThree();
      withStoreFile(t.dataDir, (db) => {
        // punch 3 turned around, the chain re-hashed from it
        rewriteChain(db, phone.siteId, 3, (data, seq) =>
          seq === 3 ? { ...data, type: data.type === 'check_in' ? 'check_out' : 'check_in' } : data,
        );
        const hashes = (
          db
            .prepare('SELECT record_hash FROM attendance_logs WHERE site_id = ? ORDER BY seq')
            .all(phone.siteId) as { record_hash: string }[]
        ).map((r) => r.record_hash);
        expect(hashes).toHaveLength(6);
        // the checkpoints of 4 and 6 signed again over the rewritten tree, a minute apart,
        // inside the old key's window, columns to match
        const at = insideOldWindow().getTime() - 120_000;
        for (const [i, size] of [4, 6].entries()) {
          const signedAt = new Date(at + i * 60_000);
          const note = signCheckpointNote(
            { origin, size, root: merkleRoot(hashes.slice(0, size)), timestamp: at + i * 60_000 },
            oldKey,
          );
          db.prepare(
            `UPDATE tlog_checkpoints SET root_hash = ?, signed_at = ?, note = ?
             WHERE size = ? AND log_id = (SELECT id FROM tlog_logs WHERE origin = ?)`,
          ).run(
            merkleRoot(hashes.slice(0, size)).toString('hex'),
            signedAt.toISOString(),
            note,
            size,
            origin,
          );
        }
      });
      writeFileSync(join(t.dataDir, 'tlog-witness.ndjson'), '');
      // the tree of 2, signed now by the current key, is older than the trees of 4 and 6
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({
        ok: false,
        length: 6,
        brokenAtSeq: 4,
        reason: 'signed_at_out_of_order',
      });
    },
  );

  it('should verify checkpoints signed before the time was in the note, alone and followed by new ones', async () => {
    const { phone, origin } = await siteOfThree();
    const stored = await rows(origin);
    // the store of a server before this change: notes without the line, the same columns
    for (const row of stored) {
      const note = signCheckpointNote(
        { origin, size: row.size, root: Buffer.from(row.rootHash, 'hex') },
        currentKey,
      );
      expect(readCheckpointNote(note).timestamp).toBeUndefined();
      await rewriteRow(t, origin, row.size, { signedAt: row.signedAt, note });
    }
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({
      ok: true,
      length: 6,
      checkpointsChecked: 3,
    });
    // the upgraded server goes on with the line
    const more = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect(readCheckpointNote(more.body.checkpoints[0].note).timestamp).toBeDefined();
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({ ok: true, length: 7 });
    // and one the retired key signed in its window, before it was rotated out (ahead of any
    // checkpoint with a signed time), as good as it was
    const first = stored[0];
    await rewriteRow(t, origin, 2, {
      signedAt: insideOldWindow(),
      note: signCheckpointNote(
        { origin, size: 2, root: Buffer.from(first.rootHash, 'hex') },
        oldKey,
      ),
    });
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({ ok: true, length: 7 });
  });

  it('should name a rewritten signedAt of the vault audit log signed_at_mismatch', async () => {
    const stored = await http(t.baseUrl, 'POST', '/api/v5/vault', {
      key: t.keys.admin,
      rawBody: jpegBytes(100),
      headers: { 'content-type': 'image/jpeg' },
    });
    expect(stored.status).toBe(201);
    const verifyAudit = async () =>
      (await http(t.baseUrl, 'GET', '/api/v5/vault/audit/verify', { key: t.keys.auditor })).body;
    expect(await verifyAudit()).toMatchObject({ ok: true });
    const origin = `${t.config.tlog.origin}/vault-audit`;
    const row = (await rows(origin)).at(-1)!;
    await rewriteRow(t, origin, row.size, { signedAt: insideOldWindow(), note: row.note });
    expect(await verifyAudit()).toMatchObject({
      ok: false,
      brokenAtSeq: row.size,
      reason: 'signed_at_mismatch',
    });
    await rewriteRow(t, origin, row.size, row);
    expect(await verifyAudit()).toMatchObject({ ok: true });
  });
});
