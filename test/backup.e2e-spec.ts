import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestDigest } from '@app/api/admin/backup';
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
  return runBackupWith({ DATA_DIR: dataDir }, '--to', to, ...args);
}

/**
 * `npm run backup -- --check <dir>`: no server, no DATA_DIR (one that does not exist: the
 * store-MAC keys of the manifest are not compared, whatever ./data holds).
 */
function checkBackup(dir: string, ...args: string[]) {
  return runBackupWith(
    { DATA_DIR: join(tmpdir(), `mdai-no-data-dir-${process.pid}`) },
    '--check',
    dir,
    ...args,
  );
}

/** `npm run backup -- <args>` with `env` over the test's environment. */
function runBackupWith(env: Record<string, string>, ...args: string[]) {
  const child = spawn(
    process.execPath,
    ['-r', '@swc-node/register', 'scripts/backup.ts', ...args],
    {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: '', NODE_ENV: 'test', ...env },
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
  /** The backup of the first test as it was made (a server ran on `to` since). */
  const pristine = join(to, '..', 'pristine');
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
    // two payroll periods closed: the site's closes log (sealed, two witness lines) is checked
    // as the ledgers and the vault audit are
    for (const day of ['01', '02']) {
      const closed = await http(
        live.baseUrl,
        'POST',
        `/api/v5/sites/${phone.siteId}/payroll/closes`,
        {
          key: live.keys.admin,
          body: { from: `2020-01-${day}`, to: `2020-01-${day}` },
        },
      );
      expect(closed.status).toBe(201);
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
    // the owner's only, as every other file of the backup
    expect(statSync(join(to, 'tlog-witness.ndjson')).mode & 0o777).toBe(0o600);

    expect(manifest.build).toMatchObject({
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      stamp: expect.stringMatching(/^[0-9a-f]{64}$/),
      stampOf: 'sources',
    });
    expect(manifest.layout).toEqual({
      witnessFile: { path: 'tlog-witness.ndjson', outside: false },
      uploadsDir: { path: 'uploads', outside: false },
    });
    // the backup checks out without a server (and is kept, untouched by the second server
    // below, for the damaged copies of the next test)
    const checked = await checkBackup(to);
    expect([checked.code, checked.stderr]).toEqual([0, '']);
    // --check without its directory says so (not "unknown argument")
    const noDir = await runBackupWith({}, '--check');
    expect(noDir.code).toBe(1);
    expect(noDir.stderr).toContain('the backup directory is missing');
    expect(checked.stdout).toMatch(
      new RegExp(
        `^backup ${to}: OK \\(${manifest.blobs.count + 3} files, \\d+ bytes, as the manifest says; the database intact; 3 logs of \\d+ entries verified against their latest checkpoints; ${manifest.witness.lines} witness lines agree with them; its store-MAC keys not compared: no STORE_MAC_KEY in the environment or DATA_DIR/secrets.json\\)\\n$`,
      ),
    );
    cpSync(to, pristine, { recursive: true });

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
    const closes = await http(b.baseUrl, 'GET', `/api/v5/sites/${phone.siteId}/payroll/closes`, {
      key: b.keys.auditor,
    });
    expect([closes.body.chain, closes.body.closes.length]).toEqual(['verified', 2]);
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

  it('should check a backup without a server: a truncated blob, a changed byte of the database, a missing file, an edited manifest, no manifest, a changed ledger entry, a changed ledger key copy, a witness line beyond the log and a --key that did not sign the checkpoints each fail with their line', async () => {
    const manifestOf = (dir: string) =>
      JSON.parse(readFileSync(join(dir, 'backup-manifest.json'), 'utf8'));
    /** The manifest written again as the backup would, after `change` (its digest holds). */
    const reseal = (dir: string, change: (m: any) => void) => {
      const m = manifestOf(dir);
      change(m);
      m.digest = manifestDigest(m);
      writeFileSync(join(dir, 'backup-manifest.json'), JSON.stringify(m, null, 2));
    };
    /** The database copy's size and digest put in the manifest after it was changed. */
    const resealDatabase = (dir: string) =>
      reseal(dir, (m) => {
        const bytes = readFileSync(join(dir, 'mdai.sqlite'));
        m.database.bytes = bytes.length;
        m.database.sha256 = createHash('sha256').update(bytes).digest('hex');
      });
    const damaged = (name: string) => {
      const dir = join(to, '..', `check-${name}`);
      cpSync(pristine, dir, { recursive: true });
      return dir;
    };
    const manifest = manifestOf(pristine);
    const blob = manifest.blobs.files[0];

    const truncated = damaged('truncated');
    truncateSync(join(truncated, blob.path), blob.bytes - 100);

    const flipped = damaged('flipped');
    const db = readFileSync(join(flipped, 'mdai.sqlite'));
    db[Math.floor(db.length / 2)] ^= 0x01;
    writeFileSync(join(flipped, 'mdai.sqlite'), db);

    const missing = damaged('missing');
    unlinkSync(join(missing, 'tlog-witness.ndjson'));

    // a blob taken out of the list (the digest of the manifest no longer holds)
    const edited = damaged('edited');
    const m = manifestOf(edited);
    m.blobs.files = m.blobs.files.slice(1);
    writeFileSync(join(edited, 'backup-manifest.json'), JSON.stringify(m, null, 2));

    // cut short before the manifest
    const cut = damaged('cut');
    unlinkSync(join(cut, 'backup-manifest.json'));

    // an entry of the ledger changed, the manifest made to agree: the chain check finds it
    const ledger = damaged('ledger');
    const edit = new Database(join(ledger, 'mdai.sqlite'));
    try {
      // past its append-only triggers, as someone with the file could
      for (const { name } of edit
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'attendance_logs'",
        )
        .all() as { name: string }[])
        edit.exec(`DROP TRIGGER "${name}"`);
      edit
        .prepare(
          "UPDATE attendance_logs SET meta = json_set(meta, '$.isOfflineSync', 0) WHERE seq = 3",
        )
        .run();
    } finally {
      edit.close();
    }
    resealDatabase(ledger);

    // a ledger link's key copy changed (its packet_id, which no hash covers; its data as it was),
    // the manifest made to agree: the check reads data as the server does, the link tampered
    const keyCopy = damaged('keycopy');
    const rekey = new Database(join(keyCopy, 'mdai.sqlite'));
    try {
      for (const { name } of rekey
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'attendance_logs'",
        )
        .all() as { name: string }[])
        rekey.exec(`DROP TRIGGER "${name}"`);
      rekey
        .prepare("UPDATE attendance_logs SET packet_id = 'moved-' || packet_id WHERE seq = 2")
        .run();
    } finally {
      rekey.close();
    }
    resealDatabase(keyCopy);

    // a witness line beyond the copied log (what a plain copy taken the wrong way round has)
    const beyond = damaged('beyond');
    const witness = readFileSync(join(beyond, 'tlog-witness.ndjson'), 'utf8').trimEnd().split('\n');
    const last = JSON.parse(witness[witness.length - 1]);
    const lineNo = witness.length + 1;
    writeFileSync(
      join(beyond, 'tlog-witness.ndjson'),
      `${witness.join('\n')}\n${JSON.stringify({ ...last, size: last.size + 1000 })}\n`,
    );
    reseal(beyond, (w) => {
      const bytes = readFileSync(join(beyond, 'tlog-witness.ndjson'));
      w.witness.bytes = bytes.length;
      w.witness.sha256 = createHash('sha256').update(bytes).digest('hex');
      w.witness.lines = lineNo;
    });

    // the vault audit's latest checkpoint row gone, the manifest made to agree (its unsealed
    // left empty): entries past the remaining checkpoint that no signed checkpoint vouches for
    const appended = damaged('appended');
    const cutSeal = new Database(join(appended, 'mdai.sqlite'));
    try {
      cutSeal
        .prepare(
          `DELETE FROM tlog_checkpoints WHERE log_id = (SELECT id FROM tlog_logs WHERE origin = 'mdai.local/vault-audit')
             AND size = (SELECT MAX(size) FROM tlog_checkpoints WHERE log_id = (SELECT id FROM tlog_logs WHERE origin = 'mdai.local/vault-audit'))`,
        )
        .run();
    } finally {
      cutSeal.close();
    }
    resealDatabase(appended);

    // the transparency log's tables gone, the manifest made to agree: logs with entries and
    // no checkpoint at all
    const untabled = damaged('untabled');
    const dropped = new Database(join(untabled, 'mdai.sqlite'));
    try {
      dropped.exec('DROP TABLE tlog_checkpoints; DROP TABLE tlog_logs;');
    } finally {
      dropped.close();
    }
    resealDatabase(untabled);

    // a blob replaced by a symlink to the same bytes outside the backup: never followed
    const linked = damaged('linked');
    unlinkSync(join(linked, blob.path));
    symlinkSync(join(pristine, blob.path), join(linked, blob.path));

    // missingBlobs not a list (the manifest made to agree): a problem line, not a crash
    const listless = damaged('listless');
    reseal(listless, (w) => (w.missingBlobs = { fileId: 'x' }));

    // the first payroll close's totals changed, the manifest made to agree: the second close
    // names another digest before it (the closes log of the site checked as a ledger is)
    const closes = damaged('closes');
    const reclose = new Database(join(closes, 'mdai.sqlite'));
    try {
      reclose.prepare("UPDATE payroll_closes SET closed_by = 'someone else' WHERE seq = 1").run();
    } finally {
      reclose.close();
    }
    resealDatabase(closes);

    const [t, f, mi, e, c, l, b, k, a, u, ln, ml, kc, pc] = await Promise.all([
      ...[truncated, flipped, missing, edited, cut, ledger, beyond].map((dir) => checkBackup(dir)),
      // the checkpoints against a key given (not the manifest's): another key signed them
      checkBackup(pristine, '--key', Buffer.alloc(32, 7).toString('base64')),
      checkBackup(appended),
      checkBackup(untabled),
      checkBackup(linked),
      checkBackup(listless),
      checkBackup(keyCopy),
      checkBackup(closes),
    ]);
    const problems = (r: { stderr: string }) => r.stderr.trimEnd().split('\n');
    expect([t.code, problems(t)]).toEqual([
      1,
      [
        `problem: "${blob.path}": ${blob.bytes - 100} bytes, the manifest says ${blob.bytes} (truncated)`,
      ],
    ]);
    expect(t.stdout).toBe(`backup ${truncated}: FAILED, 1 problem(s)\n`);
    expect([f.code, problems(f)[0]]).toEqual([
      1,
      `problem: "mdai.sqlite": its SHA-256 differs from the manifest's (changed)`,
    ]);
    expect([mi.code, problems(mi)]).toEqual([
      1,
      ['problem: missing: "tlog-witness.ndjson" (listed in the manifest)'],
    ]);
    expect(e.code).toBe(1);
    expect(problems(e)).toEqual([
      'problem: backup-manifest.json: its digest does not match its content: damaged since the backup (an unkeyed digest: it does not stop a deliberate edit)',
      `problem: not in the manifest: "${blob.path}"`,
      `problem: vault file "${blob.path.slice('uploads/'.length, -'.mdv'.length)}": live in the database copy, its blob neither listed nor named missing`,
    ]);
    expect([c.code, c.stderr]).toEqual([
      1,
      'problem: no backup-manifest.json: an incomplete backup (cut short before its manifest was written, or not a backup); take it again\n',
    ]);
    expect(l.code).toBe(1);
    expect(problems(l)).toContainEqual(
      expect.stringMatching(
        /^problem: "mdai\.local\/ledger\/[^"]+": verify:log FAIL chain broken at seq 3 \(record_hash_mismatch\)$/,
      ),
    );
    expect(kc.code).toBe(1);
    expect(problems(kc)).toContainEqual(
      expect.stringMatching(
        /^problem: "mdai\.local\/ledger\/[^"]+": verify:log FAIL chain broken at seq 2 \(record_hash_mismatch\)$/,
      ),
    );
    expect([pc.code, problems(pc)]).toEqual([
      1,
      [
        expect.stringMatching(
          /^problem: "mdai\.local\/payroll-closes\/[^"]+": verify:log FAIL chain broken at seq 2 \(prev_hash_mismatch\)$/,
        ),
        expect.stringMatching(
          /^problem: witness file line \d+: "mdai\.local\/payroll-closes\/[^"]+" size 1: its root is not the copied log's$/,
        ),
        expect.stringMatching(
          /^problem: witness file line \d+: "mdai\.local\/payroll-closes\/[^"]+" size 2 is beyond the copied log's 1 entries \(tail_cut\)$/,
        ),
      ],
    ]);
    // the copied log may hold entries beyond the last witness line (rows signed after the
    // witness was copied): the line is beyond however many it holds
    expect(b.code).toBe(1);
    expect(problems(b)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^problem: witness file line ${lineNo}: "${last.origin}" size ${last.size + 1000} is beyond the copied log's \\d+ entries \\(tail_cut\\)$`,
        ),
      ),
    ]);
    // the --key given is not the server's: the line says so, and that the manifest's keys sign
    expect(k.code).toBe(1);
    expect(problems(k)).toContainEqual(
      expect.stringMatching(
        /^problem: "mdai\.local\/vault-audit": its latest checkpoint \(size \d+\) is signed by none of the keys --key gives: the manifest's logKeys do \(the server's own keys at the backup\): --key is not that server's \/api\/v5\/tlog\/keys answer/,
      ),
    );
    expect([a.code, problems(a)]).toEqual([
      1,
      [
        expect.stringMatching(
          /^problem: "mdai\.local\/vault-audit": \d+ entries past its latest checkpoint \(size \d+\), not named in the manifest's unsealed: no signed checkpoint vouches for them \(added after the backup\?\)$/,
        ),
      ],
    ]);
    expect(u.code).toBe(1);
    expect(problems(u)).toContainEqual(
      expect.stringMatching(
        /^problem: the log "\/vault-audit": \d+ entries and no stored checkpoint in the copy, not named in the manifest's unsealed: no signed checkpoint vouches for them$/,
      ),
    );
    expect(problems(u)).toContainEqual(
      expect.stringMatching(
        /^problem: the log "\/ledger\/[^"]+": \d+ entries and no stored checkpoint/,
      ),
    );
    expect([ln.code, problems(ln)]).toEqual([
      1,
      [`problem: "${blob.path}": not a regular file (a symlink, directory or device)`],
    ]);
    expect([ml.code, ml.stderr]).toEqual([
      1,
      'problem: backup-manifest.json: missingBlobs is not a list\n',
    ]);
    // a check leaves the backup as it was (SQLite made nothing beside the database)
    expect(readdirSync(flipped).sort()).toEqual(readdirSync(pristine).sort());
    // thirteen checks at once, each a process: minutes on a loaded machine (not a speed check)
  }, 180_000);

  it("should quote the paths and origins of problem lines, and name whose keys do not sign: --key's, or the manifest's logKeys", async () => {
    const manifestOf = (dir: string) =>
      JSON.parse(readFileSync(join(dir, 'backup-manifest.json'), 'utf8'));
    const damaged = (name: string, change?: (m: any) => void) => {
      const dir = join(to, '..', `check-${name}`);
      cpSync(pristine, dir, { recursive: true });
      if (change) {
        const m = manifestOf(dir);
        change(m);
        m.digest = manifestDigest(m);
        writeFileSync(join(dir, 'backup-manifest.json'), JSON.stringify(m, null, 2));
      }
      return dir;
    };
    // a file whose name would forge a problem line of its own: quoted, one line
    const forging = damaged('forging');
    writeFileSync(join(forging, 'x\nproblem: none, all fine'), 'x');
    // the manifest's logKeys replaced by another key (the manifest made to agree), and by one
    // that is no key at all: named as the manifest's, never as --key's
    const otherKey = Buffer.alloc(32, 9).toString('base64');
    const rekeyed = damaged('rekeyed', (m) => (m.logKeys = { keys: [{ publicKey: otherKey }] }));
    const badKeys = damaged('badkeys', (m) => (m.logKeys = { keys: [{ publicKey: 'AAAA' }] }));
    // a ledger's site id (its rows' and its log's origin) given a newline in the database copy,
    // the manifest made to agree: the finding that names the site cannot forge a line either
    const forgedSite = damaged('forgedsite');
    const siteDb = new Database(join(forgedSite, 'mdai.sqlite'));
    let siteLine = '';
    try {
      for (const { name } of siteDb
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .all() as { name: string }[])
        siteDb.exec(`DROP TRIGGER "${name}"`);
      const { origin } = siteDb
        .prepare("SELECT origin FROM tlog_logs WHERE origin LIKE '%/ledger/%' LIMIT 1")
        .get() as { origin: string };
      const site = origin.slice(origin.lastIndexOf('/') + 1);
      const forged = `${site}\nproblem: none, all fine`;
      siteDb
        .prepare('UPDATE tlog_logs SET origin = ? WHERE origin = ?')
        .run(`${origin}\nproblem: none, all fine`, origin);
      siteDb.prepare('UPDATE attendance_logs SET site_id = ? WHERE site_id = ?').run(forged, site);
      siteLine = `checkpoint origin matches the export's site (${JSON.stringify(forged)})`;
    } finally {
      siteDb.close();
    }
    const sm = manifestOf(forgedSite);
    const dbBytes = readFileSync(join(forgedSite, 'mdai.sqlite'));
    sm.database.bytes = dbBytes.length;
    sm.database.sha256 = createHash('sha256').update(dbBytes).digest('hex');
    sm.digest = manifestDigest(sm);
    writeFileSync(join(forgedSite, 'backup-manifest.json'), JSON.stringify(sm, null, 2));
    const [fo, rk, bk, fs] = await Promise.all(
      [forging, rekeyed, badKeys, forgedSite].map((dir) => checkBackup(dir)),
    );
    expect(fs.code).toBe(1);
    expect(fs.stderr).toContain(siteLine);
    expect(
      fs.stderr
        .trimEnd()
        .split('\n')
        .filter((l) => !l.startsWith('problem: ')),
    ).toEqual([]);
    expect(fs.stderr).not.toMatch(/^problem: none/m);
    const problems = (r: { stderr: string }) => r.stderr.trimEnd().split('\n');
    expect([fo.code, fo.stderr]).toEqual([
      1,
      'problem: not in the manifest: "x\\nproblem: none, all fine"\n',
    ]);
    expect(rk.code).toBe(1);
    expect(problems(rk)).toContainEqual(
      expect.stringMatching(
        /^problem: "mdai\.local\/vault-audit": its latest checkpoint \(size \d+\) is signed by none of the manifest's logKeys: the keys the backup recorded do not sign its own checkpoints/,
      ),
    );
    // keys in the manifest that are none: named as the manifest's fault, never as --key's
    expect(bk.code).toBe(1);
    expect(problems(bk)).toContainEqual(
      'problem: "mdai.local/vault-audit": the manifest\'s logKeys: a key of the list is not a 32-byte Ed25519 key',
    );
    expect(bk.stderr).not.toContain('--key');
  }, 120_000);

  it('should copy a TLOG_WITNESS_FILE and an UPLOADS_DIR inside DATA_DIR once, to their paths there, so a server with the same settings on the copy finds them', async () => {
    const custom = (dir: string) => ({
      DATA_DIR: dir,
      TLOG_WITNESS_FILE: 'logs/witness.ndjson',
      UPLOADS_DIR: join(dir, 'vault', 'blobs'),
    });
    const dataDir = mkdtempSync(join(tmpdir(), 'mdai-backup-layout-'));
    mkdirSync(join(dataDir, 'vault', 'blobs'), { recursive: true });
    const target = join(to, '..', 'layout');
    const t = await startTestApp(custom(dataDir));
    let r: TestApp | undefined;
    try {
      const bytes = jpegBytes(2500);
      const stored = await http(t.baseUrl, 'POST', '/api/v5/vault', {
        key: t.keys.admin,
        rawBody: bytes,
        headers: { 'content-type': 'image/jpeg' },
      });
      expect(stored.status).toBe(201);
      const made = await runBackupWith(custom(dataDir), '--to', target);
      expect([made.code, made.stderr]).toEqual([0, '']);
      expect(readdirSync(target).sort()).toEqual([
        'backup-manifest.json',
        'logs',
        'mdai.sqlite',
        'secrets.json',
        'vault',
      ]);
      expect(readdirSync(join(target, 'vault', 'blobs'))).toEqual([`${stored.body.fileId}.mdv`]);
      expect(
        readFileSync(join(target, 'logs', 'witness.ndjson')).equals(
          readFileSync(join(dataDir, 'logs', 'witness.ndjson')).subarray(
            0,
            readFileSync(join(target, 'logs', 'witness.ndjson')).length,
          ),
        ),
      ).toBe(true);
      const manifest = JSON.parse(readFileSync(join(target, 'backup-manifest.json'), 'utf8'));
      expect(manifest.layout).toEqual({
        witnessFile: { path: 'logs/witness.ndjson', outside: false },
        uploadsDir: { path: 'vault/blobs', outside: false },
      });
      expect(manifest.witness.path).toBe('logs/witness.ndjson');
      expect(manifest.witness.lines).toBeGreaterThan(0);
      expect(manifest.notCopied).toEqual([]);
      const checked = await checkBackup(target);
      expect([checked.code, checked.stderr]).toEqual([0, '']);

      // restored: the copy is the DATA_DIR of a server with the same settings
      r = await startTestApp(custom(target));
      const audit = await http(r.baseUrl, 'GET', '/api/v5/vault/audit/verify', {
        key: r.keys.auditor,
      });
      expect([audit.status, audit.body.ok]).toEqual([200, true]);
      expect(audit.body.witnessedCheckpoints).toBeGreaterThan(0);
      const res = await fetch(`${r.baseUrl}/api/v5/vault/${stored.body.fileId}`, {
        headers: { 'x-api-key': r.keys.auditor, 'x-access-purpose': 'restore check' },
      });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    } finally {
      await r?.close();
      await t.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    // several backup processes in a row, each loading the TypeScript on a machine that may be
    // running the rest of the suite beside it (60 s was passed at a load of ~15)
  }, 180_000);

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
      // checked, it is whole (without secrets.json: the manifest's log keys verify its
      // checkpoints), with the gaps the backup exited 2 for
      const checked = await checkBackup(target);
      expect([checked.code, checked.stderr]).toEqual([
        2,
        'warning: the manifest names 1 vault file(s) without their blob (missingBlobs) and 1 log(s) with entries beyond their last checkpoint (unsealed): the backup exited 2 for them; take it again for one without\n',
      ]);
      expect(checked.stdout).toMatch(/: OK \(/);

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
    // several backup processes in a row, each loading the TypeScript on a machine that may be
    // running the rest of the suite beside it (60 s was passed at a load of ~15)
  }, 180_000);
});
