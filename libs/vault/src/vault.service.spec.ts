import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthModule, DomainError, Env } from '@app/common';
import { compileServiceModule } from '@app/api/testing/service-testing-module';
import { httpStatusOf } from '@app/api/errors/error-status';
import {
  BLOB_HEADER_BYTES,
  BLOB_TAG_BYTES,
  BlobIntegrityError,
  BlobSealer,
  DEFAULT_CHUNK_BYTES,
  V1_CHUNK_BYTES,
} from './domain/vault-blob-format';
import { VaultActor } from './domain/vault-file';
import { VaultBlobStorage } from './infrastructure/blob/vault-blob.storage';
import { VaultAuditService } from './vault-audit.service';
import { VaultModule } from './vault.module';
import { KeyringService } from './keyring/keyring.service';
import { dataKeyContext, VaultService } from './vault.service';

const MIB = 1024 * 1024;
const CHUNK = DEFAULT_CHUNK_BYTES;
const admin: VaultActor = { actor: 'admin:aaaaaaaaaaaa', role: 'admin', ip: '127.0.0.1' };
const auditor: VaultActor = { actor: 'auditor:bbbbbbbbbbbb', role: 'auditor', ip: '127.0.0.1' };
const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');
const JPEG_SIGNATURE = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
/** `size` random bytes that start as a JPEG does (the vault checks the signature). */
function jpeg(size: number): Buffer {
  const bytes = randomBytes(size);
  JPEG_SIGNATURE.copy(bytes, 0, 0, Math.min(size, JPEG_SIGNATURE.length));
  return bytes;
}

interface Booted {
  sut: VaultService;
  audit: VaultAuditService;
  blobs: VaultBlobStorage;
  keyring: KeyringService;
  close: () => Promise<void>;
}

/** The real VaultModule on a real SQLite file in `dataDir`. */
async function boot(dataDir: string, env: Env = {}): Promise<Booted> {
  const moduleRef = await compileServiceModule({
    dataDir,
    env: { VAULT_KEYS: `v1:${key(1)}`, VAULT_MAX_FILE_BYTES: String(300 * MIB), ...env },
    imports: [AuthModule, VaultModule],
  });
  return {
    sut: moduleRef.get(VaultService),
    audit: moduleRef.get(VaultAuditService),
    blobs: moduleRef.get(VaultBlobStorage),
    keyring: moduleRef.get(KeyringService),
    close: () => moduleRef.close(),
  };
}

async function readAll(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part);
  return Buffer.concat(parts);
}

