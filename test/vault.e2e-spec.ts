import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ClientRequest, request } from 'node:http';
import { join } from 'node:path';
import { VaultService } from '@app/vault';
import { DEFAULT_CHUNK_BYTES } from '@app/vault/domain/vault-blob-format';
import { jpegBytes, SIGNATURES } from './support/image-bytes';
import { gauge, http, itOnSqliteFile, pollUntil, startTestApp, TestApp } from './support/test-app';

const MIB = 1024 * 1024;
const CHUNK = DEFAULT_CHUNK_BYTES;
const RECORD = CHUNK + 16;
const HEADER = 32;
const vaultKey = (byte: number) => Buffer.alloc(32, byte).toString('base64');

function upload(t: TestApp, data: Buffer, key: string, contentType = 'image/jpeg') {
  return http(t.baseUrl, 'POST', '/api/v5/vault', {
    key,
    rawBody: data,
    headers: { 'content-type': contentType },
  });
}

function readFile(t: TestApp, fileId: string, key: string | undefined, purpose?: string) {
  const headers: Record<string, string> = {};
  if (key) headers['x-api-key'] = key;
  if (purpose) headers['x-access-purpose'] = purpose;
  return fetch(`${t.baseUrl}/api/v5/vault/${fileId}`, { headers });
}

function audit(t: TestApp, fileId?: string) {
  return http(t.baseUrl, 'GET', `/api/v5/vault/audit${fileId ? `?fileId=${fileId}` : ''}`, {
    key: t.keys.auditor,
  });
}

