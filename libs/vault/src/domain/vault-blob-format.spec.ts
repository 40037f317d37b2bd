import { createHash, randomBytes } from 'node:crypto';
import { newId } from '@app/common';
import {
  BLOB_HEADER_BYTES,
  BLOB_TAG_BYTES,
  BlobIntegrityError,
  BlobOpener,
  BlobFormatVersion,
  BlobSealer,
  decryptBlob,
  DEFAULT_CHUNK_BYTES,
  encryptBlob,
  ExpectedContent,
  handOver,
  PlaintextSummary,
  V1_CHUNK_BYTES,
} from './vault-blob-format';

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield Buffer.from(data.subarray(i, i + size));
}

/** The size and SHA-256 of `data`: what the metadata publishes for it. */
function summary(data: Buffer): PlaintextSummary {
  return { size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
}

/** The summary each blob encrypted here was sealed with, by its header (tampered copies too). */
const sealedWith = new Map<string, PlaintextSummary>();

let version: BlobFormatVersion = 2;

async function encrypt(data: Buffer, key: Buffer, fileId: string, chunkSize?: number) {
  // a version 1 blob as the server wrote them (64 KiB chunks)
  chunkSize ??= version === 1 ? V1_CHUNK_BYTES : undefined;
  const blob = await collect(encryptBlob(pieces(data, 1000), key, fileId, { chunkSize, version }));
  sealedWith.set(blob.subarray(0, 32).toString('hex'), summary(data));
  return blob;
}

/** Decrypts with the summary the blob was sealed with (as the metadata gives it), or `expected`. */
async function decrypt(
  blob: Buffer,
  key: Buffer,
  fileId: string,
  expected = sealedWith.get(blob.subarray(0, 32).toString('hex')),
): Promise<Buffer> {
  return collect(decryptBlob(pieces(blob, 777), key, fileId, expected));
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

describe.each([
  [2, DEFAULT_CHUNK_BYTES],
  [1, V1_CHUNK_BYTES],
] as const)('vault blob format, version %i', (written, chunk) => {
  const key = randomBytes(32);
  const fileId = newId();
  beforeAll(() => {
    version = written;
  });

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
    expect(blob[7]).toBe(written);
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
        for await (const part of decryptBlob(pieces(tampered, 50), key, fileId, summary(data)))
          received.push(part);
      })(),
    );
    expect(error).toMatchObject({ failure: 'chunk_auth_failed', chunkIndex: 3 });
    expect(Buffer.concat(received).equals(data.subarray(0, 3 * 16))).toBe(true);
  });

  it('should open a whole blob given at once, handing out the chunks before a tampered one with the failure', () => {
    const data = randomBytes(5 * 16 + 3);
    const sealer = new BlobSealer(key, fileId, { chunkSize: 16, version });
    const sealed: Buffer[] = [sealer.header];
    sealer.push(Buffer.from(data), sealed);
    expect(sealer.end(sealed)).toEqual(summary(data));
    const blob = Buffer.concat(sealed);
    // one piece, every record in it: all of them opened by one push, the final one by end
    const whole: Buffer[] = [];
    const opener = new BlobOpener(key, fileId, summary(data));
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
      new BlobOpener(key, fileId, summary(data)).push(tampered, before);
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
    const unknown = Buffer.from(blob);
    unknown[7] = 4;
    expect(await failureOf(decrypt(unknown, key, fileId))).toMatchObject({
      failure: 'unsupported_version',
    });
    // the other known version: the header is every chunk's AAD, so chunk 0 fails
    const relabelled = Buffer.from(blob);
    relabelled[7] = written === 2 ? 1 : 2;
    expect(
      await failureOf(decrypt(relabelled, key, fileId, summary(Buffer.from('hello')))),
    ).toMatchObject({
      failure: 'chunk_auth_failed',
      chunkIndex: 0,
    });
  });

  it('should use a fresh nonce prefix per blob', async () => {
    const a = await encrypt(Buffer.from('same'), key, fileId);
    const b = await encrypt(Buffer.from('same'), key, fileId);
    expect(a.subarray(24, 32).equals(b.subarray(24, 32))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });
});

