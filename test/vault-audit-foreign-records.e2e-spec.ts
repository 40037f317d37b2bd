import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StoreMac } from '@app/tlog';
import { auditRecordHash, auditTagText, chainEntry } from '@app/vault/domain/vault-audit-record';
import { VaultAuditRepository } from '@app/vault/infrastructure/persistence/vault-audit.repository';
import { jpegBytes } from './support/image-bytes';
import { http, itOnSqliteFile, startTestApp, storeEnv, TestApp } from './support/test-app';

const run = promisify(execFile);
/** Each command is a process booting the app (seconds on a loaded machine): not a speed check. */
const JOB_TIMEOUT = 180_000;

/** `npm run vault:seal-foreign -- <args>` on the store of `dataDir`: its exit code and output. */
async function sealForeign(dataDir: string, ...args: string[]) {
  try {
    const done = await run(
      process.execPath,
      ['-r', '@swc-node/register', 'scripts/vault-seal-foreign.ts', ...args],
      {
        cwd: join(__dirname, '..'),
        env: { ...process.env, ...storeEnv(dataDir), DATA_DIR: dataDir },
      },
    );
    return { code: 0, ...done };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** The arguments the listing (run without --yes) says to confirm it with. */
function confirmation(listing: string): string[] {
  const found = /run again with (--yes --through \d+ --head [0-9a-f]{64}) /.exec(listing);
  expect(found).not.toBeNull();
  return found![1].split(' ');
}

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

async function verifyAudit(t: TestApp) {
  const res = await http(t.baseUrl, 'GET', '/api/v5/vault/audit/verify', { key: t.keys.auditor });
  expect(res.status).toBe(200);
  return res.body;
}

async function checkpointSize(t: TestApp): Promise<number> {
  const res = await http(t.baseUrl, 'GET', '/api/v5/vault/audit/checkpoint', {
    key: t.keys.auditor,
  });
  expect(res.status).toBe(200);
  return res.body.treeSize as number;
}

function withDb<T>(t: TestApp, work: (db: Database.Database) => T): T {
  const db = new Database(join(t.dataDir, 'mdai.sqlite'));
  try {
    return work(db);
  } finally {
    db.close();
  }
}

/**
 * A database writer's record: an auditor's read of `fileId` appended after the head, hashed as
 * the server hashes it (recomputing a recordHash needs no key), with `tag` as its mac and key id
 * (none: untagged). Returns its seq.
 */
function forgeRecord(
  t: TestApp,
  fileId: string,
  tag: { mac: string | null; kid: string | null } = { mac: null, kid: null },
  fields: { purpose?: string } = {},
): number {
  return withDb(t, (db) => {
    const head = db
      .prepare('SELECT seq, record_hash FROM vault_audit ORDER BY seq DESC LIMIT 1')
      .get() as { seq: number; record_hash: string };
    const entry = {
      id: randomBytes(12).toString('hex'),
      fileId,
      actor: 'auditor:000000000000',
      role: 'auditor',
      ip: '127.0.0.1',
      purpose: fields.purpose ?? 'case review',
      action: 'read' as const,
      result: 'allowed' as const,
      at: new Date(),
    };
    const seq = head.seq + 1;
    const recordHash = auditRecordHash(entry, seq, head.record_hash);
    db.prepare(
      `INSERT INTO vault_audit (seq, id, file_id, actor, role, ip, purpose, action, result, reason, at, prev_hash, record_hash, mac, mac_kid)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)`,
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
      recordHash,
      tag.mac,
      tag.kid,
    );
    return seq;
  });
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
      const { fileId } = (await upload(t)).body;
      expect((await read(t, fileId)).status).toBe(200);
      expect(await verifyAudit(t)).toMatchObject({ ok: true, length: 2 });

      const forged = forgeRecord(t, fileId);
      expect(await read(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
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
      const refusedUpload = await upload(t);
      expect([refusedUpload.status, refusedUpload.body.code]).toEqual([503, 'audit_unavailable']);
      expect(withDb(t, (db) => db.prepare('SELECT MAX(seq) AS n FROM vault_audit').get())).toEqual({
        n: head,
      });

      // the operator's way out: the records shown first, nothing changed without --yes
      const shown = await sealForeign(t.dataDir);
      expect(shown.code).toBe(2);
      expect(shown.stdout).toContain(
        `seq ${forged}  fault untagged  action "read"  result "allowed"  reason -  file "${fileId}"  actor "auditor:000000000000"  role "auditor"  ip "127.0.0.1"  purpose "case review"  at `,
      );
      expect(shown.stdout).not.toMatch(new RegExp(`^seq ${head} `, 'm'));
      expect(shown.stdout).not.toMatch(/^seq 1 /m);
      expect(shown.stdout).toContain(`would seal through seq ${head} (recordHash "`);
      expect((await read(t, fileId)).status).toBe(503);
      // --yes alone (what is there when it runs) is refused
      const unpinned = await sealForeign(t.dataDir, '--yes');
      expect(unpinned.code).toBe(64);
      expect(unpinned.stderr).toContain('--yes needs --through <seq> --head <recordHash>');
      const sealed = await sealForeign(t.dataDir, ...confirmation(shown.stdout));
      expect(sealed.stderr).toBe('');
      expect(sealed.code).toBe(0);
      expect(sealed.stdout).toContain(`checkpoint of size ${head} signed`);

      expect((await read(t, fileId)).status).toBe(200);
      expect(await verifyAudit(t)).toMatchObject({ ok: true, length: head + 1 });
      expect(await checkpointSize(t)).toBe(head + 1);
      expect((await health(t)).status).toBe(200);
    },
    JOB_TIMEOUT,
  );

  it(
    'should refuse, on either store, an untagged record appended behind the server, until vault:seal-foreign',
    async () => {
      const { fileId } = (await upload(t)).body;
      // the store's own append, without the server's tag: what a database writer can do
      const forged = await t.app
        .get(VaultAuditRepository, { strict: false })
        .appendToChain((head) =>
          chainEntry(
            {
              id: randomBytes(12).toString('hex'),
              fileId,
              actor: 'auditor:000000000000',
              role: 'auditor',
              ip: '127.0.0.1',
              purpose: 'case review',
              action: 'read',
              result: 'allowed',
              at: new Date(),
            },
            head,
          ),
        );
      expect(await read(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      expect(await checkpointSize(t)).toBe(forged.seq - 1);
      expect(await verifyAudit(t)).toMatchObject({
        ok: false,
        reason: 'unauthenticated_entry',
        brokenAtSeq: forged.seq,
      });
      expect((await health(t)).body.error.logs.unauthenticatedEntries).toEqual([
        { log: 'vault-audit', seq: forged.seq, reason: 'untagged' },
      ]);
      const shown = await sealForeign(t.dataDir);
      const sealed = await sealForeign(t.dataDir, ...confirmation(shown.stdout));
      expect(sealed.stdout).toContain(`seq ${forged.seq}  fault untagged`);
      expect(sealed.code).toBe(0);
      expect((await read(t, fileId)).status).toBe(200);
      expect(await verifyAudit(t)).toMatchObject({ ok: true, length: forged.seq + 2 });
      expect((await health(t)).status).toBe(200);
    },
    JOB_TIMEOUT,
  );

  itOnSqliteFile(
    "should refuse a forged record that carries a genuine record's copied tag",
    async () => {
      const { fileId } = (await upload(t)).body;
      const genuine = withDb(
        t,
        (db) =>
          db.prepare('SELECT mac, mac_kid FROM vault_audit WHERE seq = 1').get() as {
            mac: string;
            mac_kid: string;
          },
      );
      expect(genuine.mac).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const forged = forgeRecord(t, fileId, { mac: genuine.mac, kid: genuine.mac_kid });
      expect(await read(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
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
      const { fileId } = (await upload(t)).body;
      const records = t.app.get(VaultAuditRepository, { strict: false });
      const mac = t.app.get(StoreMac, { strict: false });
      const appendUnsealed = () =>
        records.appendToChain(
          (head) =>
            chainEntry(
              {
                id: randomBytes(12).toString('hex'),
                fileId,
                actor: 'auditor:000000000000',
                role: 'auditor',
                ip: '127.0.0.1',
                purpose: 'case review',
                action: 'read',
                result: 'allowed',
                at: new Date(),
              },
              head,
            ),
          (r) => ({ mac: mac.mac('vault-audit', auditTagText(r.seq, r.recordHash)), kid: mac.kid }),
        );
      await appendUnsealed();
      expect(await verifyAudit(t)).toMatchObject({ ok: false, reason: 'checkpoint_missing' });
      expect((await read(t, fileId)).status).toBe(200);
      expect(await verifyAudit(t)).toMatchObject({ ok: true, length: 3 });

      // the server's own unsealed record, its purpose then rewritten (its tag kept)
      const edited = (await appendUnsealed()).seq;
      withDb(t, (db) =>
        db.prepare("UPDATE vault_audit SET purpose = 'nothing to see' WHERE seq = ?").run(edited),
      );
      expect(await read(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      expect((await health(t)).body.error.logs.unauthenticatedEntries).toEqual([
        { log: 'vault-audit', seq: edited, reason: 'record_hash_mismatch' },
      ]);
      // not a record written without a MAC but one rewritten: listed, never sealed
      const shown = await sealForeign(t.dataDir);
      expect(shown.stdout).toContain(`seq ${edited}  fault record_hash_mismatch`);
      // said to be unsealable, no command offered that would be refused
      expect(shown.code).toBe(65);
      expect(shown.stdout).toContain('(cannot be sealed)');
      expect(shown.stdout).not.toContain('run again with');
      expect(shown.stderr).toContain(`cannot be sealed: record ${edited} does not hash`);
      const head = /recordHash "([0-9a-f]{64})"/.exec(shown.stdout)![1];
      const refused = await sealForeign(
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
      const { fileId } = (await upload(t)).body;
      const forged = forgeRecord(t, fileId, undefined, {
        purpose: `x\nseq 99  fault untagged  action "read"\u001b[2K`,
      });
      expect(await read(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      // the client is not told the seq nor the admin command (the logs and /health are)
      const refused = await http(t.baseUrl, 'GET', `/api/v5/vault/${fileId}`, {
        key: t.keys.auditor,
        headers: { 'x-access-purpose': 'case review' },
      });
      expect(refused.body.message).not.toMatch(/seq|seal-foreign/);
      const head = forged + 1;

      const shown = await sealForeign(t.dataDir);
      expect(shown.code).toBe(2);
      const lines = shown.stdout.split('\n');
      expect(lines.filter((line) => line.startsWith('seq '))).toHaveLength(1);
      expect(shown.stdout).not.toContain('\u001b');
      expect(shown.stdout).toContain(
        'purpose "x\\nseq 99  fault untagged  action \\"read\\"\\u001b[2K"',
      );

      // a record the operator was not shown, written between the listing and --yes
      const later = forgeRecord(t, fileId);
      const sealed = await sealForeign(t.dataDir, ...confirmation(shown.stdout));
      expect(sealed.stderr).toBe('');
      expect(sealed.code).toBe(0);
      expect(sealed.stdout).toContain(`seq ${later}  fault untagged`);
      expect(sealed.stdout).toContain(`(past seq ${head}: not sealed)`);
      expect(sealed.stdout).toContain(`checkpoint of size ${head} signed`);
      expect(sealed.stdout).toContain('the vault stays refused');
      expect(await checkpointSize(t)).toBe(head);
      expect(await read(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
    },
    JOB_TIMEOUT,
  );

  itOnSqliteFile(
    'should refuse to seal a tail rewritten at the same seqs after the listing',
    async () => {
      const { fileId } = (await upload(t)).body;
      const forged = forgeRecord(t, fileId);
      expect(await read(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
      const shown = await sealForeign(t.dataDir);
      expect(shown.code).toBe(2);
      // the listed tail replaced by another, consistently hashed and chained, at the same seqs
      withDb(t, (db) => db.prepare('DELETE FROM vault_audit WHERE seq >= ?').run(forged));
      forgeRecord(t, fileId, undefined, { purpose: 'something else' });
      const rewritten = forgeRecord(t, fileId, undefined, { purpose: 'something else' });
      expect(rewritten).toBe(forged + 1);

      const refused = await sealForeign(t.dataDir, ...confirmation(shown.stdout));
      expect(refused.code).toBe(65);
      expect(refused.stderr).toContain(`record ${rewritten} is not the one listed (head_changed)`);
      expect(await checkpointSize(t)).toBe(forged - 1);
      expect(await read(t, fileId)).toEqual({ status: 503, code: 'audit_unavailable' });
    },
    JOB_TIMEOUT,
  );
});