describe('vault (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ VAULT_MAX_FILE_BYTES: String(6 * MIB) });
  });
  afterAll(async () => t.close());

  it('should store an image and give it back, byte for byte, to an auditor and an admin who say why', async () => {
    const image = jpegBytes(3 * CHUNK + 5);
    const stored = await upload(t, image, t.keys.admin);
    expect(stored.status).toBe(201);
    expect(stored.body).toEqual({
      fileId: expect.stringMatching(/^[0-9a-f]{24}$/),
      size: image.length,
      sha256: createHash('sha256').update(image).digest('hex'),
    });
    for (const key of [t.keys.auditor, t.keys.admin]) {
      const res = await readFile(t, stored.body.fileId, key, 'fraud case 114');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(Buffer.from(await res.arrayBuffer()).equals(image)).toBe(true);
    }
    const records = await audit(t, stored.body.fileId);
    expect(records.status).toBe(200);
    expect(records.body.map((r: any) => [r.action, r.role, r.result, r.purpose])).toEqual([
      ['store', 'admin', 'allowed', 'upload'],
      ['read', 'auditor', 'allowed', 'fraud case 114'],
      ['read', 'admin', 'allowed', 'fraud case 114'],
    ]);
    expect(records.body[1]).toMatchObject({
      fileId: stored.body.fileId,
      actor: expect.stringMatching(/^auditor:[0-9a-f]{12}$/),
      ip: expect.stringMatching(/127\.0\.0\.1/),
      at: expect.any(String),
    });
  });

  it('should refuse and audit a read without a purpose (400), with another role (403) and without a key (401)', async () => {
    const stored = await upload(t, jpegBytes(100), t.keys.admin);
    const fileId = stored.body.fileId;
    const noPurpose = await readFile(t, fileId, t.keys.auditor);
    const wrongRole = await readFile(t, fileId, t.keys.mobile, 'curious');
    const noKey = await readFile(t, fileId, undefined, 'curious');
    const badKey = await readFile(t, fileId, 'mdai_aud_notarealkeyatall00000', 'curious');
    expect([noPurpose.status, wrongRole.status, noKey.status, badKey.status]).toEqual([
      400, 403, 401, 401,
    ]);
    const bodies = await Promise.all([noPurpose, wrongRole, noKey].map((r) => r.json()));
    expect(bodies.map((b: any) => b.code)).toEqual([
      'missing_purpose',
      'forbidden',
      'unauthorized',
    ]);
    expect(bodies[0]).toMatchObject({ statusCode: 400, correlationId: expect.any(String) });
    const records = await audit(t, fileId);
    expect(records.body.map((r: any) => [r.action, r.role, r.result, r.reason])).toEqual([
      ['store', 'admin', 'allowed', undefined],
      ['read', 'auditor', 'denied', 'missing_purpose'],
      ['read', 'mobile', 'denied', 'forbidden'],
      ['read', 'none', 'denied', 'unauthorized'],
      ['read', 'none', 'denied', 'unauthorized'],
    ]);
  });

  it("should list an auditor's filters: a file's refused reads, an actor's records, one action", async () => {
    const { fileId } = (await upload(t, jpegBytes(50), t.keys.admin)).body;
    await readFile(t, fileId, undefined, 'curious');
    await readFile(t, fileId, t.keys.auditor, 'case 7');
    await readFile(t, fileId, 'mdai_aud_notarealkeyatall00000', 'curious');
    const list = async (query: string) => {
      const res = await http(t.baseUrl, 'GET', `/api/v5/vault/audit?${query}`, {
        key: t.keys.auditor,
      });
      expect(res.status).toBe(200);
      return res.body as Array<Record<string, unknown>>;
    };
    const refused = await list(`fileId=${fileId}&result=denied`);
    expect(refused.map((r) => [r.actor, r.action, r.reason])).toEqual([
      ['anonymous', 'read', 'unauthorized'],
      ['anonymous', 'read', 'unauthorized'],
    ]);
    const allowedReads = await list(`fileId=${fileId}&action=read&result=allowed`);
    expect(allowedReads).toHaveLength(1);
    const actor = allowedReads[0].actor as string;
    expect(actor).toMatch(/^auditor:/);
    const ofActor = await list(`actor=${encodeURIComponent(actor)}&fileId=${fileId}`);
    expect(ofActor.map((r) => r.seq)).toEqual([allowedReads[0].seq]);
    // the next page after a filtered page's last seq
    const next = await list(
      `fileId=${fileId}&result=denied&limit=1&after=${String(refused[0].seq)}`,
    );
    expect(next.map((r) => r.seq)).toEqual([refused[1].seq]);
    for (const bad of ['result=maybe', 'action=peek', 'actor=a%20b', `actor=${'x'.repeat(101)}`]) {
      const res = await http(t.baseUrl, 'GET', `/api/v5/vault/audit?${bad}`, {
        key: t.keys.auditor,
      });
      expect([bad, res.status, res.body.code]).toEqual([bad, 400, 'validation_failed']);
    }
  });

  it('should let only admins upload and only auditors list the audit, auditing refused uploads', async () => {
    const byProvisioner = await upload(t, jpegBytes(10), t.keys.provisioner);
    expect(byProvisioner.status).toBe(403);
    const byNobody = await http(t.baseUrl, 'POST', '/api/v5/vault', {
      rawBody: randomBytes(10),
      headers: { 'content-type': 'image/png' },
    });
    expect(byNobody.status).toBe(401);
    const adminAudit = await http(t.baseUrl, 'GET', '/api/v5/vault/audit', { key: t.keys.admin });
    expect(adminAudit.status).toBe(403);
    const all = await audit(t);
    const refused = all.body.filter((r: any) => r.action === 'store' && r.result === 'denied');
    expect(refused.map((r: any) => r.reason)).toEqual(
      expect.arrayContaining(['forbidden', 'unauthorized']),
    );
  });

  it('should refuse other content types (415) and files over VAULT_MAX_FILE_BYTES (413)', async () => {
    const json = await upload(t, Buffer.from('{"a":1}'), t.keys.admin, 'application/json');
    const text = await upload(t, Buffer.from('hello'), t.keys.admin, 'text/plain');
    expect([json.status, json.body.code]).toEqual([415, 'unsupported_media_type']);
    expect([text.status, text.body.code]).toEqual([415, 'unsupported_media_type']);
    const tooBig = await upload(t, jpegBytes(7 * MIB), t.keys.admin);
    expect([tooBig.status, tooBig.body.code]).toEqual([413, 'payload_too_large']);
    // no content-length: the limit is enforced while streaming
    const chunked = await fetch(`${t.baseUrl}/api/v5/vault`, {
      method: 'POST',
      headers: { 'x-api-key': t.keys.admin, 'content-type': 'image/jpeg' },
      body: new ReadableStream({
        start(controller) {
          // a JPEG's first bytes, then zeros
          for (let i = 0; i < 7; i++) controller.enqueue(new Uint8Array(jpegBytes(MIB, 0)));
          controller.close();
        },
      }),
      duplex: 'half',
    });
    expect(chunked.status).toBe(413);
    expect(((await chunked.json()) as any).code).toBe('payload_too_large');
    // each refusal is audited (on MongoDB too: an empty file id is stored as such)
    const refused = (await audit(t)).body.filter(
      (r: any) => r.action === 'store' && r.result === 'failed',
    );
    const reasons = refused.map((r: any) => r.reason);
    expect(reasons.filter((r: string) => r === 'unsupported_media_type')).toHaveLength(2);
    expect(reasons.filter((r: string) => r === 'payload_too_large')).toHaveLength(2);
  });

  it('should refuse an oversize upload announced with Expect: 100-continue without 100 Continue', async () => {
    // the client sends nothing of the body until told to go on (or refused)
    const announce = (length: number, body: Buffer) =>
      new Promise<{ continued: boolean; status: number; json: any }>((resolve, reject) => {
        let continued = false;
        const req = request(`${t.baseUrl}/api/v5/vault`, {
          method: 'POST',
          headers: {
            'x-api-key': t.keys.admin,
            'content-type': 'image/jpeg',
            'content-length': String(length),
            expect: '100-continue',
          },
        });
        req.on('error', reject);
        req.on('continue', () => {
          continued = true;
          req.end(body);
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () =>
            resolve({ continued, status: res.statusCode!, json: JSON.parse(text) }),
          );
        });
        req.flushHeaders();
      });
    const refused = await announce(999_999_999, Buffer.alloc(0));
    // before the fix: 100 Continue first (the client was told to send ~1 GB), then the 413
    expect(refused.continued).toBe(false);
    expect([refused.status, refused.json.code]).toEqual([413, 'payload_too_large']);
    // an upload within the bound is told to go on, and stored
    const image = jpegBytes(CHUNK);
    const stored = await announce(image.length, image);
    expect([stored.continued, stored.status]).toEqual([true, 201]);
  });

  it("should give a read's held plaintext back when its client stops reading and leaves", async () => {
    // a file larger than the loopback socket's buffers, which would take a smaller one whole
    const big = await startTestApp({ VAULT_MAX_FILE_BYTES: String(32 * MIB) });
    try {
      await abandonedRead(big, jpegBytes(24 * MIB));
    } finally {
      await big.close();
    }
  });

  async function abandonedRead(t: TestApp, image: Buffer): Promise<void> {
    const held = () => gauge(t.baseUrl, 'mdai_vault_read_hold_bytes');
    const stored = await upload(t, image, t.keys.admin);
    expect(await held()).toBe(0);
    // a client that takes the first bytes, then reads no more: the socket's buffers fill, and
    // the rest of the file stays held by its read
    const client = await new Promise<ClientRequest>((resolve, reject) => {
      const req = request(
        `${t.baseUrl}/api/v5/vault/${stored.body.fileId}`,
        { headers: { 'x-api-key': t.keys.auditor, 'x-access-purpose': 'fraud case 114' } },
        (res) => {
          expect(res.statusCode).toBe(200);
          res.once('data', () => {
            res.pause();
            resolve(req);
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(await pollUntil(held, (bytes) => bytes > 0, 20_000)).toBeGreaterThan(0);
    client.destroy();
    expect(await pollUntil(held, (bytes) => bytes === 0, 20_000)).toBe(0);
  }

  it('should refuse a tampered blob before sending anything, also when only a later chunk is tampered', async () => {
    const image = jpegBytes(5 * CHUNK);
    const first = (await upload(t, image, t.keys.admin)).body.fileId;
    const later = (await upload(t, image, t.keys.admin)).body.fileId;
    const flip = (fileId: string, offset: number) => {
      const path = join(t.config.app.uploadsDir, `${fileId}.mdv`);
      const bytes = readFileSync(path);
      bytes[offset] ^= 0x04;
      writeFileSync(path, bytes);
    };
    flip(first, HEADER + 10);
    flip(later, HEADER + 4 * RECORD + 10);
    const refused = await readFile(t, first, t.keys.auditor, 'check');
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as any).code).toBe('file_integrity_failed');
    const cut = await readFile(t, later, t.keys.auditor, 'check');
    expect(cut.status).toBe(409);
    expect(((await cut.json()) as any).code).toBe('file_integrity_failed');
    for (const fileId of [first, later]) {
      const records = (await audit(t, fileId)).body;
      expect(records.at(-1)).toMatchObject({
        action: 'read',
        result: 'failed',
        reason: 'tampered',
      });
    }
  });

  itOnSqliteFile(
    'should refuse, before any header, a file whose blob or record no longer match the bytes stored',
    async () => {
      const image = jpegBytes(3 * CHUNK + 5);
      const fileId = (await upload(t, image, t.keys.admin)).body.fileId;
      const other = (await upload(t, jpegBytes(image.length), t.keys.admin)).body;
      const path = (id: string) => join(t.config.app.uploadsDir, `${id}.mdv`);
      const blob = readFileSync(path(fileId));
      const db = new Database(join(t.dataDir, 'mdai.sqlite'));
      const record = db
        .prepare('SELECT size, sha256 FROM vault_files WHERE id = ?')
        .get(fileId) as {
        size: number;
        sha256: string;
      };
      const setRecord = (size: number, sha256: string) =>
        db
          .prepare('UPDATE vault_files SET size = ?, sha256 = ? WHERE id = ?')
          .run(size, sha256, fileId);
      const flipped = Buffer.from(blob);
      flipped[HEADER + 2 * RECORD + 10] ^= 0x04;
      const cases: Array<[string, Buffer, number, string]> = [
        ['a tampered blob', flipped, record.size, record.sha256],
        ["another file's blob", readFileSync(path(other.fileId)), record.size, record.sha256],
        // another record's size and digest with its blob
        [
          "another file's blob and record",
          readFileSync(path(other.fileId)),
          other.size,
          other.sha256,
        ],
        [
          'a blob cut at a chunk boundary',
          blob.subarray(0, HEADER + 2 * RECORD),
          2 * CHUNK,
          record.sha256,
        ],
        [
          'a blob extended by a record',
          Buffer.concat([blob, blob.subarray(HEADER, HEADER + RECORD)]),
          record.size + CHUNK,
          record.sha256,
        ],
        ["the record's digest another file's", blob, record.size, other.sha256],
        ["the record's size one byte less", blob, record.size - 1, record.sha256],
        ["the record's size one byte more", blob, record.size + 1, record.sha256],
      ];
      try {
        for (const [label, bytes, size, sha256] of cases) {
          writeFileSync(path(fileId), bytes);
          setRecord(size, sha256);
          const res = await readFile(t, fileId, t.keys.auditor, 'check');
          expect([label, res.status, res.headers.get('x-content-sha256')]).toEqual([
            label,
            409,
            null,
          ]);
          expect(((await res.json()) as any).code).toBe('file_integrity_failed');
        }
        writeFileSync(path(fileId), blob);
        setRecord(record.size, record.sha256);
        const res = await readFile(t, fileId, t.keys.auditor, 'check');
        expect(res.status).toBe(200);
        expect(Buffer.from(await res.arrayBuffer()).equals(image)).toBe(true);
      } finally {
        db.close();
      }
    },
  );

  it('should crypto-shred on admin delete: then reads answer 410 and the audit shows it', async () => {
    const fileId = (await upload(t, jpegBytes(100), t.keys.admin)).body.fileId;
    const byAuditor = await http(t.baseUrl, 'DELETE', `/api/v5/vault/${fileId}`, {
      key: t.keys.auditor,
    });
    expect(byAuditor.status).toBe(403);
    const deleted = await http(t.baseUrl, 'DELETE', `/api/v5/vault/${fileId}`, {
      key: t.keys.admin,
      headers: { 'x-access-purpose': 'erasure request 77' },
    });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ fileId, deletedAt: expect.any(String) });
    const read = await readFile(t, fileId, t.keys.auditor, 'check');
    expect(read.status).toBe(410);
    expect(((await read.json()) as any).code).toBe('file_deleted');
    const unknown = await readFile(t, '0123456789abcdef01234567', t.keys.auditor, 'check');
    expect(unknown.status).toBe(404);
    const records = (await audit(t, fileId)).body;
    expect(records.map((r: any) => [r.action, r.result, r.reason])).toEqual([
      ['store', 'allowed', undefined],
      ['delete', 'denied', 'forbidden'],
      ['delete', 'allowed', undefined],
      ['read', 'failed', 'file_deleted'],
    ]);
  });

  it('should verify the audit chain and report key usage', async () => {
    const verify = await http(t.baseUrl, 'GET', '/api/v5/vault/audit/verify', {
      key: t.keys.auditor,
    });
    expect(verify.status).toBe(200);
    expect(verify.body).toMatchObject({ ok: true, length: expect.any(Number) });
    expect(verify.body.length).toBeGreaterThan(10);
    const keys = await http(t.baseUrl, 'GET', '/api/v5/vault/keys', { key: t.keys.admin });
    expect(keys.status).toBe(200);
    expect(keys.body.activeVersion).toBe('v1');
  });

  itOnSqliteFile('should serve nothing when the audit log cannot be written (503)', async () => {
    const fileId = (await upload(t, jpegBytes(100), t.keys.admin)).body.fileId;
    const db = new Database(join(t.dataDir, 'mdai.sqlite'));
    db.exec(
      `CREATE TRIGGER vault_audit_down BEFORE INSERT ON vault_audit BEGIN SELECT RAISE(ABORT, 'down'); END`,
    );
    try {
      const res = await readFile(t, fileId, t.keys.auditor, 'check');
      expect(res.status).toBe(503);
      expect(((await res.json()) as any).code).toBe('audit_unavailable');
      const denied = await readFile(t, fileId, t.keys.mobile, 'check');
      expect(denied.status).toBe(503);
    } finally {
      db.exec('DROP TRIGGER vault_audit_down');
      db.close();
    }
    expect((await readFile(t, fileId, t.keys.auditor, 'check')).status).toBe(200);
  });

  it('should never log API keys or image bytes', async () => {
    const marker = Buffer.from('PLAINTEXT-FACE-MARKER');
    const stored = await upload(
      t,
      Buffer.concat([SIGNATURES['image/png'], marker, marker]),
      t.keys.admin,
      'image/png',
    );
    expect(stored.status).toBe(201);
    const logs = t.logs();
    expect(logs).not.toContain(t.keys.admin);
    expect(logs).not.toContain(t.keys.auditor);
    expect(logs).not.toContain('PLAINTEXT-FACE-MARKER');
  });
});

