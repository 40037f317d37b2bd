import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, secretsOf, startTestApp, TestApp } from './support/test-app';
import { readCheckpointNote, signCheckpointNote } from './support/tlog-check';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';

const ROOT = join(__dirname, '..');

/** Runs a command without blocking the event loop (the test server keeps serving). */
function run(
  command: string,
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The Python block of docs/ledger-format.md §7, exactly as published. */
function pythonCheck(): string {
  const doc = readFileSync(join(ROOT, 'docs/ledger-format.md'), 'utf8');
  const start = doc.indexOf('```python\n', doc.indexOf('## 7.'));
  return doc.slice(start + '```python\n'.length, doc.indexOf('```\n', start + 10));
}

/** `npm run verify:log` (scripts/verify-log.ts) with `args`. */
const verifyLog = (...args: string[]) =>
  run(process.execPath, ['-r', '@swc-node/register', 'scripts/verify-log.ts', ...args]);

describe('docs/ledger-format.md: independent and offline verifiers (e2e)', () => {
  let t: TestApp;
  let dir: string;
  /** One site's ledger of 5 links, synced in two batches (2, then 3), and what verifies it. */
  let site: {
    /** The answer of the first sync (receipts at tree size 2) and of the second (size 5). */
    first: any;
    last: any;
    exported: string;
    lines: string[];
    key: string;
    signedAt: number;
    files: { script: string; export: string; note: string; receipt: string };
  };
  /** A file of `dir` holding `content` (JSON unless a string). */
  let n = 0;
  const file = (content: unknown, ext = 'json') => {
    const path = join(dir, `f${++n}.${ext}`);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
    dir = mkdtempSync(join(tmpdir(), 'mdai-ledger-format-'));
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const first = await syncBatch(t.baseUrl, phone.token, [signPacket(phone), signPacket(phone)]);
    const last = await syncBatch(t.baseUrl, phone.token, [
      signPacket(phone, { geo: { lat: 28.6, lng: 77.2, accuracyM: 12 } }),
      signPacket(phone, { type: 'check_out' }),
      signPacket(phone),
    ]);
    const exported = await (
      await fetch(`${t.baseUrl}/api/v5/ledger/${phone.siteId}/export`, {
        headers: { 'x-api-key': t.keys.auditor },
      })
    ).text();
    const key = (await http(t.baseUrl, 'GET', '/api/v5/tlog/keys')).body.keys[0]
      .publicKey as string;
    site = {
      first: first.body,
      last: last.body,
      exported,
      lines: exported.split('\n').filter(Boolean),
      key,
      signedAt: readCheckpointNote(last.body.checkpoints[0].note).timestamp!,
      files: {
        script: file(pythonCheck(), 'py'),
        export: file(exported, 'ndjson'),
        note: file(last.body.checkpoints[0].note, 'txt'),
        receipt: file(last.body.results[1]),
      },
    };
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  jest.setTimeout(120_000);

  const python = (exportFile: string, receipt = site.files.receipt) =>
    run('/usr/bin/python3', [site.files.script, exportFile, site.files.note, site.key, receipt]);
  /** verify:log of `exportFile` against the latest checkpoint with the key, and a receipt file. */
  const ours = (exportFile: string, receipt = site.files.receipt) =>
    verifyLog(exportFile, '--checkpoint', site.files.note, '--key', site.key, '--receipt', receipt);

  it('should verify a real export, checkpoint and receipt with the Python script and npm run verify:log', async () => {
    const [good, ok] = await Promise.all([python(site.files.export), ours(site.files.export)]);
    expect(good.stderr).toBe('');
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('ok   receipt: seq 4 is in the signed tree');
    expect(good.stdout).toContain(
      `ok   signed at ${new Date(site.signedAt).toISOString().replace('Z', '+00:00')}`,
    );
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim().split('\n').at(-1)).toBe('OK');
  });

  it('should take the receipt alone or a sync answer of one result, and fail a forged or renamed receipt', async () => {
    // the receipt object alone, and a sync answer of one result, are receipts as well; an
    // answer of several says to pick one (the receipt alone answered exit 2, "Cannot read
    // properties of undefined (reading 'length')")
    const { last } = site;
    const withReceipt = (content: unknown) => ours(site.files.export, file(content));
    const [alone, oneResult, forged, renamed, several, rejected] = await Promise.all([
      withReceipt(last.results[1].receipt),
      withReceipt({ ...last, results: [last.results[1]] }),
      withReceipt({ ...last.results[1].receipt, leafHash: 'ab'.repeat(32) }),
      // a seq edited to name another entry: the proof is of leaf index 3, which is seq 4
      withReceipt({ ...last.results[1].receipt, seq: 2 }),
      withReceipt(last),
      withReceipt({ packetId: 'x', status: 'rejected', reason: 'bad' }),
    ]);
    expect([alone.status, alone.stderr]).toEqual([0, '']);
    expect(alone.stdout).toContain('ok   receipt: seq 4 is in the signed tree of 5');
    expect([oneResult.status, oneResult.stderr]).toEqual([0, '']);
    expect(oneResult.stdout).toContain('ok   receipt: seq 4 is in the signed tree of 5');
    // the answer carries the checkpoint the receipt was issued against: checked too
    expect(oneResult.stdout).toContain(
      `ok   receipt's checkpoint ${last.checkpoints[0].origin} size 5 signed by the key`,
    );
    expect(forged.status).toBe(1);
    expect(forged.stdout).toContain('FAIL receipt: seq 4');
    expect(renamed.status).toBe(1);
    expect(renamed.stdout).toContain('FAIL receipt: seq 2');
    expect(several.status).toBe(2);
    expect(several.stderr).toContain('a sync answer with 3 results: pick one');
    expect(rejected.status).toBe(2);
    expect(rejected.stderr).toContain('not a receipt (a result rejected, no receipt)');
  });

  it('should refuse a receipt of no tree, a negative tree or a leaf outside its tree (verify:log printed OK for treeSize 0 and -1)', async () => {
    const receipt = site.last.results[1].receipt;
    expect([receipt.seq, receipt.leafIndex, receipt.treeSize]).toEqual([4, 3, 5]);
    const withReceipt = (content: unknown) => ours(site.files.export, file(content));
    const [none, negative, outside, python0] = await Promise.all([
      withReceipt({ ...receipt, treeSize: 0 }),
      withReceipt({ ...receipt, treeSize: -1 }),
      withReceipt({ ...receipt, treeSize: 3 }),
      python(
        site.files.export,
        file({ ...site.last.results[1], receipt: { ...receipt, treeSize: 0 } }),
      ),
    ]);
    for (const [answer, wrong] of [
      [none, 'treeSize, leafIndex'],
      [negative, 'treeSize, leafIndex'],
      [outside, 'leafIndex'],
    ] as const) {
      expect(answer.stdout).not.toContain('OK');
      expect(answer.status).toBe(2);
      expect(answer.stderr).toContain(`not a receipt: ${wrong} missing or malformed`);
    }
    expect(python0.status).not.toBe(0);
    expect(python0.stdout).not.toContain('OK');
  });

  it("should check a size-0 checkpoint's root against the empty tree's (SHA-256 of the empty string), the Python script and npm run verify:log both", async () => {
    // verify:log took any root for size 0, the Python script failed the empty tree's root
    const signed = readCheckpointNote(site.last.checkpoints[0].note);
    const logKey = secretsOf(t.dataDir).TLOG_SIGNING_KEY;
    const noteOf = (root: Buffer) =>
      file(signCheckpointNote({ origin: signed.origin, size: 0, root }, logKey), 'txt');
    const empty = noteOf(createHash('sha256').digest());
    const forged = noteOf(createHash('sha256').update('not the empty tree').digest());
    const check = (note: string) =>
      Promise.all([
        run('/usr/bin/python3', [site.files.script, site.files.export, note, site.key]),
        verifyLog(site.files.export, '--checkpoint', note, '--key', site.key),
      ]);
    const [[pyEmpty, oursEmpty], [pyForged, oursForged]] = await Promise.all([
      check(empty),
      check(forged),
    ]);
    expect([pyEmpty.status, pyEmpty.stderr]).toEqual([0, '']);
    expect(pyEmpty.stdout).toContain(
      'ok   Merkle root of the first 0 links matches the checkpoint',
    );
    expect([oursEmpty.status, oursEmpty.stderr]).toEqual([0, '']);
    expect(oursEmpty.stdout).toContain(
      'ok   Merkle root of the first 0 links equals the checkpoint root',
    );
    expect(pyForged.status).not.toBe(0);
    expect(pyForged.stderr).toContain('Merkle root differs from the signed checkpoint');
    expect(oursForged.status).toBe(1);
    expect(oursForged.stdout).toContain(
      'FAIL Merkle root of the first 0 links equals the checkpoint root',
    );
  });

  it("should verify a receipt of an older tree against today's checkpoint through the export, and fail one whose proof or root was edited", async () => {
    // a receipt kept from the first sync (tree of 2) and the checkpoint fetched since (tree of
    // 5): the export holds every leaf, so the receipt's proof is checked against the root of
    // its first 2 links (FAILED before, "receipt: seq 1 is in the signed tree of 5")
    const { first, last } = site;
    const kept = first.results[0];
    expect(kept.receipt.treeSize).toBe(2);
    const proof: string[] = kept.receipt.inclusionProof;
    const otherRoot = Buffer.alloc(32, 7).toString('base64');
    const editedNote = (first.checkpoints[0].note as string).replace(
      readCheckpointNote(first.checkpoints[0].note).root.toString('base64'),
      otherRoot,
    );
    expect(editedNote).not.toBe(first.checkpoints[0].note);
    const withReceipt = (content: unknown) => ours(site.files.export, file(content));
    const keptFile = file(kept);
    const editedProofFile = file({
      ...kept,
      receipt: { ...kept.receipt, inclusionProof: [otherRoot, ...proof.slice(1)] },
    });
    const [pyKept, pyEdited, result, alone, answer, editedProof, editedRoot, newer] =
      await Promise.all([
        python(site.files.export, keptFile),
        python(site.files.export, editedProofFile),
        withReceipt(kept),
        withReceipt(kept.receipt),
        withReceipt({ ...first, results: [kept] }),
        ours(site.files.export, editedProofFile),
        withReceipt({
          ...first,
          results: [kept],
          checkpoints: [{ ...first.checkpoints[0], note: editedNote }],
        }),
        // a receipt of a newer tree than the checkpoint given: that checkpoint cannot judge it
        verifyLog(
          site.files.export,
          '--checkpoint',
          file(first.checkpoints[0].note, 'txt'),
          '--key',
          site.key,
          '--receipt',
          file(last.results[1]),
        ),
      ]);
    // the Python checker of §7 as well
    expect([pyKept.status, pyKept.stderr]).toEqual([0, '']);
    expect(pyKept.stdout).toContain(
      'ok   receipt: seq 1 is in the signed tree of 5 (receipt at tree size 2)',
    );
    expect(pyEdited.status).not.toBe(0);
    expect(pyEdited.stderr).toContain('receipt does not prove inclusion');
    for (const good of [result, alone, answer]) {
      expect([good.status, good.stderr]).toEqual([0, '']);
      expect(good.stdout).toContain(
        "ok   receipt: seq 1 is in the signed tree of 5 (receipt at tree size 2, checkpoint at 5: its proof verifies against the root of the export's first 2 links",
      );
      expect(good.stdout.trim().split('\n').at(-1)).toBe('OK');
    }
    expect(answer.stdout).toContain(
      `ok   receipt's checkpoint ${first.checkpoints[0].origin} size 2 signed by the key`,
    );
    expect(answer.stdout).toContain(
      "ok   receipt's checkpoint: its root is the root of the export's first 2 links",
    );
    expect(editedProof.status).toBe(1);
    expect(editedProof.stdout).toContain(
      "FAIL receipt: seq 1: its inclusion proof does not verify against the root of the export's first 2 links (receipt at tree size 2, checkpoint at 5)",
    );
    expect(editedProof.stdout).not.toContain('ok   receipt: seq 1 is in the signed tree');
    expect(editedProof.stdout.trim().split('\n').at(-1)).toBe('FAILED');
    expect(editedRoot.status).toBe(1);
    expect(editedRoot.stdout).toContain(
      `FAIL receipt's checkpoint ${first.checkpoints[0].origin} size 2 signed by the key`,
    );
    expect(editedRoot.stdout).toContain("FAIL receipt's checkpoint (");
    expect(editedRoot.stdout.trim().split('\n').at(-1)).toBe('FAILED');
    expect(newer.status).toBe(1);
    expect(newer.stdout).toContain(
      'FAIL receipt: seq 4: receipt at tree size 5, checkpoint at 2: the checkpoint is older than the receipt',
    );
  });

  it('should fail edited and cut exports, the Python script and npm run verify:log both', async () => {
    const cut = file(site.lines.slice(0, 3).join('\n') + '\n', 'ndjson');
    const edited = file(site.exported.replace('"check_out"', '"check_in"'), 'ndjson');
    const [pyCut, pyEdited, ourCut, ourEdited] = await Promise.all([
      python(cut),
      python(edited),
      ours(cut),
      ours(edited),
    ]);
    expect(pyCut.status).not.toBe(0);
    expect(pyEdited.status).not.toBe(0);
    expect(ourCut.status).toBe(1);
    expect(ourCut.stdout).toContain('history was cut');
    expect(ourEdited.status).toBe(1);
    // an edit inside the checkpoint's size: the break is the one fault, not also a cut history
    // (the walk stops at the break, so the links after it are not counted) or a root mismatch
    expect(ourEdited.stdout).toContain('FAIL chain broken at seq 4 (record_hash_mismatch)');
    expect(ourEdited.stdout).toContain(
      "--   not checked: the export's length and Merkle root against the checkpoint (size 5): the chain breaks inside it, at seq 4",
    );
    expect(ourEdited.stdout).not.toContain('history was cut');
    expect(ourEdited.stdout).not.toContain('FAIL Merkle root');
  });

  it("should take a verifier key string as --key and the GET …/checkpoint answer as --checkpoint, and name a truncated export's line", async () => {
    const origin = site.last.checkpoints[0].origin as string;
    const vkey = (
      await http(t.baseUrl, 'GET', `/api/v5/tlog/keys?origin=${encodeURIComponent(origin)}`)
    ).body.keys[0].verifierKey as string;
    // the JSON answer of GET …/checkpoint as --checkpoint: its note is taken
    const answer = await http(
      t.baseUrl,
      'GET',
      `/api/v5/ledger/${site.lines.length && JSON.parse(site.lines[0]).siteId}/checkpoint`,
      { key: t.keys.auditor },
    );
    expect(answer.body.note).toEqual(expect.any(String));
    // an export cut inside a line: the error names the line
    const { lines } = site;
    const halfLine = file(`${lines.slice(0, 2).join('\n')}\n${lines[2].slice(0, 20)}\n`, 'ndjson');
    const [withVkey, fromAnswer, truncated] = await Promise.all([
      verifyLog(site.files.export, '--checkpoint', site.files.note, '--key', vkey),
      verifyLog(site.files.export, '--checkpoint', file(answer.body), '--key', site.key),
      verifyLog(halfLine, '--checkpoint', site.files.note, '--key', site.key),
    ]);
    expect(withVkey.stderr).toBe('');
    expect(withVkey.stdout).toContain('OK');
    expect([fromAnswer.status, fromAnswer.stderr]).toEqual([0, '']);
    expect(truncated.status).toBe(2);
    expect(truncated.stderr).toContain('line 3 is not JSON');
  });

  it("should check the time signed into the note against the signing key's window of the /api/v5/tlog/keys answer, and print the window", async () => {
    const { signedAt } = site;
    const keysAnswer = (await http(t.baseUrl, 'GET', '/api/v5/tlog/keys')).body;
    const withKeys = (answer: unknown, note = site.files.note) =>
      verifyLog(site.files.export, '--checkpoint', note, '--key', file(answer));
    // that retired key's note with the time left out (what a thief of the key would do): its
    // window cannot be checked from the note, so it fails too
    const signedNote = readCheckpointNote(site.last.checkpoints[0].note);
    const logKey = secretsOf(t.dataDir).TLOG_SIGNING_KEY;
    const untimedNote = file(
      signCheckpointNote(
        { origin: signedNote.origin, size: signedNote.size, root: signedNote.root },
        logKey,
      ),
      'txt',
    );
    const retiredAt = new Date(signedAt - 3600_000).toISOString();
    const [inWindow, retired, untimed] = await Promise.all([
      withKeys(keysAnswer),
      // the same key listed as retired an hour before the checkpoint was signed
      withKeys({
        keys: [
          {
            ...keysAnswer.keys[0],
            status: 'retired',
            notBefore: new Date(0).toISOString(),
            notAfter: retiredAt,
          },
        ],
      }),
      withKeys(
        {
          keys: [{ ...keysAnswer.keys[0], status: 'retired', notAfter: new Date().toISOString() }],
        },
        untimedNote,
      ),
    ]);
    expect(inWindow.stderr).toBe('');
    expect(inWindow.status).toBe(0);
    const at = new Date(signedAt).toISOString();
    expect(inWindow.stdout).toContain(`ok   signed at ${at} (the time in the signed note)`);
    // the active key of a log never rotated has no window ends: said so, not "[…, …]"
    expect(keysAnswer.keys[0]).not.toHaveProperty('notBefore');
    expect(inWindow.stdout).toContain(
      `ok   signed inside the key's window [no notBefore: open, no notAfter: open (the active key)]: signed at ${at}`,
    );
    expect(retired.status).toBe(1);
    expect(retired.stdout).toContain(
      `FAIL signed inside the key's window [1970-01-01T00:00:00.000Z, ${retiredAt}]: signed at ${at}`,
    );
    expect(untimed.status).toBe(1);
    expect(untimed.stdout).toContain('FAIL no signing time in a note of a retired key');
  });

  it('should verify with the Python script a ledger of a site on the equator and the prime meridian (numbers JCS writes without an exponent)', async () => {
    const site = await http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      body: { name: 'Null Island', geo: { lat: 0.00003, lng: -0.00002 }, radiusM: 150 },
    });
    expect(site.status).toBe(201);
    const phone = await enrollPhone(t.baseUrl, t.keys.admin, site.body.siteId);
    const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
    const geos = [
      { lat: 0.00005, lng: -0.0000015, accuracyM: 0.000001 },
      { lat: -0.0000999, lng: 0.00001, accuracyM: 1e-7 },
      { lat: 0.000012345678901234, lng: -0.00002, accuracyM: 99_999.99999999999 },
    ];
    const synced = await syncBatch(
      t.baseUrl,
      phone.token,
      geos.map((geo, i) =>
        signPacket(phone, {
          geo,
          type: i % 2 ? 'check_out' : 'check_in',
          timestamp: minutesAgo(4 - i),
        }),
      ),
    );
    expect(
      synced.body.results.map((r: { status: string; reason?: string }) => r.reason ?? r.status),
    ).toEqual(geos.map(() => 'accepted'));
    const exported = await (
      await fetch(`${t.baseUrl}/api/v5/ledger/${phone.siteId}/export`, {
        headers: { 'x-api-key': t.keys.auditor },
      })
    ).text();
    expect(exported).toContain('"lat":0.00005,"lng":-0.0000015');
    const key = (await http(t.baseUrl, 'GET', '/api/v5/tlog/keys')).body.keys[0]
      .publicKey as string;
    const script = join(dir, 'check_equator.py');
    writeFileSync(script, pythonCheck());
    writeFileSync(join(dir, 'equator.ndjson'), exported);
    writeFileSync(join(dir, 'equator.txt'), synced.body.checkpoints[0].note);
    const checked = await run('/usr/bin/python3', [
      script,
      join(dir, 'equator.ndjson'),
      join(dir, 'equator.txt'),
      key,
    ]);
    expect(checked.stderr).toBe('');
    expect(checked.stdout.trim().split('\n').at(-1)).toBe('OK');
  });

  it("should write every number as RFC 8785 (ECMAScript) does in the Python script's jcs", async () => {
    // numbers a ledger cannot hold today (geo is bounded) but a JCS must still get right
    const texts = [
      '0',
      '-0.0',
      '1',
      '-1',
      '1.0',
      '100',
      '123.456',
      '0.1',
      '0.30000000000000004',
      '0.0001',
      '0.00005',
      '-0.00005',
      '0.000001',
      '0.0000015',
      '1e-7',
      '1.5e-7',
      '5e-324',
      '1e15',
      '1e16',
      '123456789012345680000',
      '999999999999999900000',
      '1e21',
      '-1e21',
      '1.2345e22',
      '1.7976931348623157e308',
      '9007199254740993',
      '123456789012345678901234',
    ];
    const python = await run('/usr/bin/python3', [
      '-c',
      'import json, sys\n' +
        'exec(sys.argv[1].split("\\nH = lambda")[0])\n' +
        'print(json.dumps([jcs(json.loads(t)) for t in json.loads(sys.argv[2])]))',
      pythonCheck(),
      JSON.stringify(texts),
    ]);
    expect(python.stderr).toBe('');
    expect(JSON.parse(python.stdout)).toEqual(texts.map((x) => JSON.stringify(Number(x))));
  });
});
