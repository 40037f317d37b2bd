import { StoreMac } from '@app/tlog';
import { auditTagText, chainEntry } from '@app/vault/domain/vault-audit-record';
import { VaultAuditRepository } from '@app/vault/infrastructure/persistence/vault-audit.repository';
import {
  auditorReadEntry,
  forgeAuditRecord,
  sealConfirmation,
  sealForeign,
  withStoreFile,
} from './support/tamper';
import { http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import { auditorRead, uploadImage, verifyAudit } from './support/vault-client';

/** Each command is a process booting the app (seconds on a loaded machine): not a speed check. */
const JOB_TIMEOUT = 180_000;

async function checkpointSize(t: TestApp): Promise<number> {
  const res = await http(t.baseUrl, 'GET', '/api/v5/vault/audit/checkpoint', {
    key: t.keys.auditor,
  });
  expect(res.status).toBe(200);
  return res.body.treeSize as number;
}

async function health(t: TestApp) {
  return http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
}

/**
 * An operator with database access writes a record straight into the vault audit log. The next
 * seal must not sign a checkpoint over it: every record the server writes carries its store MAC
 * over the record's seq and recordHash, and a seal refuses a record past the last checkpoint
 * without a valid one (or whose fields do not hash to what its tag vouches for).
 */
describe('vault audit records written straight into the store are not sealed (e2e)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(async () => t.close());

  itOnSqliteFile(
    'should refuse to seal a forged record: the vault answers 503 audit_unavailable, verify and /health name it, vault:seal-foreign takes it in',
    async () => {
      const { fileId } = (await uploadImage(t)).body;
      expect((await auditorRead(t, fileId)).status).toBe(200);
      expect(await verifyAudit(t)).toMatchObject({ ok: true, length: 2 });

      const forged = forgeAuditRecord(t, fileId);
      expect(await auditorRead(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      // the refused read's own record (tagged) is stored, its seal refused with the forged one
      const head = forged + 1;
      expect(await checkpointSize(t)).toBe(forged - 1);
      expect(await verifyAudit(t)).toMatchObject({
        ok: false,
        reason: 'unauthenticated_entry',
        brokenAtSeq: forged,
      });
      const degraded = await health(t);
      expect(degraded.status).toBe(503);
      expect(degraded.body.error.logs).toMatchObject({
        state: 'degraded',
        message: expect.stringContaining('vault:seal-foreign'),
        unauthenticatedEntries: [{ log: 'vault-audit', seq: forged, reason: 'untagged' }],
      });
      expect(t.logs()).toContain('Vault audit record without a valid store MAC');

      // still refused, before anything is written: an upload too
      const refusedUpload = await uploadImage(t);
      expect([refusedUpload.status, refusedUpload.body.code]).toEqual([503, 'audit_unavailable']);
      expect(
        withStoreFile(t, (db) => db.prepare('SELECT MAX(seq) AS n FROM vault_audit').get()),
      ).toEqual({
        n: head,
      });

      // the operator's way out: the records shown first, nothing changed without --yes
      const shown = await sealForeign('vault', t.dataDir);
      expect(shown.code).toBe(2);
      expect(shown.stdout).toContain(
        `seq ${forged}  fault untagged  action "read"  result "allowed"  reason -  file "${fileId}"  actor "auditor:000000000000"  role "auditor"  ip "127.0.0.1"  purpose "case review"  at `,
      );
      expect(shown.stdout).not.toMatch(new RegExp(`^seq ${head} `, 'm'));
      expect(shown.stdout).not.toMatch(/^seq 1 /m);
      expect(shown.stdout).toContain(`would seal through seq ${head} (recordHash "`);
      expect((await auditorRead(t, fileId)).status).toBe(503);
      // --yes alone (what is there when it runs) is refused
      const unpinned = await sealForeign('vault', t.dataDir, '--yes');
      expect(unpinned.code).toBe(64);
      expect(unpinned.stderr).toContain('--yes needs --through <seq> --head <recordHash>');
      const sealed = await sealForeign('vault', t.dataDir, ...sealConfirmation(shown.stdout));
      expect(sealed.stderr).toBe('');
      expect(sealed.code).toBe(0);
      expect(sealed.stdout).toContain(`checkpoint of size ${head} signed`);

      expect((await auditorRead(t, fileId)).status).toBe(200);
      expect(await verifyAudit(t)).toMatchObject({ ok: true, length: head + 1 });
      expect(await checkpointSize(t)).toBe(head + 1);
      expect((await health(t)).status).toBe(200);
    },
    JOB_TIMEOUT,
  );

  it(
    'should refuse, on either store, an untagged record appended behind the server, until vault:seal-foreign',
    async () => {
      const { fileId } = (await uploadImage(t)).body;
      // the store's own append, without the server's tag: what a database writer can do
      const forged = await t.app
        .get(VaultAuditRepository, { strict: false })
        .appendToChain((head) => chainEntry(auditorReadEntry(fileId), head));
      expect(await auditorRead(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      expect(await checkpointSize(t)).toBe(forged.seq - 1);
      expect(await verifyAudit(t)).toMatchObject({
        ok: false,
        reason: 'unauthenticated_entry',
        brokenAtSeq: forged.seq,
      });
      expect((await health(t)).body.error.logs.unauthenticatedEntries).toEqual([
        { log: 'vault-audit', seq: forged.seq, reason: 'untagged' },
      ]);
      const shown = await sealForeign('vault', t.dataDir);
      const sealed = await sealForeign('vault', t.dataDir, ...sealConfirmation(shown.stdout));
      expect(sealed.stdout).toContain(`seq ${forged.seq}  fault untagged`);
      expect(sealed.code).toBe(0);
      expect((await auditorRead(t, fileId)).status).toBe(200);
      expect(await verifyAudit(t)).toMatchObject({ ok: true, length: forged.seq + 2 });
      expect((await health(t)).status).toBe(200);
    },
    JOB_TIMEOUT,
  );

  itOnSqliteFile(
    "should refuse a forged record that carries a genuine record's copied tag",
    async () => {
      const { fileId } = (await uploadImage(t)).body;
      const genuine = withStoreFile(
        t,
        (db) =>
          db.prepare('SELECT mac, mac_kid FROM vault_audit WHERE seq = 1').get() as {
            mac: string;
            mac_kid: string;
          },
      );
      expect(genuine.mac).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const forged = forgeAuditRecord(t, fileId, { mac: genuine.mac, kid: genuine.mac_kid });
      expect(await auditorRead(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      expect((await health(t)).body.error.logs.unauthenticatedEntries).toEqual([
        { log: 'vault-audit', seq: forged, reason: 'bad_tag' },
      ]);
      expect(await verifyAudit(t)).toMatchObject({
        ok: false,
        reason: 'unauthenticated_entry',
        brokenAtSeq: forged,
      });
    },
  );

  itOnSqliteFile(
    "should seal the server's own record left unsealed (a crash before its seal) with the next access, but not once its fields were edited",
    async () => {
      const { fileId } = (await uploadImage(t)).body;
      const records = t.app.get(VaultAuditRepository, { strict: false });
      const mac = t.app.get(StoreMac, { strict: false });
      const appendUnsealed = () =>
        records.appendToChain(
          (head) => chainEntry(auditorReadEntry(fileId), head),
          (r) => ({ mac: mac.mac('vault-audit', auditTagText(r.seq, r.recordHash)), kid: mac.kid }),
        );
      await appendUnsealed();
      expect(await verifyAudit(t)).toMatchObject({ ok: false, reason: 'checkpoint_missing' });
      expect((await auditorRead(t, fileId)).status).toBe(200);
      expect(await verifyAudit(t)).toMatchObject({ ok: true, length: 3 });

      // the server's own unsealed record, its purpose then rewritten (its tag kept)
      const edited = (await appendUnsealed()).seq;
      withStoreFile(t, (db) =>
        db.prepare("UPDATE vault_audit SET purpose = 'nothing to see' WHERE seq = ?").run(edited),
      );
      expect(await auditorRead(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      expect((await health(t)).body.error.logs.unauthenticatedEntries).toEqual([
        { log: 'vault-audit', seq: edited, reason: 'record_hash_mismatch' },
      ]);
      // not a record written without a MAC but one rewritten: listed, never sealed
      const shown = await sealForeign('vault', t.dataDir);
      expect(shown.stdout).toContain(`seq ${edited}  fault record_hash_mismatch`);
      // said to be unsealable, no command offered that would be refused
      expect(shown.code).toBe(65);
      expect(shown.stdout).toContain('(cannot be sealed)');
      expect(shown.stdout).not.toContain('run again with');
      expect(shown.stderr).toContain(`cannot be sealed: record ${edited} does not hash`);
      const head = /recordHash "([0-9a-f]{64})"/.exec(shown.stdout)![1];
      const refused = await sealForeign(
        'vault',
        t.dataDir,
        ...['--yes', '--through', String(edited), '--head', head],
      );
      expect(refused.code).toBe(65);
      expect(refused.stderr).toContain(`cannot be sealed: record ${edited}`);
      expect(await checkpointSize(t)).toBe(edited - 1);
    },
    JOB_TIMEOUT,
  );

  itOnSqliteFile(
    'should not seal a record added after the listing, nor a line forged by a field',
    async () => {
      const { fileId } = (await uploadImage(t)).body;
      const forged = forgeAuditRecord(t, fileId, undefined, {
        purpose: `x\nseq 99  fault untagged  action "read"\u001b[2K`,
      });
      expect(await auditorRead(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      // the client is not told the seq nor the admin command (the logs and /health are)
      const refused = await http(t.baseUrl, 'GET', `/api/v5/vault/${fileId}`, {
        key: t.keys.auditor,
        headers: { 'x-access-purpose': 'case review' },
      });
      expect(refused.body.message).not.toMatch(/seq|seal-foreign/);
      const head = forged + 1;

      const shown = await sealForeign('vault', t.dataDir);
      expect(shown.code).toBe(2);
      const lines = shown.stdout.split('\n');
      expect(lines.filter((line) => line.startsWith('seq '))).toHaveLength(1);
      expect(shown.stdout).not.toContain('\u001b');
      expect(shown.stdout).toContain(
        'purpose "x\\nseq 99  fault untagged  action \\"read\\"\\u001b[2K"',
      );

      // a record the operator was not shown, written between the listing and --yes
      const later = forgeAuditRecord(t, fileId);
      const sealed = await sealForeign('vault', t.dataDir, ...sealConfirmation(shown.stdout));
      expect(sealed.stderr).toBe('');
      expect(sealed.code).toBe(0);
      expect(sealed.stdout).toContain(`seq ${later}  fault untagged`);
      expect(sealed.stdout).toContain(`(past seq ${head}: not sealed)`);
      expect(sealed.stdout).toContain(`checkpoint of size ${head} signed`);
      expect(sealed.stdout).toContain('the vault stays refused');
      expect(await checkpointSize(t)).toBe(head);
      expect(await auditorRead(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
    },
    JOB_TIMEOUT,
  );

  itOnSqliteFile(
    'should refuse to seal a tail rewritten at the same seqs after the listing',
    async () => {
      const { fileId } = (await uploadImage(t)).body;
      const forged = forgeAuditRecord(t, fileId);
      expect(await auditorRead(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      const shown = await sealForeign('vault', t.dataDir);
      expect(shown.code).toBe(2);
      // the listed tail replaced by another, consistently hashed and chained, at the same seqs
      withStoreFile(t, (db) => db.prepare('DELETE FROM vault_audit WHERE seq >= ?').run(forged));
      forgeAuditRecord(t, fileId, undefined, { purpose: 'something else' });
      const rewritten = forgeAuditRecord(t, fileId, undefined, { purpose: 'something else' });
      expect(rewritten).toBe(forged + 1);

      const refused = await sealForeign('vault', t.dataDir, ...sealConfirmation(shown.stdout));
      expect(refused.code).toBe(65);
      expect(refused.stderr).toContain(`record ${rewritten} is not the one listed (head_changed)`);
      expect(await checkpointSize(t)).toBe(forged - 1);
      expect(await auditorRead(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
    },
    JOB_TIMEOUT,
  );
});
