import { randomBytes } from 'node:crypto';
import { newId } from '@app/common';
import {
  BLOB_HEADER_BYTES,
  BLOB_TAG_BYTES,
  BlobIntegrityError,
  BlobOpener,
  BlobSealer,
  decryptBlob,
  DEFAULT_CHUNK_BYTES,
  encryptBlob,
  handOver,
} from './vault-blob-format';

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield Buffer.from(data.subarray(i, i + size));
}

async function encrypt(data: Buffer, key: Buffer, fileId: string, chunkSize?: number) {
  return collect(encryptBlob(pieces(data, 1000), key, fileId, { chunkSize }));
}

async function decrypt(blob: Buffer, key: Buffer, fileId: string): Promise<Buffer> {
  return collect(decryptBlob(pieces(blob, 777), key, fileId));
}

async function failureOf(promise: Promise<unknown>): Promise<BlobIntegrityError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BlobIntegrityError) return error;
    throw error;
  }
  throw new Error('expected a BlobIntegrityError');
}

describe('vault blob format', () => {
  const key = randomBytes(32);
  const fileId = newId();
  const chunk = DEFAULT_CHUNK_BYTES;

  it.each([
    ['0 B', 0],
    ['1 B', 1],
    ['exactly one chunk', chunk],
    ['one chunk + 1', chunk + 1],
    ['two chunks exactly', 2 * chunk],
    ['several chunks and a tail', 3 * chunk + 12345],
  ])('should round-trip %s', async (_label, size) => {
    const data = randomBytes(size);
    const blob = await encrypt(data, key, fileId);
    const chunks = Math.max(1, Math.ceil(size / chunk));
    expect(blob.length).toBe(BLOB_HEADER_BYTES + size + chunks * BLOB_TAG_BYTES);
    expect((await decrypt(blob, key, fileId)).equals(data)).toBe(true);
  });

  it('should write a header that names the format, chunk size and file id', async () => {
    const blob = await encrypt(Buffer.from('x'), key, fileId);
    expect(blob.subarray(0, 7).toString('ascii')).toBe('MDAIVLT');
    expect(blob[7]).toBe(1);
    expect(blob.readUInt32BE(8)).toBe(chunk);
    expect(blob.subarray(12, 24).toString('hex')).toBe(fileId);
  });

  it('should not contain the plaintext', async () => {
    const data = Buffer.from('FACE-IMAGE-MARKER '.repeat(10_000));
    const blob = await encrypt(data, key, fileId);
    expect(blob.includes(Buffer.from('FACE-IMAGE-MARKER'))).toBe(false);
  });

  it('should refuse a flipped bit in every byte of the header and of every chunk', async () => {
    const data = randomBytes(40);
    const blob = await encrypt(data, key, fileId, 16); // header + 3 records (16, 16, 8 bytes)
    for (let i = 0; i < blob.length; i++) {
      const tampered = Buffer.from(blob);
      tampered[i] ^= 0x01;
      const error = await failureOf(decrypt(tampered, key, fileId));
      const record = 16 + BLOB_TAG_BYTES;
      const expectedChunk =
        i < BLOB_HEADER_BYTES ? [-1, 0] : [Math.floor((i - BLOB_HEADER_BYTES) / record)];
      expect(expectedChunk).toContain(error.chunkIndex);
    }
  });

  it('should yield the chunks before a tampered one and then stop at it', async () => {
    const data = randomBytes(5 * 16);
    const blob = await encrypt(data, key, fileId, 16);
    const tampered = Buffer.from(blob);
    tampered[BLOB_HEADER_BYTES + 3 * (16 + BLOB_TAG_BYTES) + 2] ^= 0x80;
    const received: Buffer[] = [];
    const error = await failureOf(
      (async () => {
        for await (const part of decryptBlob(pieces(tampered, 50), key, fileId))
          received.push(part);
      })(),
    );
    expect(error).toMatchObject({ failure: 'chunk_auth_failed', chunkIndex: 3 });
    expect(Buffer.concat(received).equals(data.subarray(0, 3 * 16))).toBe(true);
  });

  it('should open a whole blob given at once, handing out the chunks before a tampered one with the failure', () => {
    const data = randomBytes(5 * 16 + 3);
    const sealer = new BlobSealer(key, fileId, { chunkSize: 16 });
    const sealed: Buffer[] = [sealer.header];
    sealer.push(Buffer.from(data), sealed);
    sealer.end(sealed);
    const blob = Buffer.concat(sealed);
    // one piece, every record in it: all of them opened by one push, the final one by end
    const whole: Buffer[] = [];
    const opener = new BlobOpener(key, fileId);
    opener.push(Buffer.from(blob), whole);
    expect(Buffer.concat(whole).equals(data.subarray(0, 5 * 16))).toBe(true);
    opener.end(whole);
    expect(Buffer.concat(whole).equals(data)).toBe(true);
    // chunk 3 tampered: chunks 0-2 handed out, nothing of 3 or after
    const tampered = Buffer.from(blob);
    tampered[BLOB_HEADER_BYTES + 3 * (16 + BLOB_TAG_BYTES) + 2] ^= 0x80;
    const before: Buffer[] = [];
    let failure: unknown;
    try {
      new BlobOpener(key, fileId).push(tampered, before);
    } catch (error) {
      failure = error;
    }
    expect(failure).toMatchObject({ failure: 'chunk_auth_failed', chunkIndex: 3 });
    expect(Buffer.concat(before).equals(data.subarray(0, 3 * 16))).toBe(true);
  });

  it('should wipe the parts of a chunk that a consumer stopped before taking', () => {
    const parts = [Buffer.from('first'), Buffer.from('second'), Buffer.from('third')];
    for (const part of handOver(parts)) {
      expect(part.toString()).toBe('first');
      break;
    }
    expect(parts[0].toString()).toBe('first'); // the consumer's: not wiped under it
    expect(parts.slice(1).every((part) => part.every((byte) => byte === 0))).toBe(true);
    const whole = [Buffer.from('a'), Buffer.from('b')];
    expect([...handOver(whole)].map(String)).toEqual(['a', 'b']);
    expect(whole.map(String)).toEqual(['a', 'b']);
  });

  it('should detect truncation at a chunk boundary, a dropped chunk and an appended one', async () => {
    const data = randomBytes(4 * 16);
    const blob = await encrypt(data, key, fileId, 16);
    const record = 16 + BLOB_TAG_BYTES;
    const records = (b: Buffer) =>
      Array.from({ length: 4 }, (_, i) =>
        b.subarray(BLOB_HEADER_BYTES + i * record, BLOB_HEADER_BYTES + (i + 1) * record),
      );
    const header = blob.subarray(0, BLOB_HEADER_BYTES);
    const [r0, r1, r2, r3] = records(blob);
    const cases: [string, Buffer][] = [
      ['cut after chunk 2', Buffer.concat([header, r0, r1, r2])],
      ['cut inside chunk 3', blob.subarray(0, blob.length - 5)],
      ['chunk 1 dropped', Buffer.concat([header, r0, r2, r3])],
      ['chunk 3 repeated', Buffer.concat([header, r0, r1, r2, r3, r3])],
      ['header only', Buffer.from(header)],
      ['half a header', blob.subarray(0, 10)],
      ['nothing', Buffer.alloc(0)],
    ];
    for (const [, bytes] of cases) {
      await expect(decrypt(bytes, key, fileId)).rejects.toBeInstanceOf(BlobIntegrityError);
    }
  });

  it('should detect reordered chunks', async () => {
    const data = randomBytes(3 * 16);
    const blob = await encrypt(data, key, fileId, 16);
    const record = 16 + BLOB_TAG_BYTES;
    const r = (i: number) =>
      blob.subarray(BLOB_HEADER_BYTES + i * record, BLOB_HEADER_BYTES + (i + 1) * record);
    const swapped = Buffer.concat([blob.subarray(0, BLOB_HEADER_BYTES), r(1), r(0), r(2)]);
    expect(await failureOf(decrypt(swapped, key, fileId))).toMatchObject({
      failure: 'chunk_auth_failed',
      chunkIndex: 0,
    });
  });

  it('should refuse a blob of another file, under another key, or with a forged header', async () => {
    const blob = await encrypt(Buffer.from('hello'), key, fileId);
    expect(await failureOf(decrypt(blob, key, newId()))).toMatchObject({
      failure: 'file_id_mismatch',
    });
    expect(await failureOf(decrypt(blob, randomBytes(32), fileId))).toMatchObject({
      failure: 'chunk_auth_failed',
      chunkIndex: 0,
    });
    const huge = Buffer.from(blob);
    huge.writeUInt32BE(0x7fffffff, 8);
    expect(await failureOf(decrypt(huge, key, fileId))).toMatchObject({
      failure: 'bad_chunk_size',
    });
    const version = Buffer.from(blob);
    version[7] = 2;
    expect(await failureOf(decrypt(version, key, fileId))).toMatchObject({
      failure: 'unsupported_version',
    });
  });

  it('should use a fresh nonce prefix per blob', async () => {
    const a = await encrypt(Buffer.from('same'), key, fileId);
    const b = await encrypt(Buffer.from('same'), key, fileId);
    expect(a.subarray(24, 32).equals(b.subarray(24, 32))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });
});
