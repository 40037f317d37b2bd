import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgeAuditRecord, forgeLedgerLinks, restartApp, withStoreFile } from './support/tamper';
import { http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import { createSite, phoneAt, punch, sync } from './support/timesheet-client';
import { auditorRead, uploadImage } from './support/vault-client';
import { syncBatch } from './support/worker-client';

/** A checkpoint row nobody signed, of `size`, for the log whose origin ends with `log`. */
function forgeCheckpoint(dataDir: string, size: number, log = '/vault-audit'): void {
  withStoreFile(dataDir, (db) => {
    const { id } = db.prepare("SELECT id FROM tlog_logs WHERE origin LIKE '%' || ?").get(log) as {
      id: number;
    };
    db.prepare(
      "INSERT INTO tlog_checkpoints (log_id, size, root_hash, signed_at, note) VALUES (?, ?, '00', ?, 'fake')",
    ).run(id, size, new Date().toISOString());
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
      const { fileId } = (await uploadImage(t)).body;
      expect((await auditorRead(t, fileId)).status).toBe(200);
      const forged = forgeAuditRecord(dataDir, fileId);
      forgeCheckpoint(dataDir, forged);

      expect(await auditorRead(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
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
      t = await restartApp(t);
      expect(await auditorRead(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      expect(
        (await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin })).body.error.tlog,
      ).toMatchObject({ reason: 'checkpoint_unverified' });
      // no checkpoint but the forged row covers the forged record
      const rows = withStoreFile(dataDir, (db) =>
        db.prepare('SELECT size, note FROM tlog_checkpoints WHERE size >= ?').all(forged),
      );
      expect(rows).toEqual([{ size: forged, note: 'fake' }]);
    },
    120_000,
  );

  itOnSqliteFile(
    'should say the log key does not match the store when no stored checkpoint verifies (wrong keys), not that rows were forged',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      expect((await uploadImage(t)).status).toBe(201);
      await t.close({ keepData: true });
      const other = generateKeyPairSync('ed25519')
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
      t = await startTestApp({ DATA_DIR: dataDir, TLOG_SIGNING_KEY: other });
      await uploadImage(t); // reads the log's latest checkpoint
      const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
      expect(health.status).toBe(503);
      expect(health.body.error.tlog).toMatchObject({
        reason: 'checkpoint_unverified',
        unverifiedCheckpoints: [{ trustedSize: 0, keyMismatch: true }],
      });
      expect(health.body.error.tlog.message).toContain(
        "the configured log key most likely does not match the store's",
      );
      // review L5: it names the variables to check, nothing of a key: not the configured
      // key, not its public half or id (each derived from it), not the store's signer
      const said = JSON.stringify(health.body);
      expect(said).toContain('TLOG_SIGNING_KEY, TLOG_RETIRED_KEYS');
      const keys = (await http(t.baseUrl, 'GET', '/api/v5/tlog/keys')).body.keys as Array<{
        kid: string;
        publicKey: string;
      }>;
      const material = [
        ...other.split('\n').filter((line) => line && !line.startsWith('-----')),
        ...keys.flatMap((k) => [k.kid, k.publicKey]),
      ];
      for (const value of material) expect(said).not.toContain(value);
      // and without an admin key /health says only that it is unhealthy
      const open = await http(t.baseUrl, 'GET', '/health');
      expect(open.status).toBe(503);
      expect(Object.keys(open.body as object).sort()).toEqual([
        'code',
        'correlationId',
        'message',
        'status',
        'statusCode',
      ]);
      expect(JSON.stringify(open.body)).not.toMatch(/keyMismatch|TLOG_|checkpoint|tlog/);
    },
    120_000,
  );

  itOnSqliteFile(
    'should refuse a forged ledger link under a forged checkpoint row: the site answers 503 ledger_unauthenticated_entry',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });
      const { siteId } = await createSite(t.baseUrl, t.keys.admin);
      const asha = await phoneAt(t.baseUrl, t.keys.admin, siteId);
      await sync(t.baseUrl, asha, [
        punch(asha, 'check_in', new Date(Date.now() - 10_000).toISOString()),
      ]);
      const forged = forgeLedgerLinks(dataDir, siteId, 1, () => ({
        type: 'check_out',
        timestamp: new Date(Date.now() - 60_000).toISOString(),
      }));
      forgeCheckpoint(dataDir, forged, `/ledger/${siteId}`);

      const bina = await phoneAt(t.baseUrl, t.keys.admin, siteId);
      const refused = await syncBatch(t.baseUrl, bina.token, [
        punch(bina, 'check_in', new Date(Date.now() - 5_000).toISOString()),
      ]);
      expect([refused.status, refused.body.code]).toEqual([503, 'ledger_unauthenticated_entry']);
      const checkpoint = await http(t.baseUrl, 'GET', `/api/v5/ledger/${siteId}/checkpoint`, {
        key: t.keys.auditor,
      });
      expect(checkpoint.status).toBe(200);
      expect(checkpoint.body.size ?? checkpoint.body.treeSize).toBe(forged - 1);
      // a proof at the forged row's size is a clear 400, not a 5xx
      const proof = await http(
        t.baseUrl,
        'GET',
        `/api/v5/ledger/${siteId}/proof/consistency?first=1&second=${forged}`,
        { key: t.keys.auditor },
      );
      expect([proof.status, proof.body.code]).toEqual([400, 'invalid_proof_request']);
      const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
      expect(health.body.error.tlog).toMatchObject({
        reason: 'checkpoint_unverified',
        unverifiedCheckpoints: [
          {
            origin: expect.stringContaining(`/ledger/${siteId}`),
            size: forged,
            trustedSize: forged - 1,
          },
        ],
      });
      expect(health.body.error.logs.unauthenticatedEntries).toEqual([
        { log: 'ledger', siteId, seq: forged, reason: 'untagged' },
      ]);
    },
    120_000,
  );
});