async function errorOf(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

function sqlite(dataDir: string): Database.Database {
  return new Database(join(dataDir, 'mdai.sqlite'));
}

describe('VaultService', () => {
  let dataDir: string;
  let vault: Booted;
  let sut: VaultService;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-vault-'));
    vault = await boot(dataDir);
    sut = vault.sut;
  });
  afterEach(async () => {
    await vault.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.each([
    // too short to be a JPEG: bytes (no bytes at all is refused: below)
    ['1 B', 1, 'application/octet-stream'],
    ['exactly one chunk', CHUNK, 'image/jpeg'],
    ['one chunk + 1', CHUNK + 1, 'image/jpeg'],
  ])(
    'should store and read back %s with its size, digest and content type',
    async (_l, size, type) => {
      const data = type === 'image/jpeg' ? jpeg(size) : randomBytes(size);
      const stored = await sut.storeBuffer(data, type, admin, 'kiosk capture');
      expect(stored).toEqual({
        fileId: expect.stringMatching(/^[0-9a-f]{24}$/),
        size,
        sha256: createHash('sha256').update(data).digest('hex'),
      });
      const read = await sut.read(stored.fileId, auditor, 'case review');
      expect(read).toMatchObject({ contentType: type, size, sha256: stored.sha256 });
      expect((await readAll(read.body)).equals(data)).toBe(true);
      const records = await vault.audit.list({ fileId: stored.fileId, limit: 10 });
      expect(records.map((r) => [r.action, r.result, r.actor, r.purpose])).toEqual([
        ['store', 'allowed', admin.actor, 'kiosk capture'],
        ['read', 'allowed', auditor.actor, 'case review'],
      ]);
    },
  );

  it('should refuse an upload of no bytes (empty_file), storing nothing', async () => {
    const refused = sut.storeBuffer(Buffer.alloc(0), 'application/octet-stream', admin, 'kiosk');
    await expect(refused).rejects.toMatchObject({ code: 'empty_file' });
    const records = await vault.audit.list({ limit: 10 });
    expect(records.map((r) => [r.action, r.result, r.reason])).toEqual([
      ['store', 'failed', 'empty_file'],
    ]);
  });

  it('should stream 200 MB through store and read with flat memory', async () => {
    const total = 200 * MIB;
    const base = randomBytes(MIB);
    const inputHash = createHash('sha256');
    async function* generate(): AsyncGenerator<Buffer> {
      for (let i = 0; i < total / MIB; i++) {
        const piece = Buffer.allocUnsafe(MIB);
        base.copy(piece);
        piece.writeUInt32BE(i, 0);
        inputHash.update(piece);
        yield piece;
      }
    }
    const start = process.memoryUsage();
    let peakRss = start.rss;
    let peakHeap = start.heapUsed;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peakRss = Math.max(peakRss, now.rss);
      peakHeap = Math.max(peakHeap, now.heapUsed);
    }, 20);
    try {
      const stored = await sut.store(generate(), 'application/octet-stream', admin, 'bulk test');
      expect(stored.size).toBe(total);
      expect(stored.sha256).toBe(inputHash.digest('hex'));
      expect(statSync(vault.blobs.pathOf(stored.fileId)).size).toBe(
        BLOB_HEADER_BYTES + total + (total / CHUNK) * BLOB_TAG_BYTES,
      );
      const read = await sut.read(stored.fileId, auditor, 'bulk test');
      const outputHash = createHash('sha256');
      let bytes = 0;
      for await (const part of read.body) {
        outputHash.update(part);
        bytes += part.length;
      }
      expect(bytes).toBe(total);
      expect(outputHash.digest('hex')).toBe(stored.sha256);
    } finally {
      clearInterval(sampler);
    }
    const rssGrowth = (peakRss - start.rss) / MIB;
    const heapGrowth = (peakHeap - start.heapUsed) / MIB;
    process.stdout.write(
      `vault 200 MB round trip: peak RSS growth ${rssGrowth.toFixed(1)} MiB, peak heap growth ${heapGrowth.toFixed(1)} MiB\n`,
    );
    expect(rssGrowth).toBeLessThan(100);
    expect(heapGrowth).toBeLessThan(64);
  }, 120_000);

  it('should write blobs that hold none of the plaintext, readable by the owner only', async () => {
    const marker = Buffer.from('FACE-IMAGE-PLAINTEXT-MARKER;');
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const data = Buffer.concat([png, ...Array.from({ length: 5000 }, () => marker)]);
    const stored = await sut.storeBuffer(data, 'image/png', admin, 'kiosk capture');
    const path = vault.blobs.pathOf(stored.fileId);
    const onDisk = readFileSync(path);
    expect(onDisk.includes(marker)).toBe(false);
    expect(onDisk.includes(marker.subarray(0, 8))).toBe(false);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const row = sqlite(dataDir)
      .prepare('SELECT wrapped_key, key_version FROM vault_files WHERE id = ?')
      .get(stored.fileId) as { wrapped_key: string; key_version: string };
    expect(row.key_version).toBe('v1');
    expect(row.wrapped_key).toMatch(/^sealed1\.v1\./);
  });

  it('should refuse a blob with a flipped byte in its header or first chunk before serving, and audit it', async () => {
    const data = jpeg(3 * CHUNK);
    for (const offset of [3, 12, 30, BLOB_HEADER_BYTES + 5, BLOB_HEADER_BYTES + CHUNK + 2]) {
      const stored = await sut.storeBuffer(data, 'image/jpeg', admin, 'kiosk capture');
      const path = vault.blobs.pathOf(stored.fileId);
      const bytes = readFileSync(path);
      bytes[offset] ^= 0x10;
      writeFileSync(path, bytes);
      const error = await errorOf(sut.read(stored.fileId, auditor, 'case review'));
      expect(error.code).toBe('file_integrity_failed');
      const records = await vault.audit.list({ fileId: stored.fileId, limit: 10 });
      expect(records.at(-1)).toMatchObject({
        action: 'read',
        result: 'failed',
        reason: 'tampered',
      });
    }
  });

  /** Flips a byte of the blob's chunk `chunk` (its second by default) on disk. */
  const tamper = (fileId: string, chunk = 1) => {
    const path = vault.blobs.pathOf(fileId);
    const bytes = readFileSync(path);
    bytes[BLOB_HEADER_BYTES + chunk * (CHUNK + BLOB_TAG_BYTES) + 100] ^= 0x01;
    writeFileSync(path, bytes);
  };

  it('should refuse a blob with a tampered later chunk before serving any byte, and audit it', async () => {
    const data = jpeg(5 * CHUNK);
    const stored = await sut.storeBuffer(data, 'image/jpeg', admin, 'kiosk capture');
    tamper(stored.fileId, 3);
    const error = await errorOf(sut.read(stored.fileId, auditor, 'case review'));
    expect([httpStatusOf(error), error.code]).toEqual([409, 'file_integrity_failed']);
    const records = await vault.audit.list({ fileId: stored.fileId, limit: 10 });
    expect(records.map((r) => [r.action, r.result, r.reason])).toEqual([
      ['store', 'allowed', undefined],
      ['read', 'failed', 'tampered'],
    ]);
  });

  it('should stop at a chunk tampered after the check, having yielded only authenticated chunks', async () => {
    // no plaintext held: the body reads and decrypts the blob again
    await vault.close();
    vault = await boot(dataDir, { VAULT_READ_HOLD_BYTES: '0' });
    sut = vault.sut;
    const data = jpeg(5 * CHUNK);
    const stored = await sut.storeBuffer(data, 'image/jpeg', admin, 'kiosk capture');
    const read = await sut.read(stored.fileId, auditor, 'case review');
    tamper(stored.fileId, 3);
    const received: Buffer[] = [];
    let failure: unknown;
    try {
      for await (const part of read.body) received.push(part);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(BlobIntegrityError);
    expect((failure as BlobIntegrityError).chunkIndex).toBe(3);
    expect(Buffer.concat(received).equals(data.subarray(0, 3 * CHUNK))).toBe(true);
    const records = await vault.audit.list({ fileId: stored.fileId, limit: 10 });
    expect(records.map((r) => [r.action, r.result, r.reason])).toEqual([
      ['store', 'allowed', undefined],
      ['read', 'allowed', undefined],
      ['read', 'failed', 'tampered'],
    ]);
  });

  it('should audit a blob cut short after the check as blob_shorter_than_recorded, as the check would', async () => {
    // no plaintext held: the body reads and decrypts the blob again
    await vault.close();
    vault = await boot(dataDir, { VAULT_READ_HOLD_BYTES: '0' });
    sut = vault.sut;
    const data = jpeg(3 * CHUNK + 700);
    const stored = await sut.storeBuffer(data, 'image/jpeg', admin, 'kiosk capture');
    const read = await sut.read(stored.fileId, auditor, 'case review');
    const path = vault.blobs.pathOf(stored.fileId);
    truncateSync(path, statSync(path).size - 100);
    await expect(readAll(read.body)).rejects.toBeInstanceOf(BlobIntegrityError);
    const records = await vault.audit.list({ fileId: stored.fileId, limit: 10 });
    expect(records.map((r) => [r.action, r.result, r.reason])).toEqual([
      ['store', 'allowed', undefined],
      ['read', 'allowed', undefined],
      ['read', 'failed', 'blob_shorter_than_recorded'],
    ]);
  });

  /** 'held' if the body served what was stored despite a blob tampered after the check. */
  const served = async (read: { body: AsyncIterable<Buffer> }, data: Buffer) => {
    try {
      return (await readAll(read.body)).equals(data) ? 'held' : 'other bytes';
    } catch (error) {
      return error instanceof BlobIntegrityError ? `read again, cut at ${error.chunkIndex}` : error;
    }
  };

  it("should serve a file that fits the reads' hold from its check's pass, so a later change of the blob never reaches the reader", async () => {
    const data = jpeg(5 * CHUNK);
    const stored = await sut.storeBuffer(data, 'image/jpeg', admin, 'kiosk capture');
    const read = await sut.read(stored.fileId, auditor, 'case review');
    tamper(stored.fileId);
    expect(await served(read, data)).toBe('held');
    // the next read checks the blob in full again, and refuses it
    const error = await errorOf(sut.read(stored.fileId, auditor, 'case review'));
    expect(error.code).toBe('file_integrity_failed');
  });

  it("should hold at most VAULT_READ_HOLD_BYTES of plaintext, and get each read's back when it ends or is abandoned", async () => {
    await vault.close();
    vault = await boot(dataDir, { VAULT_READ_HOLD_BYTES: String(3 * CHUNK) });
    sut = vault.sut;
    const data = jpeg(2 * CHUNK);
    const file = async () =>
      (await sut.storeBuffer(data, 'image/jpeg', admin, 'kiosk capture')).fileId;
    const [a, b, c, d] = [await file(), await file(), await file(), await file()];
    // a fits (2 of 3 chunks' worth), b does not while a is held: b reads the blob again
    const readA = await sut.read(a, auditor, 'case review');
    const readB = await sut.read(b, auditor, 'case review');
    expect(sut.heldBytes).toBe(2 * CHUNK);
    tamper(a);
    tamper(b);
    expect(await served(readB, data)).toBe('read again, cut at 1');
    expect(await served(readA, data)).toBe('held');
    // a read to its end gave its bytes back: c fits; abandoned (never read), it gives them back too
    const readC = await sut.read(c, auditor, 'case review');
    await readC.body.return!();
    const readD = await sut.read(d, auditor, 'case review');
    tamper(d);
    expect(await served(readD, data)).toBe('held');
    // a read refused by its check gives them back too
    const [e, f] = [await file(), await file()];
    tamper(e);
    expect((await errorOf(sut.read(e, auditor, 'case review'))).code).toBe('file_integrity_failed');
    const readF = await sut.read(f, auditor, 'case review');
    tamper(f);
    expect(await served(readF, data)).toBe('held');
    expect(sut.heldBytes).toBe(0);
  });

  it('should serve a file of the second pass whole when a delete removes its blob meanwhile', async () => {
    await vault.close();
    vault = await boot(dataDir, { VAULT_READ_HOLD_BYTES: '0' });
    sut = vault.sut;
    const data = jpeg(5 * CHUNK + 3);
    const stored = await sut.storeBuffer(data, 'image/jpeg', admin, 'capture');
    // allowed and audited before the delete: the reader gets the bytes it was allowed
    const read = await sut.read(stored.fileId, auditor, 'case review');
    await sut.delete(stored.fileId, admin, 'subject asked');
    expect(existsSync(vault.blobs.pathOf(stored.fileId))).toBe(false);
    expect((await readAll(read.body)).equals(data)).toBe(true);
    expect(httpStatusOf(await errorOf(sut.read(stored.fileId, auditor, 'case review')))).toBe(410);
  });

  it('should answer 410, not an integrity failure, when a delete removes the blob before the read opens it', async () => {
    await vault.close();
    vault = await boot(dataDir, { VAULT_READ_HOLD_BYTES: '0' });
    sut = vault.sut;
    const stored = await sut.storeBuffer(jpeg(2 * CHUNK), 'image/jpeg', admin, 'capture');
    // the delete lands between the read's lookup of the file and its opening of the blob
    const open = vault.blobs.open.bind(vault.blobs);
    jest.spyOn(vault.blobs, 'open').mockImplementationOnce(async (fileId) => {
      await sut.delete(fileId, admin, 'subject asked');
      return open(fileId);
    });
    const refused = await errorOf(sut.read(stored.fileId, auditor, 'case review'));
    expect([httpStatusOf(refused), refused.code]).toEqual([410, 'file_deleted']);
    const records = await vault.audit.list({ fileId: stored.fileId, limit: 10 });
    expect(records.map((r) => [r.action, r.result, r.reason])).toEqual([
      ['store', 'allowed', undefined],
      ['delete', 'allowed', undefined],
      ['read', 'failed', 'file_deleted'],
    ]);
  });

  it('should leave the blob closed when a body of the second pass is closed before its first chunk', async () => {
    await vault.close();
    vault = await boot(dataDir, { VAULT_READ_HOLD_BYTES: '0' });
    sut = vault.sut;
    const stored = await sut.storeBuffer(jpeg(3 * CHUNK), 'image/jpeg', admin, 'capture');
    const path = vault.blobs.pathOf(stored.fileId);
    const opened = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === path;
        } catch {
          return false; // closed since the listing
        }
      }).length;
    const read = await sut.read(stored.fileId, auditor, 'case review');
    // as Readable.from does when the response is destroyed before the first chunk
    await read.body.return!();
    // the close goes through libuv's threadpool: waited for (a loaded machine takes more than
    // the 50 ms once slept here), a handle left open still fails at the deadline
    const deadline = Date.now() + 10_000;
    while (opened() > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(opened()).toBe(0);
  });

  it('should detect a truncated blob and a blob swapped with another file', async () => {
    const a = await sut.storeBuffer(jpeg(2 * CHUNK + 7), 'image/jpeg', admin, 'capture');
    const b = await sut.storeBuffer(jpeg(2 * CHUNK + 7), 'image/jpeg', admin, 'capture');
    const pathA = vault.blobs.pathOf(a.fileId);
    const bytesA = readFileSync(pathA);
    writeFileSync(pathA, bytesA.subarray(0, BLOB_HEADER_BYTES + 2 * (CHUNK + BLOB_TAG_BYTES)));
    expect((await errorOf(sut.read(a.fileId, auditor, 'case review'))).code).toBe(
      'file_integrity_failed',
    );
    writeFileSync(pathA, readFileSync(vault.blobs.pathOf(b.fileId)));
    expect((await errorOf(sut.read(a.fileId, auditor, 'case review'))).code).toBe(
      'file_integrity_failed',
    );
  });

  /** Sets a file's recorded size and/or SHA-256 (a record edited, or another file's copied onto it). */
  const setRecorded = (fileId: string, set: { size?: number; sha256?: string }) => {
    const db = sqlite(dataDir);
    db.prepare(
      'UPDATE vault_files SET size = coalesce(?, size), sha256 = coalesce(?, sha256) WHERE id = ?',
    ).run(set.size ?? null, set.sha256 ?? null, fileId);
    db.close();
  };
  /** The read's refusal and its audit reason, or 'served' with the bytes' match. */
  const readOutcome = async (fileId: string, data: Buffer) => {
    try {
      const read = await sut.read(fileId, auditor, 'case review');
      return (await readAll(read.body)).equals(data) ? 'served' : 'served other bytes';
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const records = await vault.audit.list({ fileId, limit: 100 });
      return `${error.code} (${records.at(-1)!.reason})`;
    }
  };

  it('should audit a blob cut short (inside its final record, at a record, inside its header) as blob_shorter_than_recorded, either version', async () => {
    const data = jpeg(2 * CHUNK + 700);
    const stored = await sut.storeBuffer(data, 'image/jpeg', admin, 'capture');
    const path = vault.blobs.pathOf(stored.fileId);
    const whole = readFileSync(path);
    for (const cut of [
      whole.length - 100,
      BLOB_HEADER_BYTES + 2 * (CHUNK + BLOB_TAG_BYTES),
      BLOB_HEADER_BYTES - 1,
    ]) {
      writeFileSync(path, whole.subarray(0, cut));
      expect(await readOutcome(stored.fileId, data)).toBe(
        'file_integrity_failed (blob_shorter_than_recorded)',
      );
    }
    // a version 1 blob of the same bytes, cut inside its final record
    const db = sqlite(dataDir);
    const { wrapped_key: wrapped } = db
      .prepare('SELECT wrapped_key FROM vault_files WHERE id = ?')
      .get(stored.fileId) as { wrapped_key: string };
    db.close();
    const dataKey = vault.keyring.open(wrapped, dataKeyContext(stored.fileId));
    const sealer = new BlobSealer(dataKey, stored.fileId, {
      version: 1,
      chunkSize: V1_CHUNK_BYTES,
    });
    const v1: Buffer[] = [sealer.header];
    sealer.push(Buffer.from(data), v1);
    sealer.end(v1);
    writeFileSync(path, Buffer.concat(v1));
    expect(await readOutcome(stored.fileId, data)).toBe('served');
    writeFileSync(path, Buffer.concat(v1).subarray(0, Buffer.concat(v1).length - 100));
    expect(await readOutcome(stored.fileId, data)).toBe(
      'file_integrity_failed (blob_shorter_than_recorded)',
    );
  });

  it('should write new files in format version 3 with 1 MiB chunks', async () => {
    const data = jpeg(CHUNK + 5);
    const stored = await sut.storeBuffer(data, 'image/jpeg', admin, 'capture');
    const bytes = readFileSync(vault.blobs.pathOf(stored.fileId));
    expect([bytes[7], bytes.readUInt32BE(8)]).toEqual([3, 1024 * 1024]);
    expect(bytes.length).toBe(BLOB_HEADER_BYTES + data.length + 2 * BLOB_TAG_BYTES);
    expect(await readOutcome(stored.fileId, data)).toBe('served');
  });

  it.each([
    ['held', undefined],
    ['beyond the hold', '0'],
  ])(
    'should refuse a version 2 file (read %s) whose recorded digest or size is not the one its final chunk binds',
    async (_label, hold) => {
      if (hold !== undefined) {
        await vault.close();
        vault = await boot(dataDir, { VAULT_READ_HOLD_BYTES: hold });
        sut = vault.sut;
      }
      const data = jpeg(2 * CHUNK + 7);
      const stored = await sut.storeBuffer(data, 'image/jpeg', admin, 'capture');
      // another file: the same size, other bytes
      const other = await sut.storeBuffer(jpeg(data.length), 'image/jpeg', admin, 'capture');
      const flipped = `${stored.sha256.slice(0, 63)}${stored.sha256.endsWith('0') ? '1' : '0'}`;
      const edits: Array<{ size?: number; sha256?: string }> = [
        { sha256: flipped },
        { sha256: other.sha256 },
        { size: data.length + 1 },
        { size: data.length - 1 },
        { sha256: 'not a digest' },
      ];
      for (const edit of edits) {
        setRecorded(stored.fileId, edit);
        expect(await readOutcome(stored.fileId, data)).toMatch(/^file_integrity_failed \(/);
        setRecorded(stored.fileId, { size: data.length, sha256: stored.sha256 });
        expect(await readOutcome(stored.fileId, data)).toBe('served');
      }
      // the other file's blob and record (its size and digest) put in this one's place
      writeFileSync(
        vault.blobs.pathOf(stored.fileId),
        readFileSync(vault.blobs.pathOf(other.fileId)),
      );
      setRecorded(stored.fileId, { sha256: other.sha256 });
      expect(await readOutcome(stored.fileId, data)).toBe('file_integrity_failed (tampered)');
    },
  );

  it('should refuse a version 2 blob cut at a chunk boundary or extended by a record, with its record intact', async () => {
    const data = jpeg(3 * CHUNK + 9);
    const record = CHUNK + BLOB_TAG_BYTES;
    const stored = await sut.storeBuffer(data, 'image/jpeg', admin, 'capture');
    const path = vault.blobs.pathOf(stored.fileId);
    const blob = readFileSync(path);
    const cut = blob.subarray(0, BLOB_HEADER_BYTES + 2 * record);
    // cut, and the record's size set to what is left (the digest stays: it is the whole file's)
    writeFileSync(path, cut);
    setRecorded(stored.fileId, { size: 2 * CHUNK });
    expect(await readOutcome(stored.fileId, data)).toBe('file_integrity_failed (tampered)');
    writeFileSync(
      path,
      Buffer.concat([blob, blob.subarray(BLOB_HEADER_BYTES, BLOB_HEADER_BYTES + record)]),
    );
    setRecorded(stored.fileId, { size: data.length });
    expect(await readOutcome(stored.fileId, data)).toBe('file_integrity_failed (tampered)');
    writeFileSync(path, blob);
    expect(await readOutcome(stored.fileId, data)).toBe('served');
  });

  it('should still read a version 2 file (legacy: its record binds only size and digest), refusing a content type the vault never stores', async () => {
    const data = jpeg(2 * CHUNK + 11);
    const stored = await sut.storeBuffer(data, 'image/jpeg', admin, 'capture');
    // the blob written again as the server wrote them before format version 3, same data key
    const db = sqlite(dataDir);
    const { wrapped_key: wrapped } = db
      .prepare('SELECT wrapped_key FROM vault_files WHERE id = ?')
      .get(stored.fileId) as { wrapped_key: string };
    const dataKey = vault.keyring.open(wrapped, dataKeyContext(stored.fileId));
    const sealer = new BlobSealer(dataKey, stored.fileId, { version: 2 });
    const v2: Buffer[] = [sealer.header];
    sealer.push(Buffer.from(data), v2);
    sealer.end(v2);
    writeFileSync(vault.blobs.pathOf(stored.fileId), Buffer.concat(v2));
    const edit = (column: string, value: string) =>
      db.prepare(`UPDATE vault_files SET ${column} = ? WHERE id = ?`).run(value, stored.fileId);
    edit('created_by', 'admin:cccccccccccc');
    expect(await readOutcome(stored.fileId, data)).toBe('served');
    edit('content_type', 'text/html');
    expect(await readOutcome(stored.fileId, data)).toBe('file_integrity_failed (metadata_invalid)');
    edit('content_type', 'image/jpeg');
    edit('created_at', 'not a date');
    expect(await readOutcome(stored.fileId, data)).toBe('file_integrity_failed (metadata_invalid)');
    db.close();
  });

  it('should still read a version 1 file of 64 KiB chunks, hashing it: a recorded digest or size it does not have is refused', async () => {
    const data = jpeg(3 * V1_CHUNK_BYTES + 11);
    const stored = await sut.storeBuffer(data, 'image/jpeg', admin, 'capture');
    // the blob written again as the server wrote them before format version 2, same data key
    const db = sqlite(dataDir);
    const { wrapped_key: wrapped } = db
      .prepare('SELECT wrapped_key FROM vault_files WHERE id = ?')
      .get(stored.fileId) as { wrapped_key: string };
    db.close();
    const dataKey = vault.keyring.open(wrapped, dataKeyContext(stored.fileId));
    const sealer = new BlobSealer(dataKey, stored.fileId, {
      version: 1,
      chunkSize: V1_CHUNK_BYTES,
    });
    const v1: Buffer[] = [sealer.header];
    sealer.push(Buffer.from(data), v1);
    expect(sealer.end(v1)).toEqual({ size: data.length, sha256: stored.sha256 });
    writeFileSync(vault.blobs.pathOf(stored.fileId), Buffer.concat(v1));
    expect(await readOutcome(stored.fileId, data)).toBe('served');
    setRecorded(stored.fileId, { sha256: createHash('sha256').update('other').digest('hex') });
    expect(await readOutcome(stored.fileId, data)).toBe('file_integrity_failed (digest_mismatch)');
    setRecorded(stored.fileId, { sha256: stored.sha256, size: data.length - 1 });
    expect(await readOutcome(stored.fileId, data)).toBe('file_integrity_failed (size_mismatch)');
    setRecorded(stored.fileId, { size: data.length });
    expect(await readOutcome(stored.fileId, data)).toBe('served');
    // a key rotation re-wraps its data key and leaves the blob: still read, on the new key alone
    await vault.close();
    vault = await boot(dataDir, {
      VAULT_KEYS: `v1:${key(1)},v2:${key(2)}`,
      VAULT_ACTIVE_KEY: 'v2',
    });
    expect((await vault.sut.rotateKeys()).rewrapped).toBe(1);
    await vault.close();
    vault = await boot(dataDir, { VAULT_KEYS: `v2:${key(2)}` });
    sut = vault.sut;
    expect(readFileSync(vault.blobs.pathOf(stored.fileId)).equals(Buffer.concat(v1))).toBe(true);
    expect(await readOutcome(stored.fileId, data)).toBe('served');
  });

  it('should refuse a read, and serve nothing, when the audit log cannot be written', async () => {
    const stored = await sut.storeBuffer(jpeg(1000), 'image/jpeg', admin, 'capture');
    const db = sqlite(dataDir);
    db.exec(
      `CREATE TRIGGER vault_audit_down BEFORE INSERT ON vault_audit BEGIN SELECT RAISE(ABORT, 'audit store down'); END`,
    );
    const error = await errorOf(sut.read(stored.fileId, auditor, 'case review'));
    expect([httpStatusOf(error), error.code]).toEqual([503, 'audit_unavailable']);
    expect((await errorOf(sut.storeBuffer(jpeg(10), 'image/jpeg', admin, 'capture'))).code).toBe(
      'audit_unavailable',
    );
    db.exec('DROP TRIGGER vault_audit_down');
    db.exec('DROP TABLE vault_audit');
    expect((await errorOf(sut.read(stored.fileId, auditor, 'case review'))).code).toBe(
      'audit_unavailable',
    );
    db.close();
  });

  it('should refuse a read without a purpose, an unknown file and a bad id, auditing each', async () => {
    const stored = await sut.storeBuffer(jpeg(10), 'image/jpeg', admin, 'capture');
    expect((await errorOf(sut.read(stored.fileId, auditor, undefined))).code).toBe(
      'missing_purpose',
    );
    expect((await errorOf(sut.read(stored.fileId, auditor, '  '))).code).toBe('missing_purpose');
    expect((await errorOf(sut.read('0'.repeat(24), auditor, 'case review'))).code).toBe(
      'file_not_found',
    );
    expect((await errorOf(sut.read('../../etc/passwd', auditor, 'case review'))).code).toBe(
      'file_not_found',
    );
    const records = await vault.audit.list({ limit: 10 });
    expect(records.slice(1).map((r) => [r.fileId, r.result, r.reason])).toEqual([
      [stored.fileId, 'denied', 'missing_purpose'],
      [stored.fileId, 'denied', 'missing_purpose'],
      ['0'.repeat(24), 'failed', 'file_not_found'],
      ['(invalid)', 'failed', 'file_not_found'],
    ]);
  });

  it('should refuse other content types (415) and oversize files (413), keeping nothing', async () => {
    expect(
      (await errorOf(sut.storeBuffer(Buffer.from('{}'), 'application/json', admin, 'x1y'))).code,
    ).toBe('unsupported_media_type');
    expect(
      (await errorOf(sut.storeBuffer(Buffer.from('<svg/>'), 'image/svg+xml', admin, 'x1y'))).code,
    ).toBe('unsupported_media_type');
    await vault.close();
    vault = await boot(dataDir, { VAULT_MAX_FILE_BYTES: '1000' });
    async function* stream(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 10; i++) yield jpeg(300);
    }
    const error = await errorOf(vault.sut.store(stream(), 'image/jpeg', admin, 'capture'));
    expect([httpStatusOf(error), error.code]).toEqual([413, 'payload_too_large']);
    expect(await vault.sut.storeBuffer(jpeg(1000), 'image/jpeg', admin, 'capture')).toBeDefined();
    const usage = await vault.sut.keyUsage();
    expect(usage.inUse).toEqual({ v1: 1 });
    const uploads = vault.blobs.dir;
    expect(readdirSync(uploads)).toHaveLength(1);
  });

  it('should crypto-shred on delete: the key is gone, the blob removed, reads answer 410', async () => {
    const stored = await sut.storeBuffer(jpeg(100), 'image/jpeg', admin, 'capture');
    const deleted = await sut.delete(stored.fileId, admin, 'subject asked');
    expect(deleted.fileId).toBe(stored.fileId);
    expect(existsSync(vault.blobs.pathOf(stored.fileId))).toBe(false);
    const row = sqlite(dataDir)
      .prepare('SELECT wrapped_key, shred_reason FROM vault_files WHERE id = ?')
      .get(stored.fileId);
    expect(row).toEqual({ wrapped_key: null, shred_reason: 'deleted' });
    expect(httpStatusOf(await errorOf(sut.read(stored.fileId, auditor, 'case review')))).toBe(410);
    expect(httpStatusOf(await errorOf(sut.delete(stored.fileId, admin, undefined)))).toBe(410);
  });

  it('should purge files past the retention period at a given clock, auditing each purge', async () => {
    const stored = await sut.storeBuffer(jpeg(100), 'image/jpeg', admin, 'capture');
    const day = 24 * 60 * 60 * 1000;
    expect(await sut.purgeExpired(new Date(Date.now() + 29 * day))).toEqual({ purged: 0 });
    expect(await sut.purgeExpired(new Date(Date.now() + 31 * day))).toEqual({ purged: 1 });
    expect(existsSync(vault.blobs.pathOf(stored.fileId))).toBe(false);
    expect((await errorOf(sut.read(stored.fileId, auditor, 'case review'))).code).toBe(
      'file_deleted',
    );
    const records = await vault.audit.list({ fileId: stored.fileId, limit: 10 });
    expect(records.map((r) => [r.action, r.actor, r.result])).toEqual([
      ['store', admin.actor, 'allowed'],
      ['purge', 'system:retention', 'allowed'],
      ['read', auditor.actor, 'failed'],
    ]);
  });

  it('should purge a file whose created_at was moved into the future, by its id (red team)', async () => {
    const stored = await sut.storeBuffer(jpeg(100), 'image/jpeg', admin, 'capture');
    const db = sqlite(dataDir);
    db.prepare('UPDATE vault_files SET created_at = ? WHERE id = ?').run(
      '2099-01-01T00:00:00.000Z',
      stored.fileId,
    );
    db.close();
    const day = 24 * 60 * 60 * 1000;
    expect(await sut.purgeExpired(new Date(Date.now() + 29 * day))).toEqual({ purged: 0 });
    expect(await sut.purgeExpired(new Date(Date.now() + 31 * day))).toEqual({ purged: 1 });
    expect(existsSync(vault.blobs.pathOf(stored.fileId))).toBe(false);
    expect(sqlite(dataDir).prepare('SELECT wrapped_key FROM vault_files').get()).toEqual({
      wrapped_key: null,
    });
  });

  it('should keep a file whose created_at was moved into the past until its id says it is old (review)', async () => {
    const stored = await sut.storeBuffer(jpeg(100), 'image/jpeg', admin, 'capture');
    const db = sqlite(dataDir);
    db.prepare('UPDATE vault_files SET created_at = ? WHERE id = ?').run(
      '2001-01-01T00:00:00.000Z',
      stored.fileId,
    );
    db.close();
    const day = 24 * 60 * 60 * 1000;
    expect(await sut.purgeExpired(new Date(Date.now() + 29 * day))).toEqual({ purged: 0 });
    expect(existsSync(vault.blobs.pathOf(stored.fileId))).toBe(true);
    expect(await sut.purgeExpired(new Date(Date.now() + 31 * day))).toEqual({ purged: 1 });
  });

  it('should verify the audit chain and find an edited or a deleted record', async () => {
    for (let i = 0; i < 4; i++) await sut.storeBuffer(jpeg(10), 'image/jpeg', admin, 'capture');
    const intact = await vault.audit.verify();
    expect(intact).toMatchObject({ ok: true, length: 4 });
    const db = sqlite(dataDir);
    db.prepare("UPDATE vault_audit SET purpose = 'nothing to see' WHERE seq = 2").run();
    expect(await vault.audit.verify()).toMatchObject({
      ok: false,
      length: 1,
      headHash: expect.any(String),
      brokenAtSeq: 2,
      reason: 'record_hash_mismatch',
    });
    db.prepare("UPDATE vault_audit SET purpose = 'capture' WHERE seq = 2").run();
    expect((await vault.audit.verify()).ok).toBe(true);
    db.prepare('DELETE FROM vault_audit WHERE seq = 3').run();
    expect(await vault.audit.verify()).toMatchObject({ ok: false, brokenAtSeq: 3 });
    db.close();
  });

  it('should re-wrap every data key on rotation without touching blobs, so the old key can be retired', async () => {
    const files = [];
    for (let i = 0; i < 3; i++) {
      const data = jpeg(CHUNK + i);
      files.push({ data, stored: await sut.storeBuffer(data, 'image/jpeg', admin, 'capture') });
    }
    const blobDigests = files.map((f) =>
      createHash('sha256')
        .update(readFileSync(vault.blobs.pathOf(f.stored.fileId)))
        .digest('hex'),
    );
    await vault.close();

    vault = await boot(dataDir, {
      VAULT_KEYS: `v1:${key(1)},v2:${key(2)}`,
      VAULT_ACTIVE_KEY: 'v2',
    });
    expect((await vault.sut.keyUsage()).inUse).toEqual({ v1: 3 });
    const report = await vault.sut.rotateKeys();
    expect(report).toMatchObject({
      activeVersion: 'v2',
      rewrapped: 3,
      failed: [],
      usage: { inUse: { v2: 3 }, droppable: ['v1'], missing: [] },
    });
    expect((await vault.sut.rotateKeys()).rewrapped).toBe(0);
    await vault.close();

    vault = await boot(dataDir, { VAULT_KEYS: `v2:${key(2)}` });
    for (const [i, f] of files.entries()) {
      const read = await vault.sut.read(f.stored.fileId, auditor, 'after rotation');
      expect((await readAll(read.body)).equals(f.data)).toBe(true);
      const digest = createHash('sha256')
        .update(readFileSync(vault.blobs.pathOf(f.stored.fileId)))
        .digest('hex');
      expect(digest).toBe(blobDigests[i]);
    }
  });

  it('should answer a clear error, audited, when a file is wrapped by a key version the keyring lacks', async () => {
    const stored = await sut.storeBuffer(jpeg(10), 'image/jpeg', admin, 'capture');
    await vault.close();
    vault = await boot(dataDir, { VAULT_KEYS: `v2:${key(2)}` });
    const error = await errorOf(vault.sut.read(stored.fileId, auditor, 'case review'));
    expect([httpStatusOf(error), error.code]).toEqual([503, 'key_unavailable']);
    expect(error.message).toContain('v1');
    const records = await vault.audit.list({ fileId: stored.fileId, limit: 10 });
    expect(records.at(-1)).toMatchObject({ result: 'failed', reason: 'key_unavailable' });
    const rotation = await vault.sut.rotateKeys();
    expect(rotation.failed).toEqual([stored.fileId]);
  });
});