describe('vault blob format, version 2: the size and digest bound into the final chunk', () => {
  const key = randomBytes(32);
  const fileId = newId();
  beforeAll(() => {
    version = 2;
  });

  /** The failure of opening `blob` with `expected` as the metadata's size and digest, if any. */
  const opened = async (blob: Buffer, expected?: PlaintextSummary) => {
    try {
      await collect(decryptBlob(pieces(blob, 777), key, fileId, expected));
      return 'opened';
    } catch (error) {
      if (!(error instanceof BlobIntegrityError)) throw error;
      return `${error.failure} at ${error.chunkIndex}`;
    }
  };

  it.each([
    ['empty', 0],
    ['one chunk and a byte (16-byte chunks)', 17],
    ['three chunks exactly', 48],
  ])(
    'should open a %s blob only with the size and SHA-256 it was sealed with',
    async (_l, size) => {
      const data = randomBytes(size);
      const blob = await encrypt(data, key, fileId, 16);
      const final = Math.max(1, Math.ceil(size / 16)) - 1;
      const right = summary(data);
      expect(await opened(blob, right)).toBe('opened');
      const flipped = Buffer.from(right.sha256, 'hex');
      flipped[31] ^= 0x01;
      const wrong: PlaintextSummary[] = [
        { ...right, sha256: flipped.toString('hex') },
        { ...right, size: size + 1 },
        ...(size > 0 ? [{ ...right, size: size - 1 }] : []),
        // another file's: its digest and size
        summary(randomBytes(size + 5)),
        // the digest of other bytes of the same size
        ...(size > 0 ? [summary(randomBytes(size))] : []),
      ];
      for (const expected of wrong) {
        // a size the blob's length does not give is said as such (after the tag failed)
        const failure =
          expected.size === size
            ? 'chunk_auth_failed'
            : expected.size > size
              ? 'shorter_than_recorded'
              : 'size_mismatch';
        expect(await opened(blob, expected)).toBe(`${failure} at ${final}`);
      }
    },
  );

  it('should hand out every chunk before the final one, and never the final one, when the digest does not match', () => {
    const data = randomBytes(3 * 16 + 5);
    const sealer = new BlobSealer(key, fileId, { chunkSize: 16 });
    const sealed: Buffer[] = [sealer.header];
    sealer.push(Buffer.from(data), sealed);
    sealer.end(sealed);
    const wrong = { ...summary(data), sha256: summary(randomBytes(4)).sha256 };
    const out: Buffer[] = [];
    const opener = new BlobOpener(key, fileId, wrong);
    opener.push(Buffer.concat(sealed), out);
    expect(opener.bindsDigest).toBe(true);
    expect(() => opener.end(out)).toThrow(BlobIntegrityError);
    expect(Buffer.concat(out).equals(data.subarray(0, 3 * 16))).toBe(true);
  });

  it('should refuse a version 2 blob opened without a size and digest, or with what is none', async () => {
    const data = randomBytes(40);
    const blob = await encrypt(data, key, fileId, 16);
    const right = summary(data);
    expect(await opened(blob, undefined)).toBe('unbound_digest at -1');
    for (const expected of [
      { ...right, sha256: right.sha256.toUpperCase() },
      { ...right, sha256: right.sha256.slice(0, 62) },
      { ...right, sha256: `${right.sha256.slice(0, 63)}g` },
      { ...right, size: -1 },
      { ...right, size: 40.5 },
      { ...right, size: Number.MAX_SAFE_INTEGER + 1 },
    ]) {
      expect(await opened(blob, expected)).toBe('unbound_digest at -1');
    }
  });

  it('should refuse a truncated, extended or swapped version 2 blob even with the right summary', async () => {
    const data = randomBytes(4 * 16);
    const blob = await encrypt(data, key, fileId, 16);
    const right = summary(data);
    const record = 16 + BLOB_TAG_BYTES;
    const other = await encrypt(data, key, fileId, 16); // the same bytes, sealed again
    const otherFile = await encrypt(data, key, newId(), 16);
    expect(await opened(blob.subarray(0, BLOB_HEADER_BYTES + 3 * record), right)).toBe(
      'shorter_than_recorded at 2',
    );
    // cut inside its final record
    expect(await opened(blob.subarray(0, blob.length - 5), right)).toBe(
      'shorter_than_recorded at 3',
    );
    expect(await opened(Buffer.concat([blob, blob.subarray(-record)]), right)).toBe(
      'chunk_auth_failed at 3',
    );
    // the final record of another sealing of the same bytes (same summary, another nonce prefix)
    const spliced = Buffer.concat([blob.subarray(0, -record), other.subarray(-record)]);
    expect(await opened(spliced, right)).toBe('chunk_auth_failed at 3');
    expect(await opened(otherFile, right)).toBe('file_id_mismatch at -1');
  });

  it('should read version 1 blobs of 64 KiB chunks, binding nothing (their reader hashes)', async () => {
    version = 1;
    const data = randomBytes(2 * V1_CHUNK_BYTES + 9);
    const blob = await encrypt(data, key, fileId);
    version = 2;
    expect(blob[7]).toBe(1);
    expect(blob.readUInt32BE(8)).toBe(V1_CHUNK_BYTES);
    const opener = new BlobOpener(key, fileId, { size: 1, sha256: '0'.repeat(64) });
    const out: Buffer[] = [];
    opener.push(blob, out);
    opener.end(out);
    expect(opener.bindsDigest).toBe(false);
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });
});

