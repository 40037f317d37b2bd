import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { request as httpRequest, Agent } from 'node:http';
import { auditRecordHash } from '@app/vault';
import { withStoreFile } from './support/tamper';
import { http, itOnSqliteFile, startTestApp, storeSet, TestApp } from './support/test-app';
import {
  checkpointSignedBy,
  inclusionHolds,
  leafOf,
  readCheckpointNote,
} from './support/tlog-check';
import { jpegBytes } from './support/image-bytes';
import { uploadImage, verifyAudit } from './support/vault-client';

function readFile(t: TestApp, fileId: string) {
  return fetch(`${t.baseUrl}/api/v5/vault/${fileId}`, {
    headers: { 'x-api-key': t.keys.auditor, 'x-access-purpose': 'case review' },
  });
}

/** A dishonest operator's rewrite: drop some records, renumber and re-hash the whole chain. */
function dropAndRehash(db: Database.Database, drop: (row: any) => boolean): void {
  const rows = (db.prepare('SELECT * FROM vault_audit ORDER BY seq').all() as any[]).filter(
    (r) => !drop(r),
  );
  db.exec('DELETE FROM vault_audit');
  let prev = '0'.repeat(64);
  rows.forEach((row, i) => {
    const seq = i + 1;
    const entry = {
      id: row.id,
      fileId: row.file_id,
      actor: row.actor,
      role: row.role,
      ip: row.ip,
      purpose: row.purpose,
      action: row.action,
      result: row.result,
      reason: row.reason ?? undefined,
      at: new Date(row.at),
    };
    const hash = auditRecordHash(entry, seq, prev);
    db.prepare(
      `INSERT INTO vault_audit (seq, id, file_id, actor, role, ip, purpose, action, result, reason, at, prev_hash, record_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      seq,
      row.id,
      row.file_id,
      row.actor,
      row.role,
      row.ip,
      row.purpose,
      row.action,
      row.result,
      row.reason,
      row.at,
      prev,
      hash,
    );
    prev = hash;
  });
}

describe('vault audit on the transparency log, and reads bounded by what decrypts (e2e)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(async () => t.close());

  it('should hand back the read audit record as a receipt an independent client verifies', async () => {
    const fileId = (await uploadImage(t, jpegBytes(3000))).body.fileId;
    const res = await readFile(t, fileId);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const receipt = JSON.parse(
      Buffer.from(res.headers.get('x-audit-receipt')!, 'base64url').toString('utf8'),
    );
    const keys = await http(t.baseUrl, 'GET', '/api/v5/tlog/keys?origin=mdai.local/vault-audit');
    const active = keys.body.keys.find((k: any) => k.status === 'active');
    expect(active.verifierKey).toMatch(/^mdai\.local\/vault-audit\+[0-9a-f]{8}\+/);
    expect(checkpointSignedBy(receipt.checkpoint, active.publicKey)).toBe(true);
    const cp = readCheckpointNote(receipt.checkpoint);
    expect(cp.origin).toBe('mdai.local/vault-audit');
    expect(cp.size).toBe(receipt.treeSize);
    expect(
      inclusionHolds(
        receipt.leafIndex,
        cp.size,
        leafOf(receipt.recordHash),
        receipt.inclusionProof,
        cp.root,
      ),
    ).toBe(true);
    const records = await http(t.baseUrl, 'GET', `/api/v5/vault/audit?fileId=${fileId}`, {
      key: t.keys.auditor,
    });
    expect(records.body.at(-1)).toMatchObject({
      seq: receipt.seq,
      action: 'read',
      result: 'allowed',
      recordHash: receipt.recordHash,
    });
    const latest = await http(t.baseUrl, 'GET', '/api/v5/vault/audit/checkpoint', {
      key: t.keys.auditor,
    });
    expect(latest.body.note).toBe(receipt.checkpoint);
  });

  itOnSqliteFile(
    "(item 3) should fail verify after one file's read records are removed and the chain re-hashed",
    async () => {
      const a = (await uploadImage(t, jpegBytes(100))).body.fileId;
      const b = (await uploadImage(t, jpegBytes(100))).body.fileId;
      for (const id of [a, b, a]) await (await readFile(t, id)).arrayBuffer();
      expect(await verifyAudit(t)).toMatchObject({ ok: true, length: 5, checkpointsChecked: 5 });
      withStoreFile(t, (db) =>
        dropAndRehash(db, (row) => row.file_id === a && row.action === 'read'),
      );
      expect(await verifyAudit(t)).toMatchObject({
        ok: false,
        length: 3,
        reason: 'checkpoint_mismatch',
      });
      // and with every checkpoint row deleted too: the witness file still has them
      withStoreFile(t, (db) => db.exec('DELETE FROM tlog_checkpoints'));
      expect((await verifyAudit(t)).ok).toBe(false);
    },
  );

  itOnSqliteFile(
    '(item 3) should fail verify when the last audit records are deleted, even with their checkpoints',
    async () => {
      const a = (await uploadImage(t, jpegBytes(100))).body.fileId;
      for (let i = 0; i < 3; i++) await (await readFile(t, a)).arrayBuffer();
      withStoreFile(t, (db) => {
        db.exec('DELETE FROM vault_audit WHERE seq > 2');
        db.exec('DELETE FROM tlog_checkpoints WHERE size > 2');
      });
      expect(await verifyAudit(t)).toMatchObject({
        ok: false,
        length: 2,
        brokenAtSeq: 3,
        reason: 'tail_cut',
      });
    },
  );

  it('(item 4) should answer file_integrity_failed, before any header, when the stored size or digest was edited', async () => {
    const data = jpegBytes(3000);
    const fileId = (await uploadImage(t, data)).body.fileId;
    await storeSet(t, 'vault_files', fileId, { sqlite: { size: 1000 }, mongo: { size: 1000 } });
    // two requests on one keep-alive connection: the second answer must be its own
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string, headers: Record<string, string>) =>
      new Promise<{ status: number; body: Buffer; socket: unknown }>((resolve, reject) => {
        const req = httpRequest(`${t.baseUrl}${path}`, { agent, headers }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode!, body: Buffer.concat(parts), socket: req.socket }),
          );
        });
        req.on('error', reject);
        req.end();
      });
    const read = await get(`/api/v5/vault/${fileId}`, {
      'x-api-key': t.keys.auditor,
      'x-access-purpose': 'case review',
    });
    expect(read.status).toBe(409);
    expect(JSON.parse(read.body.toString('utf8')).code).toBe('file_integrity_failed');
    expect(read.body.includes(data.subarray(1000, 1064))).toBe(false);
    const health = await get('/health', {});
    expect(health.socket).toBe(read.socket);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString('utf8'))).toHaveProperty('status');
    agent.destroy();

    const otherDigest = createHash('sha256').update('other').digest('hex');
    await storeSet(t, 'vault_files', fileId, {
      sqlite: { size: 3000, sha256: otherDigest },
      mongo: { size: 3000, sha256: otherDigest },
    });
    const digest = await readFile(t, fileId);
    expect(digest.status).toBe(409);
    expect(((await digest.json()) as any).code).toBe('file_integrity_failed');
    const records = await http(t.baseUrl, 'GET', `/api/v5/vault/audit?fileId=${fileId}`, {
      key: t.keys.auditor,
    });
    // a version 2 blob: the digest is compared by the final chunk's tag (its AAD binds the
    // sealed size and digest), which cannot tell an edited digest from a tampered final chunk
    expect(records.body.map((r: any) => r.reason).slice(-2)).toEqual(['size_mismatch', 'tampered']);
  });

  it('should refuse (409, audited) a file whose content type, creation time or creator was edited in the store (red team)', async () => {
    const cases: [string, Record<string, string>, Record<string, unknown>, string][] = [
      // a type the vault never stores: refused before any key is opened, any blob version
      [
        'content type text/html',
        { content_type: 'text/html' },
        { contentType: 'text/html' },
        'metadata_invalid',
      ],
      // a type the vault stores, a time in the future, another creator: the blob's final tag
      [
        'content type image/png',
        { content_type: 'image/png' },
        { contentType: 'image/png' },
        'tampered',
      ],
      [
        'creation time in the future',
        { created_at: '2099-01-01T00:00:00.000Z' },
        { createdAt: new Date('2099-01-01T00:00:00.000Z') },
        'tampered',
      ],
      [
        'creator',
        { created_by: 'admin:aaaaaaaaaaaa' },
        { createdBy: 'admin:aaaaaaaaaaaa' },
        'tampered',
      ],
    ];
    for (const [label, sqlite, mongo, reason] of cases) {
      const data = jpegBytes(3000);
      const fileId = (await uploadImage(t, data)).body.fileId;
      expect([label, (await readFile(t, fileId)).status]).toEqual([label, 200]);
      await storeSet(t, 'vault_files', fileId, { sqlite, mongo });
      const read = await readFile(t, fileId);
      expect([label, read.status, read.headers.get('content-type')]).toEqual([
        label,
        409,
        expect.stringMatching(/^application\/json/),
      ]);
      expect(((await read.json()) as any).code).toBe('file_integrity_failed');
      const records = await http(t.baseUrl, 'GET', `/api/v5/vault/audit?fileId=${fileId}`, {
        key: t.keys.auditor,
      });
      expect([label, records.body.at(-1)]).toEqual([
        label,
        expect.objectContaining({ action: 'read', result: 'failed', reason }),
      ]);
    }
  });
});