describe('vault key rotation across restarts (e2e)', () => {
  let dataDir: string;
  beforeAll(() => (dataDir = mkdtempSync(join(tmpdir(), 'mdai-vault-rotate-'))));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('should read every file after rotating and restarting with only the new key', async () => {
    const v1 = `v1:${vaultKey(7)}`;
    const v2 = `v2:${vaultKey(8)}`;
    let t = await startTestApp({ DATA_DIR: dataDir, VAULT_KEYS: v1 });
    const images = [jpegBytes(10), jpegBytes(CHUNK + 1), randomBytes(1)];
    const ids: string[] = [];
    for (const image of images) {
      // a byte is no JPEG: stored as bytes
      const type = image.length > 1 ? 'image/jpeg' : 'application/octet-stream';
      ids.push((await upload(t, image, t.keys.admin, type)).body.fileId);
    }
    await t.close();

    t = await startTestApp({ DATA_DIR: dataDir, VAULT_KEYS: `${v1},${v2}` });
    const report = await t.app.get(VaultService).rotateKeys();
    expect(report).toMatchObject({ activeVersion: 'v2', rewrapped: 3, failed: [] });
    const usage = await http(t.baseUrl, 'GET', '/api/v5/vault/keys', { key: t.keys.admin });
    expect(usage.body).toMatchObject({
      activeVersion: 'v2',
      inUse: { v2: 3 },
      droppable: ['v1'],
      missing: [],
    });
    expect(usage.body.byOwner['vault data keys']).toEqual({ v2: 3 });
    await t.close();

    t = await startTestApp({ DATA_DIR: dataDir, VAULT_KEYS: v2 });
    try {
      for (const [i, fileId] of ids.entries()) {
        const res = await readFile(t, fileId, t.keys.auditor, 'after rotation');
        expect(res.status).toBe(200);
        expect(Buffer.from(await res.arrayBuffer()).equals(images[i])).toBe(true);
      }
    } finally {
      await t.close();
    }
  });
});