describe('vault blob format, version 3: the metadata digest bound into the final chunk', () => {
  const key = randomBytes(32);
  const fileId = newId();
  const meta = (text: string) => createHash('sha256').update(text).digest();

  /** A blob of `data` sealed with `metadata`, in chunks of 16 bytes. */
  const sealed = (data: Buffer, metadata: Buffer, version?: BlobFormatVersion) => {
    const sealer = new BlobSealer(key, fileId, { chunkSize: 16, metadata, version });
    const out: Buffer[] = [sealer.header];
    sealer.push(Buffer.from(data), out);
    sealer.end(out);
    return Buffer.concat(out);
  };
  const opened = async (blob: Buffer, expected?: ExpectedContent) => {
    try {
      return (await collect(decryptBlob(pieces(blob, 7), key, fileId, expected))).toString('hex');
    } catch (error) {
      if (!(error instanceof BlobIntegrityError)) throw error;
      return `${error.failure} at ${error.chunkIndex}`;
    }
  };

  it('should open only with the metadata digest it was sealed with', async () => {
    const data = randomBytes(3 * 16 + 5);
    const blob = sealed(data, meta('a'));
    expect(blob.readUInt8(7)).toBe(3);
    expect(await opened(blob, { ...summary(data), metadata: meta('a') })).toBe(
      data.toString('hex'),
    );
    expect(await opened(blob, { ...summary(data), metadata: meta('b') })).toBe(
      'chunk_auth_failed at 3',
    );
    expect(await opened(blob, summary(data))).toBe('unbound_digest at -1');
    expect(await opened(blob, { ...summary(data), metadata: Buffer.alloc(31) })).toBe(
      'unbound_digest at -1',
    );
  });

  it('should refuse a version 3 header relabelled as version 2 (no downgrade), and read version 2 as before', async () => {
    const data = randomBytes(3 * 16 + 5);
    const blob = sealed(data, meta('a'));
    blob.writeUInt8(2, 7);
    expect(await opened(blob, { ...summary(data), metadata: meta('a') })).toBe(
      'chunk_auth_failed at 0',
    );
    // version 2, written before: its metadata digest is not bound, whatever the reader gives
    const legacy = sealed(data, meta('a'), 2);
    expect(legacy.readUInt8(7)).toBe(2);
    expect(await opened(legacy, { ...summary(data), metadata: meta('b') })).toBe(
      data.toString('hex'),
    );
    expect(() => new BlobSealer(key, fileId, { version: 3 })).toThrow(TypeError);
  });
});
