import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyLedger } from './support/ledger-client';
import { jpegBytes } from './support/image-bytes';
import { http, MONGODB_URI, startTestApp, TestApp } from './support/test-app';
import { consistencyHolds, readCheckpointNote } from './support/tlog-check';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';

const ROOT = join(__dirname, '..');
/** Packets per sync of the load. */
const PER = 5;

/** `npm run backup -- --to <dir>` on `dataDir`, as an operator runs it beside the server. */
function runBackup(dataDir: string, to: string, ...args: string[]) {
  const child = spawn(
    process.execPath,
    ['-r', '@swc-node/register', 'scripts/backup.ts', '--to', to, ...args],
    {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', NODE_ENV: 'test' },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
}

/**
 * The backup is taken while the server takes syncs (ledger appends, checkpoints, witness lines)
 * and vault uploads (blobs, audit entries): a second server started on the copy must find
 * everything acknowledged before the backup started, and its ledger, vault audit and
 * transparency log must verify (a plain copy of the directory fails here: the witness file
 * copied after the database holds checkpoints beyond the copied log, `tail_cut`). SQLite only:
 * MongoDB is backed up with mongodump.
 */
(MONGODB_URI ? describe.skip : describe)('npm run backup under load (e2e, SQLite)', () => {
  let a: TestApp | undefined;
  let b: TestApp | undefined;
  const to = join(mkdtempSync(join(tmpdir(), 'mdai-backup-')), 'copy');
  afterAll(async () => {
    await b?.close({ keepData: true });
    await a?.close();
    rmSync(join(to, '..'), { recursive: true, force: true });
  });

  it('should give a DATA_DIR on which a second server verifies and holds everything acknowledged before it', async () => {
    a = await startTestApp();
    const live = a;
    const phone = await enrollPhone(live.baseUrl, live.keys.admin);
    let synced = 0;
    let lastCheckpoint: { size: number; root: Buffer } | undefined;
    const files = new Map<string, Buffer>();
    /** Every round of the load run during the backup, with when its answers came back. */
    const during: { ackedAt: number; fileId: string; bytes: Buffer }[] = [];
    let round = 0;
    let stop = false;
    let backingUp = false;
    let roundsDuring = 0;
    const loadRound = async () => {
      const packets = Array.from({ length: PER }, () => signPacket(phone));
      const bytes = jpegBytes(4096 + round, round % 251);
      round++;
      const [sync, upload] = await Promise.all([
        syncBatch(live.baseUrl, phone.token, packets),
        http(live.baseUrl, 'POST', '/api/v5/vault', {
          key: live.keys.admin,
          rawBody: bytes,
          headers: { 'content-type': 'image/jpeg' },
        }),
      ]);
      expect(sync.status).toBe(200);
      expect(sync.body.accepted).toBe(PER);
      expect(upload.status).toBe(201);
      return { sync: sync.body, fileId: upload.body.fileId as string, bytes };
    };
    // acknowledged before the backup starts: must all be in the copy
    for (let i = 0; i < 6; i++) {
      const done = await loadRound();
      synced += PER;
      files.set(done.fileId, done.bytes);
      const cp = readCheckpointNote(done.sync.checkpoints[0].note);
      lastCheckpoint = { size: cp.size, root: cp.root };
    }
    const load = (async () => {
      while (!stop) {
        const done = await loadRound();
        if (backingUp) {
          roundsDuring++;
          during.push({ ackedAt: Date.now(), fileId: done.fileId, bytes: done.bytes });
        }
      }
    })();
    backingUp = true;
    const result = await runBackup(live.dataDir, to);
    backingUp = false;
    stop = true;
    await load;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // the server took syncs and uploads while the backup ran
    expect(roundsDuring).toBeGreaterThanOrEqual(1);

    const manifest = JSON.parse(readFileSync(join(to, 'backup-manifest.json'), 'utf8'));
    expect(manifest.database.quickCheck).toBe('ok');
    expect(manifest.secrets).toBe('copied');
    expect(manifest.witness.lines).toBeGreaterThan(0);
    expect(manifest.build.schema['vault.files']).toBeGreaterThanOrEqual(1);
    expect(manifest.vaultKeyVersions).toEqual(['v1']);
    expect(manifest.missingBlobs).toEqual([]);
    expect(manifest.unsealed).toEqual([]);
    const blobs = readdirSync(join(to, 'uploads')).sort();
    expect(blobs).toEqual(manifest.blobs.files.map((f: any) => f.path.slice('uploads/'.length)));
    // the copy's witness file is what the live one was at some instant: a prefix of it now
    const liveWitness = readFileSync(join(live.dataDir, 'tlog-witness.ndjson'));
    const copiedWitness = readFileSync(join(to, 'tlog-witness.ndjson'));
    expect(liveWitness.subarray(0, copiedWitness.length).equals(copiedWitness)).toBe(true);

    // a second server on the copy, while the first one still runs
    b = await startTestApp({ DATA_DIR: to });
    const ledger = await verifyLedger(b, phone.siteId);
    expect(ledger).toMatchObject({ ok: true });
    // and what was acknowledged during the backup before its snapshot (manifest.snapshotAt)
    const beforeSnapshot = during.filter((r) => r.ackedAt < Date.parse(manifest.snapshotAt));
    for (const r of beforeSnapshot) files.set(r.fileId, r.bytes);
    expect(ledger.length).toBeGreaterThanOrEqual(synced + beforeSnapshot.length * PER);
    expect(ledger.witnessedCheckpoints).toBeGreaterThan(0);
    const audit = await http(b.baseUrl, 'GET', '/api/v5/vault/audit/verify', {
      key: b.keys.auditor,
    });
    expect(audit.status).toBe(200);
    expect(audit.body).toMatchObject({ ok: true });
    expect(audit.body.witnessedCheckpoints).toBeGreaterThan(0);
    // the copied log extends what the server had signed before the backup
    const latest = await http(b.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/checkpoint`, {
      key: b.keys.auditor,
    });
    expect(latest.status).toBe(200);
    const now = readCheckpointNote(latest.body.note);
    expect(now.size).toBeGreaterThanOrEqual(lastCheckpoint!.size);
    const proof = await http(
      b.baseUrl,
      'GET',
      `/api/v5/ledger/${phone.siteId}/proof/consistency?first=${lastCheckpoint!.size}&second=${now.size}`,
      { key: b.keys.auditor },
    );
    expect(proof.status).toBe(200);
    expect(
      consistencyHolds(
        lastCheckpoint!.size,
        now.size,
        lastCheckpoint!.root,
        now.root,
        proof.body.proof,
      ),
    ).toBe(true);
    // every vault file stored before the backup reads back, byte for byte
    for (const [fileId, bytes] of files) {
      const res = await fetch(`${b.baseUrl}/api/v5/vault/${fileId}`, {
        headers: { 'x-api-key': b.keys.auditor, 'x-access-purpose': 'restore check' },
      });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    }
  }, 120_000);

  it('should name a vault file whose blob is missing and a log left unsealed (exit code 2), leave secrets.json out when asked, and refuse a target inside DATA_DIR or not empty', async () => {
    const t = await startTestApp();
    try {
      const stored = await http(t.baseUrl, 'POST', '/api/v5/vault', {
        key: t.keys.admin,
        rawBody: jpegBytes(2048),
        headers: { 'content-type': 'image/jpeg' },
      });
      expect(stored.status).toBe(201);
      const kept = await http(t.baseUrl, 'POST', '/api/v5/vault', {
        key: t.keys.admin,
        rawBody: jpegBytes(3000),
        headers: { 'content-type': 'image/jpeg' },
      });
      expect(kept.status).toBe(201);
      // a damaged DATA_DIR: the blob of a live file is gone
      unlinkSync(join(t.dataDir, 'uploads', `${stored.body.fileId}.mdv`));
      // and the vault audit's last checkpoint row gone (entries a crash left unsealed): every
      // snapshot shows the same, so no seal is in flight and the backup stops trying
      const db = new Database(join(t.dataDir, 'mdai.sqlite'));
      let audited: number;
      try {
        audited = (db.prepare('SELECT MAX(seq) AS n FROM vault_audit').get() as { n: number }).n;
        db.prepare(
          `DELETE FROM tlog_checkpoints WHERE size = ? AND log_id =
             (SELECT id FROM tlog_logs WHERE origin = 'mdai.local/vault-audit')`,
        ).run(audited);
      } finally {
        db.close();
      }
      const target = join(to, '..', 'damaged');
      const made = await runBackup(t.dataDir, target, '--without-secrets');
      expect(made.code).toBe(2);
      expect(made.stderr).toContain('1 vault file(s) of the copy have no blob');
      expect(made.stderr).toContain(
        '1 log(s) had entries beyond their last checkpoint in each of 4 snapshots',
      );
      const manifest = JSON.parse(readFileSync(join(target, 'backup-manifest.json'), 'utf8'));
      expect(manifest.missingBlobs).toEqual([
        { fileId: stored.body.fileId, why: 'missing_from_uploads' },
      ]);
      expect(manifest.blobs.files.map((f: any) => f.path)).toEqual([
        `uploads/${kept.body.fileId}.mdv`,
      ]);
      expect(manifest.secrets).toBe('left out');
      expect(manifest.snapshotAttempts).toBe(4);
      expect(manifest.unsealed).toEqual([
        { log: 'mdai.local/vault-audit', entries: audited, checkpoint: expect.any(Number) },
      ]);
      expect(manifest.unsealed[0].checkpoint).toBeLessThan(audited);
      expect(existsSync(join(target, 'secrets.json'))).toBe(false);

      const again = await runBackup(t.dataDir, target);
      expect([again.code, again.stderr]).toEqual([
        1,
        `config error: backup: ${target} is not empty\n`,
      ]);
      const refusal =
        "config error: backup: --to must be outside DATA_DIR, the uploads and the witness file's directory (and not contain them)\n";
      const inside = await runBackup(t.dataDir, join(t.dataDir, 'backup'));
      expect([inside.code, inside.stderr]).toEqual([1, refusal]);
      expect(existsSync(join(t.dataDir, 'backup'))).toBe(false);
      // through a symlink to DATA_DIR: the same place
      const link = `${target}-link`;
      symlinkSync(t.dataDir, link);
      try {
        const linked = await runBackup(t.dataDir, join(link, 'backup'));
        expect([linked.code, linked.stderr]).toEqual([1, refusal]);
        expect(existsSync(join(t.dataDir, 'backup'))).toBe(false);
        // and below a directory that does not exist yet
        const deeper = await runBackup(t.dataDir, join(link, 'new', 'backup'));
        expect([deeper.code, deeper.stderr]).toEqual([1, refusal]);
        expect(existsSync(join(t.dataDir, 'new'))).toBe(false);
      } finally {
        rmSync(link, { force: true });
      }
    } finally {
      await t.close();
    }
  }, 60_000);
});
