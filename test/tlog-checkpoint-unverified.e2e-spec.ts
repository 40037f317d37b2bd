import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditRecordHash } from '@app/vault/domain/vault-audit-record';
import { jpegBytes } from './support/image-bytes';
import { http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';

function upload(t: TestApp) {
  return http(t.baseUrl, 'POST', '/api/v5/vault', {
    key: t.keys.admin,
    rawBody: jpegBytes(500),
    headers: { 'content-type': 'image/jpeg' },
  });
}

/** An auditor's read of a file: its status and error code (the body is read to the end). */
async function read(t: TestApp, fileId: string) {
  const res = await fetch(`${t.baseUrl}/api/v5/vault/${fileId}`, {
    headers: { 'x-api-key': t.keys.auditor, 'x-access-purpose': 'case review' },
  });
  const body = Buffer.from(await res.arrayBuffer());
  const code =
    res.status === 200 ? undefined : (JSON.parse(body.toString('utf8')) as { code: string }).code;
  return { status: res.status, code };
}

function withDb<T>(dataDir: string, work: (db: Database.Database) => T): T {
  const db = new Database(join(dataDir, 'mdai.sqlite'));
  try {
    return work(db);
  } finally {
    db.close();
  }
}

/** A database writer's untagged vault audit record after the head (an auditor's read); its seq. */
function forgeRecord(dataDir: string, fileId: string): number {
  return withDb(dataDir, (db) => {
    const head = db
      .prepare('SELECT seq, record_hash FROM vault_audit ORDER BY seq DESC LIMIT 1')
      .get() as { seq: number; record_hash: string };
    const entry = {
      id: randomBytes(12).toString('hex'),
      fileId,
      actor: 'auditor:000000000000',
      role: 'auditor',
      ip: '127.0.0.1',
      purpose: 'case review',
      action: 'read' as const,
      result: 'allowed' as const,
      at: new Date(),
    };
    const seq = head.seq + 1;
    db.prepare(
      `INSERT INTO vault_audit (seq, id, file_id, actor, role, ip, purpose, action, result, reason, at, prev_hash, record_hash, mac, mac_kid)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, NULL, NULL)`,
    ).run(
      seq,
      entry.id,
      fileId,
      entry.actor,
      entry.role,
      entry.ip,
      entry.purpose,
      entry.action,
      entry.result,
      entry.at.toISOString(),
      head.record_hash,
      auditRecordHash(entry, seq, head.record_hash),
    );
    return seq;
  });
}

/** A checkpoint row nobody signed, of `size`, for the vault audit log. */
function forgeCheckpoint(dataDir: string, size: number): void {
  withDb(dataDir, (db) => {
    const log = db.prepare("SELECT id FROM tlog_logs WHERE origin LIKE '%/vault-audit'").get() as {
      id: number;
    };
    db.prepare(
      "INSERT INTO tlog_checkpoints (log_id, size, root_hash, signed_at, note) VALUES (?, ?, '00', ?, 'fake')",
    ).run(log.id, size, new Date().toISOString());
  });
}

/**
 * A database writer adds a record to the vault audit log and a checkpoint row over it that no
 * key signed. The row must not pass for the log's latest checkpoint: were it trusted, the record
 * would count as sealed, escape the seal's tag check, and the next seal would sign over it.
 */
describe('a checkpoint row the server did not sign is not trusted (e2e)', () => {
  let t: TestApp | undefined;
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-cp-forged-'));
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  itOnSqliteFile(
    'should refuse a forged record under a forged checkpoint row: 503 audit_unavailable, /health names the row, also after a restart',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      const { fileId } = (await upload(t)).body;
      expect((await read(t, fileId)).status).toBe(200);
      const forged = forgeRecord(dataDir, fileId);
      forgeCheckpoint(dataDir, forged);

      expect(await read(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      // the trusted checkpoint is the last one the server signed, before the forged record
      const checkpoint = await http(t.baseUrl, 'GET', '/api/v5/vault/audit/checkpoint', {
        key: t.keys.auditor,
      });
      expect([checkpoint.status, checkpoint.body.treeSize]).toEqual([200, forged - 1]);
      const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
      expect(health.status).toBe(503);
      expect(health.body.error.tlog).toMatchObject({
        state: 'degraded',
        reason: 'checkpoint_unverified',
        unverifiedCheckpoints: [
          {
            origin: expect.stringMatching(/\/vault-audit$/),
            size: forged,
            trustedSize: forged - 1,
          },
        ],
      });
      expect(health.body.error.logs.unauthenticatedEntries).toEqual([
        { log: 'vault-audit', seq: forged, reason: 'untagged' },
      ]);
      expect(t.logs()).toContain('ALARM: the latest stored checkpoint of a log is not signed');
      expect(t.logs()).not.toContain('fake');
      const verify = await http(t.baseUrl, 'GET', '/api/v5/vault/audit/verify', {
        key: t.keys.auditor,
      });
      expect(verify.status).toBe(200);
      expect(verify.body.ok).toBe(false);

      // a restart builds no seal on the row either
      await t.close({ keepData: true });
      t = await startTestApp({ DATA_DIR: dataDir });
      expect(await read(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      expect(
        (await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin })).body.error.tlog,
      ).toMatchObject({ reason: 'checkpoint_unverified' });
      // no checkpoint but the forged row covers the forged record
      const rows = withDb(dataDir, (db) =>
        db.prepare('SELECT size, note FROM tlog_checkpoints WHERE size >= ?').all(forged),
      );
      expect(rows).toEqual([{ size: forged, note: 'fake' }]);
    },
    120_000,
  );
});
