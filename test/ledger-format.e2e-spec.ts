import { spawn } from 'node:child_process';
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

describe('docs/ledger-format.md: independent and offline verifiers (e2e)', () => {
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
    dir = mkdtempSync(join(tmpdir(), 'mdai-ledger-format-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  jest.setTimeout(120_000);

  it('should verify a real export, checkpoint and receipt with the Python script and npm run verify:log, and fail on edits and cuts', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    await syncBatch(t.baseUrl, phone.token, [signPacket(phone), signPacket(phone)]);
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
    const files = {
      script: join(dir, 'check_ledger.py'),
      export: join(dir, 'export.ndjson'),
      note: join(dir, 'checkpoint.txt'),
      receipt: join(dir, 'receipt.json'),
      cut: join(dir, 'cut.ndjson'),
      edited: join(dir, 'edited.ndjson'),
    };
    writeFileSync(files.script, pythonCheck());
    writeFileSync(files.export, exported);
    writeFileSync(files.note, last.body.checkpoints[0].note);
    writeFileSync(files.receipt, JSON.stringify(last.body.results[1]));
    const lines = exported.split('\n').filter(Boolean);
    writeFileSync(files.cut, lines.slice(0, 3).join('\n') + '\n');
    writeFileSync(files.edited, exported.replace('"check_out"', '"check_in"'));

    // a verifier key string works as --key too
    const vkey = (
      await http(
        t.baseUrl,
        'GET',
        `/api/v5/tlog/keys?origin=${encodeURIComponent(last.body.checkpoints[0].origin)}`,
      )
    ).body.keys[0].verifierKey as string;
    const python = (exportFile: string) =>
      run('/usr/bin/python3', [files.script, exportFile, files.note, key, files.receipt]);
    const ours = (exportFile: string) =>
      run(process.execPath, [
        '-r',
        '@swc-node/register',
        'scripts/verify-log.ts',
        exportFile,
        '--checkpoint',
        files.note,
        '--key',
        key,
        '--receipt',
        files.receipt,
      ]);

    const good = await python(files.export);
    expect(good.stderr).toBe('');
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('ok   receipt: seq 4 is in the signed tree');
    const signedAt = readCheckpointNote(last.body.checkpoints[0].note).timestamp!;
    expect(good.stdout).toContain(
      `ok   signed at ${new Date(signedAt).toISOString().replace('Z', '+00:00')}`,
    );
    const ok = await ours(files.export);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim().split('\n').at(-1)).toBe('OK');

    // the receipt object alone, and a sync answer of one result, are receipts as well; an
    // answer of several says to pick one (the receipt alone answered exit 2, "Cannot read
    // properties of undefined (reading 'length')")
    const withReceipt = async (content: unknown) => {
      writeFileSync(files.receipt, JSON.stringify(content));
      return ours(files.export);
    };
    const alone = await withReceipt(last.body.results[1].receipt);
    expect([alone.status, alone.stderr]).toEqual([0, '']);
    expect(alone.stdout).toContain('ok   receipt: seq 4 is in the signed tree of 5');
    const oneResult = await withReceipt({ ...last.body, results: [last.body.results[1]] });
    expect([oneResult.status, oneResult.stderr]).toEqual([0, '']);
    expect(oneResult.stdout).toContain('ok   receipt: seq 4 is in the signed tree of 5');
    const forged = await withReceipt({
      ...last.body.results[1].receipt,
      leafHash: 'ab'.repeat(32),
    });
    expect(forged.status).toBe(1);
    expect(forged.stdout).toContain('FAIL receipt: seq 4');
    // a seq edited to name another entry: the proof is of leaf index 3, which is seq 4
    const renamed = await withReceipt({ ...last.body.results[1].receipt, seq: 2 });
    expect(renamed.status).toBe(1);
    expect(renamed.stdout).toContain('FAIL receipt: seq 2');
    const several = await withReceipt(last.body);
    expect(several.status).toBe(2);
    expect(several.stderr).toContain('a sync answer with 3 results: pick one');
    const rejected = await withReceipt({ packetId: 'x', status: 'rejected', reason: 'bad' });
    expect(rejected.status).toBe(2);
    expect(rejected.stderr).toContain('not a receipt (a result rejected, no receipt)');
    writeFileSync(files.receipt, JSON.stringify(last.body.results[1]));

    for (const bad of [files.cut, files.edited]) {
      expect((await python(bad)).status).not.toBe(0);
      const failed = await ours(bad);
      expect(failed.status).toBe(1);
      expect(failed.stdout).toContain(bad === files.cut ? 'history was cut' : 'FAIL');
    }
    // an edit inside the checkpoint's size: the break is the one fault, not also a cut history
    // (the walk stops at the break, so the links after it are not counted) or a root mismatch
    const edited = await ours(files.edited);
    expect(edited.stdout).toContain('FAIL chain broken at seq 4 (record_hash_mismatch)');
    expect(edited.stdout).toContain(
      "--   not checked: the export's length and Merkle root against the checkpoint (size 5): the chain breaks inside it, at seq 4",
    );
    expect(edited.stdout).not.toContain('history was cut');
    expect(edited.stdout).not.toContain('FAIL Merkle root');
    const withVkey = await run(process.execPath, [
      '-r',
      '@swc-node/register',
      'scripts/verify-log.ts',
      files.export,
      '--checkpoint',
      files.note,
      '--key',
      vkey,
    ]);
    expect(withVkey.stderr).toBe('');
    expect(withVkey.stdout).toContain('OK');

    // the JSON answer of GET …/checkpoint as --checkpoint: its note is taken
    const answerFile = join(dir, 'checkpoint.json');
    const answer = await http(t.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/checkpoint`, {
      key: t.keys.auditor,
    });
    expect(answer.body.note).toEqual(expect.any(String));
    writeFileSync(answerFile, JSON.stringify(answer.body));
    const verifyWith = (exportFile: string, noteFile: string) =>
      run(process.execPath, [
        '-r',
        '@swc-node/register',
        'scripts/verify-log.ts',
        exportFile,
        '--checkpoint',
        noteFile,
        '--key',
        key,
      ]);
    const fromAnswer = await verifyWith(files.export, answerFile);
    expect([fromAnswer.status, fromAnswer.stderr]).toEqual([0, '']);
    // an export cut inside a line: the error names the line
    const halfLine = join(dir, 'half-line.ndjson');
    writeFileSync(halfLine, `${lines.slice(0, 2).join('\n')}\n${lines[2].slice(0, 20)}\n`);
    const truncated = await verifyWith(halfLine, files.note);
    expect(truncated.status).toBe(2);
    expect(truncated.stderr).toContain('line 3 is not JSON');

    // the /api/v5/tlog/keys answer as --key: the time signed into the note must lie in the
    // signing key's window
    const keysAnswer = (await http(t.baseUrl, 'GET', '/api/v5/tlog/keys')).body;
    const withKeys = async (answer: unknown) => {
      const file = join(dir, 'keys.json');
      writeFileSync(file, JSON.stringify(answer));
      return run(process.execPath, [
        '-r',
        '@swc-node/register',
        'scripts/verify-log.ts',
        files.export,
        '--checkpoint',
        files.note,
        '--key',
        file,
      ]);
    };
    const inWindow = await withKeys(keysAnswer);
    expect(inWindow.stderr).toBe('');
    expect(inWindow.status).toBe(0);
    expect(inWindow.stdout).toContain(
      `ok   signed at ${new Date(signedAt).toISOString()} (the time in the signed note)`,
    );
    expect(inWindow.stdout).toContain("ok   signed inside the key's window");
    // the same key listed as retired an hour before the checkpoint was signed
    const retired = await withKeys({
      keys: [
        {
          ...keysAnswer.keys[0],
          status: 'retired',
          notBefore: new Date(0).toISOString(),
          notAfter: new Date(signedAt - 3600_000).toISOString(),
        },
      ],
    });
    expect(retired.status).toBe(1);
    expect(retired.stdout).toContain("FAIL signed inside the key's window");

    // that retired key's note with the time left out (what a thief of the key would do): its
    // window cannot be checked from the note, so it fails too
    const signedNote = readCheckpointNote(readFileSync(files.note, 'utf8'));
    const logKey = secretsOf(t.dataDir).TLOG_SIGNING_KEY;
    writeFileSync(
      files.note,
      signCheckpointNote(
        { origin: signedNote.origin, size: signedNote.size, root: signedNote.root },
        logKey,
      ),
    );
    const untimed = await withKeys({
      keys: [{ ...keysAnswer.keys[0], status: 'retired', notAfter: new Date().toISOString() }],
    });
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
