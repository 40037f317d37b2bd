import { createCipheriv, createDecipheriv, createHash, Hash, randomBytes } from 'node:crypto';

/**
 * The on-disk format of one vault blob (specified byte by byte in docs/vault-format.md).
 *
 *   header (32 bytes) = "MDAIVLT" | version (0x01, 0x02 or 0x03) | chunk size u32 BE | file id (12 bytes) | nonce prefix (8 bytes)
 *   then chunk records, each = AES-256-GCM ciphertext of up to `chunk size` bytes | 16-byte tag
 *
 * Chunk i uses nonce = prefix | u32 BE i and AAD = header | u32 BE i | final flag (1 byte),
 * so a flipped header byte, a reordered, dropped, duplicated or appended chunk, and a cut at
 * a chunk boundary all fail authentication. Every non-final chunk holds exactly `chunk size`
 * plaintext bytes; the one final chunk holds 0..chunk size (0 only for an empty file).
 *
 * Version 2 (written since `vaultv2`) also binds the whole plaintext's size (u64 BE) and SHA-256
 * (32 bytes) into the final chunk's AAD: a reader that gives the size and digest it publishes
 * (the metadata record's) learns from the final tag that they are those of the plaintext the
 * chunks before it carried, without hashing it again. Version 1 blobs are still read; their
 * reader hashes.
 *
 * Version 3 (written since `vaultmeta`) also binds, after those, the SHA-256 of the metadata
 * the server decides on (content type, creation time, creator: `metadataDigest` in
 * vault-file.ts): a record whose fields were changed in the store fails the final tag.
 */
export const BLOB_MAGIC = Buffer.from('MDAIVLT', 'ascii');
/** The version new blobs are written in (given the metadata to bind; version 2 without). */
export const BLOB_FORMAT_VERSION = 3;
export type BlobFormatVersion = 1 | 2 | 3;
export const BLOB_HEADER_BYTES = 32;
export const BLOB_TAG_BYTES = 16;
export const DATA_KEY_BYTES = 32;
/**
 * Plaintext bytes per chunk of a new blob. An upload holds at most one chunk of plaintext plus
 * the piece the socket gave and one chunk's ciphertext on its way to the file (~2 MiB); a read
 * holds one record plus one read of the blob (1 MiB). Blobs written with other sizes (64 KiB
 * before `vaultv2`) are read as their header says.
 */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** The chunk size of every blob written before `vaultv2` (format version 1). */
export const V1_CHUNK_BYTES = 64 * 1024;
/** Readers refuse larger chunk sizes, so a forged header cannot make them buffer a whole file. */
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024;
const NONCE_PREFIX_BYTES = 8;
const MAX_CHUNKS = 0xffffffff;

export type BlobFailure =
  | 'bad_magic'
  | 'unsupported_version'
  | 'bad_chunk_size'
  | 'file_id_mismatch'
  | 'truncated'
  | 'chunk_auth_failed'
  | 'too_many_chunks'
  | 'longer_than_recorded'
  /** the final record fails and the blob's length gives less than the recorded size: cut short */
  | 'shorter_than_recorded'
  | 'unbound_digest'
  | 'size_mismatch';

/** The blob is not what was written: never serve any of it. Says where, never what. */
export class BlobIntegrityError extends Error {
  constructor(
    readonly failure: BlobFailure,
    /** The chunk that failed; -1 for the header. */
    readonly chunkIndex: number,
  ) {
    super(`vault blob failed its integrity check (${failure} at chunk ${chunkIndex})`);
    this.name = 'BlobIntegrityError';
  }
}

export interface BlobHeader {
  version: BlobFormatVersion;
  chunkSize: number;
  fileId: string;
  noncePrefix: Buffer;
  raw: Buffer;
}

/** What the whole plaintext of a blob is: bound into a version 2 blob's final chunk. */
export interface PlaintextSummary {
  /** Bytes. */
  size: number;
  /** SHA-256, lower-case hex. */
  sha256: string;
}

/** What a reader expects of a blob: its plaintext's summary, and the metadata digest (version 3). */
export interface ExpectedContent extends PlaintextSummary {
  /** The 32-byte SHA-256 of the file's bound metadata (`metadataDigest`). */
  metadata?: Buffer;
}

/**
 * The most bytes a blob of `size` plaintext bytes has when its chunks are V1_CHUNK_BYTES or
 * larger (every blob the vault writes): the header, the plaintext, a tag a record and one for a
 * last record. A read's hint only (`VaultBlobStorage.open`): a longer blob is still read whole
 * and refused by its check; undefined for a size that is no byte count.
 */
export function blobBytesAtMost(size: number): number | undefined {
  if (!Number.isSafeInteger(size) || size < 0) return undefined;
  return BLOB_HEADER_BYTES + size + BLOB_TAG_BYTES * (Math.ceil(size / V1_CHUNK_BYTES) + 1);
}

/**
 * The bytes of a blob of `size` plaintext bytes sealed in chunks of `chunkSize` (as `BlobSealer`
 * writes it): the header, then a record a chunk, the last holding what is left (0..chunkSize
 * bytes), each with its tag. Undefined for a size that is no byte count or a chunk size readers
 * refuse. A read's end (`VaultBlobStorage.open`): a read short of it is read again.
 */
export function blobBytesOf(size: number, chunkSize: number): number | undefined {
  if (!Number.isSafeInteger(size) || size < 0) return undefined;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_BYTES)
    return undefined;
  return BLOB_HEADER_BYTES + size + BLOB_TAG_BYTES * Math.max(1, Math.ceil(size / chunkSize));
}

export function encodeHeader(
  fileId: string,
  chunkSize: number,
  noncePrefix: Buffer,
  version: BlobFormatVersion = 2,
): Buffer {
  const id = Buffer.from(fileId, 'hex');
  if (id.length !== 12 || id.toString('hex') !== fileId.toLowerCase()) {
    throw new TypeError('fileId must be 24 hex characters');
  }
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_BYTES) {
    throw new RangeError(`chunk size must be 1..${MAX_CHUNK_BYTES}`);
  }
  if (noncePrefix.length !== NONCE_PREFIX_BYTES) throw new RangeError('nonce prefix is 8 bytes');
  const header = Buffer.alloc(BLOB_HEADER_BYTES);
  BLOB_MAGIC.copy(header, 0);
  header.writeUInt8(version, 7);
  header.writeUInt32BE(chunkSize, 8);
  id.copy(header, 12);
  noncePrefix.copy(header, 24);
  return header;
}

export function parseHeader(raw: Buffer, expectedFileId: string): BlobHeader {
  if (raw.length < BLOB_HEADER_BYTES) throw new BlobIntegrityError('truncated', -1);
  if (!raw.subarray(0, 7).equals(BLOB_MAGIC)) throw new BlobIntegrityError('bad_magic', -1);
  const version = raw.readUInt8(7);
  if (version !== 1 && version !== 2 && version !== 3) {
    throw new BlobIntegrityError('unsupported_version', -1);
  }
  const chunkSize = raw.readUInt32BE(8);
  if (chunkSize < 1 || chunkSize > MAX_CHUNK_BYTES) {
    throw new BlobIntegrityError('bad_chunk_size', -1);
  }
  const fileId = raw.subarray(12, 24).toString('hex');
  if (fileId !== expectedFileId.toLowerCase()) {
    throw new BlobIntegrityError('file_id_mismatch', -1);
  }
  return {
    version,
    chunkSize,
    fileId,
    noncePrefix: Buffer.from(raw.subarray(24, 32)),
    raw: Buffer.from(raw.subarray(0, BLOB_HEADER_BYTES)),
  };
}

function nonce(prefix: Buffer, index: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(index, 8);
  return n;
}

const SUMMARY_BYTES = 8 + 32;
const METADATA_BYTES = 32;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Chunk i's AAD: header | u32 BE i | final flag; a version 2 final chunk's also the plaintext's
 * size (u64 BE) and SHA-256 (32 bytes); a version 3 final chunk's then also the metadata's
 * SHA-256 (32 bytes): `summary` is those 40 or 72 bytes.
 */
function chunkAad(header: BlobHeader, index: number, final: boolean, summary?: Buffer): Buffer {
  const bound = final && header.version >= 2;
  const aad = Buffer.alloc(
    BLOB_HEADER_BYTES +
      5 +
      (bound ? SUMMARY_BYTES : 0) +
      (bound && header.version === 3 ? METADATA_BYTES : 0),
  );
  header.raw.copy(aad, 0);
  aad.writeUInt32BE(index, BLOB_HEADER_BYTES);
  aad.writeUInt8(final ? 1 : 0, BLOB_HEADER_BYTES + 4);
  if (bound) summary!.copy(aad, BLOB_HEADER_BYTES + 5);
  return aad;
}

/**
 * The 40 bytes a version 2 final chunk binds, or with `metadata` the 72 a version 3 one binds;
 * undefined for what is no size, digest or metadata digest.
 */
function encodeSummary(summary: PlaintextSummary, metadata?: Buffer): Buffer | undefined {
  const { size, sha256 } = summary;
  if (!Number.isSafeInteger(size) || size < 0) return undefined;
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) return undefined;
  if (metadata && metadata.length !== METADATA_BYTES) return undefined;
  const out = Buffer.alloc(SUMMARY_BYTES + (metadata ? METADATA_BYTES : 0));
  out.writeBigUInt64BE(BigInt(size), 0);
  out.write(sha256, 8, 'hex');
  metadata?.copy(out, SUMMARY_BYTES);
  return out;
}

/**
 * One record: the chunk's ciphertext then its tag, appended to `out` as the parts the cipher
 * produced (the plaintext may arrive as several pieces; nothing is copied into one buffer first).
 */
function sealChunk(
  key: Buffer,
  header: BlobHeader,
  index: number,
  final: boolean,
  plaintext: Buffer[],
  out: Buffer[],
  hash: Hash,
  summary?: () => Buffer,
): void {
  if (index > MAX_CHUNKS) throw new BlobIntegrityError('too_many_chunks', index);
  const cipher = createCipheriv('aes-256-gcm', key, nonce(header.noncePrefix, index));
  // the digest is of the very bytes handed to the cipher, in the same step: a piece hashed and
  // then encrypted while it is in the core's cache (one read of it from memory, not two), but
  // for the final chunk, whose AAD binds the digest of all the plaintext, its own included
  if (summary) {
    for (const piece of plaintext) hash.update(piece);
    cipher.setAAD(chunkAad(header, index, final, summary()));
    for (const piece of plaintext) out.push(cipher.update(piece));
  } else {
    cipher.setAAD(chunkAad(header, index, final));
    for (const piece of plaintext) {
      hash.update(piece);
      out.push(cipher.update(piece));
    }
  }
  cipher.final();
  out.push(cipher.getAuthTag());
}

/**
 * One record's plaintext, appended to `out` as the parts the decipher produced (the record may
 * arrive as several pieces; nothing is copied into one buffer first). Appended only once the
 * tag authenticated the whole record; on failure the parts are wiped and never appended. At
 * least one part, even for an empty chunk.
 */
function openChunk(
  key: Buffer,
  header: BlobHeader,
  index: number,
  final: boolean,
  record: Buffer[],
  recordLength: number,
  out: Buffer[],
  summary?: Buffer,
): void {
  if (recordLength < BLOB_TAG_BYTES) throw new BlobIntegrityError('truncated', index);
  if (index > MAX_CHUNKS) throw new BlobIntegrityError('too_many_chunks', index);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce(header.noncePrefix, index));
  decipher.setAAD(chunkAad(header, index, final, summary));
  const tag = Buffer.allocUnsafe(BLOB_TAG_BYTES);
  const plaintext: Buffer[] = [];
  let left = recordLength - BLOB_TAG_BYTES; // ciphertext bytes still to decipher
  let tagFilled = 0;
  for (const piece of record) {
    const body = Math.min(left, piece.length);
    if (body > 0) plaintext.push(decipher.update(piece.subarray(0, body)));
    left -= body;
    if (body < piece.length) tagFilled += piece.copy(tag, tagFilled, body);
  }
  decipher.setAuthTag(tag);
  try {
    decipher.final();
  } catch {
    for (const part of plaintext) part.fill(0);
    throw new BlobIntegrityError('chunk_auth_failed', index);
  }
  // an empty file still yields its (empty, authenticated) final chunk
  if (plaintext.length === 0) out.push(Buffer.alloc(0));
  else for (const part of plaintext) out.push(part);
}

function asBuffer(piece: Buffer | Uint8Array | string): Buffer {
  if (typeof piece === 'string') return Buffer.from(piece, 'utf8');
  if (Buffer.isBuffer(piece)) return piece;
  return Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
}

/** Accumulates stream pieces and hands out exact-length slices without re-copying the rest. */
class ByteQueue {
  private pieces: Buffer[] = [];
  length = 0;

  push(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.length += piece.length;
  }

  /** The next n bytes as views of the queued pieces (no copy). */
  takePieces(n: number): Buffer[] {
    const out: Buffer[] = [];
    let taken = 0;
    while (taken < n) {
      const head = this.pieces[0];
      const need = n - taken;
      if (head.length <= need) {
        out.push(head);
        taken += head.length;
        this.pieces.shift();
      } else {
        out.push(head.subarray(0, need));
        this.pieces[0] = head.subarray(need);
        taken += need;
      }
    }
    this.length -= n;
    return out;
  }

  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.pieces[0];
      const need = n - filled;
      if (head.length <= need) {
        head.copy(out, filled);
        filled += head.length;
        this.pieces.shift();
      } else {
        head.copy(out, filled, 0, need);
        this.pieces[0] = head.subarray(need);
        filled += need;
      }
    }
    this.length -= n;
    return out;
  }
}

export interface EncryptOptions {
  chunkSize?: number;
  /** Fixed only by tests; a fresh random prefix otherwise. */
  noncePrefix?: Buffer;
  /** Only tests write versions 1 and 2 (the blobs stored before `vaultv2`, `vaultmeta`). */
  version?: BlobFormatVersion;
  /**
   * The 32-byte SHA-256 of the file's bound metadata (`metadataDigest`): given, the blob is
   * version 3 (unless `version` says otherwise), which needs it; without, version 2.
   */
  metadata?: Buffer;
}

/**
 * The blob format's encryption, a piece of plaintext at a time and synchronously (no stream or
 * generator between the source and the file): `header` first, then the records each `push`
 * completes, then `end`'s final record. Holds at most one chunk (plus the piece pushed) in
 * memory. Pieces must be fresh buffers (as file and network streams give): they are queued,
 * not copied. Counts and hashes the plaintext as each chunk is sealed (the digest is of the
 * bytes the cipher took, in the same step), and `end` gives both: what the metadata publishes.
 */
export class BlobSealer {
  /** The blob's first 32 bytes. */
  readonly header: Buffer;
  private readonly parsed: BlobHeader;
  private readonly chunkSize: number;
  private readonly queue = new ByteQueue();
  private readonly hash = createHash('sha256');
  private readonly metadata?: Buffer;
  private index = 0;
  private bytes = 0;

  constructor(
    private readonly dataKey: Buffer,
    fileId: string,
    options: EncryptOptions = {},
  ) {
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_BYTES;
    const version = options.version ?? (options.metadata ? BLOB_FORMAT_VERSION : 2);
    if (version === 3 && options.metadata?.length !== METADATA_BYTES) {
      throw new TypeError('a version 3 blob binds a 32-byte metadata digest');
    }
    this.metadata = version === 3 ? options.metadata : undefined;
    this.header = encodeHeader(
      fileId,
      this.chunkSize,
      options.noncePrefix ?? randomBytes(8),
      version,
    );
    this.parsed = parseHeader(this.header, fileId);
  }

  /**
   * The plaintext bytes sealed into records so far (the rest is queued for the next): a piece
   * pushed whose bytes all lie below this is no longer needed by the sealer.
   */
  get sealedBytes(): number {
    return this.bytes - this.queue.length;
  }

  /** Appends to `out` the records `piece` completes (each chunk's ciphertext parts, then its tag). */
  push(piece: Buffer | Uint8Array | string, out: Buffer[]): void {
    const buffer = asBuffer(piece);
    this.bytes += buffer.length;
    this.queue.push(buffer);
    // strictly more than one chunk buffered: the next chunk is certainly not the last
    while (this.queue.length > this.chunkSize) {
      const chunk = this.queue.takePieces(this.chunkSize);
      sealChunk(this.dataKey, this.parsed, this.index++, false, chunk, out, this.hash);
    }
  }

  /**
   * Appends the final record (what is left, 0..chunk size bytes) to `out`; returns the size and
   * SHA-256 of all the plaintext sealed (in a version 2 blob, bound into that record).
   */
  end(out: Buffer[]): PlaintextSummary {
    const rest = this.queue.takePieces(this.queue.length);
    let summary: PlaintextSummary | undefined;
    sealChunk(this.dataKey, this.parsed, this.index, true, rest, out, this.hash, () => {
      summary = { size: this.bytes, sha256: this.hash.digest('hex') };
      return encodeSummary(summary, this.metadata)!;
    });
    return summary!;
  }
}

/**
 * The blob format's decryption, a piece of ciphertext at a time and synchronously: `push`
 * appends the plaintext of each record the piece completes, once that record authenticated;
 * `end` the final record's. Either throws BlobIntegrityError at the first record that fails,
 * with the plaintext of the records before it (all authenticated) already in `out`: a caller
 * never receives unauthenticated bytes, and may hand out those before the failure.
 *
 * `expected` is the size and SHA-256 the caller publishes for this file (its metadata). A
 * version 2 blob's final record authenticates only with those it was sealed with: once `end`
 * returns, the plaintext handed out is the one they describe (`bindsDigest`), with no hashing
 * here. A version 1 blob binds nothing: its caller must count and hash the plaintext itself.
 * A version 2 blob opened without `expected` (or with something that is no size and digest)
 * fails at its header (`unbound_digest`); a version 3 blob also without `expected.metadata`.
 * Version 3's final record also authenticates only with the metadata digest it was sealed with.
 */
export class BlobOpener {
  private readonly queue = new ByteQueue();
  private header?: BlobHeader;
  private readonly summary?: Buffer;
  private readonly boundSummary?: Buffer;
  private readonly expectedSize?: number;
  private recordBytes = 0;
  private index = 0;

  constructor(
    private readonly dataKey: Buffer,
    private readonly expectedFileId: string,
    expected?: ExpectedContent,
  ) {
    this.summary = expected && encodeSummary(expected);
    this.boundSummary = expected?.metadata && encodeSummary(expected, expected.metadata);
    this.expectedSize = expected?.size;
  }

  /** The blob's format version, once its header was read. */
  get version(): BlobFormatVersion | undefined {
    return this.header?.version;
  }

  /**
   * True once the header says the final record binds the expected size and digest (version 2
   * or 3): a successful `end` then vouches for them. False for version 1; undefined before the
   * header.
   */
  get bindsDigest(): boolean | undefined {
    return this.header && this.header.version >= 2;
  }

  push(piece: Buffer | Uint8Array | string, out: Buffer[]): void {
    this.queue.push(asBuffer(piece));
    if (!this.header) {
      if (this.queue.length < BLOB_HEADER_BYTES) return;
      const header = parseHeader(this.queue.take(BLOB_HEADER_BYTES), this.expectedFileId);
      if (header.version === 2 && !this.summary) {
        throw new BlobIntegrityError('unbound_digest', -1);
      }
      if (header.version === 3 && !this.boundSummary) {
        throw new BlobIntegrityError('unbound_digest', -1);
      }
      this.header = header;
      this.recordBytes = header.chunkSize + BLOB_TAG_BYTES;
    }
    // strictly more than one record buffered: the next record is certainly not the last
    while (this.queue.length > this.recordBytes) {
      const record = this.queue.takePieces(this.recordBytes);
      openChunk(this.dataKey, this.header, this.index++, false, record, this.recordBytes, out);
    }
  }

  end(out: Buffer[]): void {
    if (!this.header) throw new BlobIntegrityError('truncated', -1);
    const rest = this.queue.length;
    const record = this.queue.takePieces(rest);
    try {
      const summary = this.header.version === 3 ? this.boundSummary : this.summary;
      openChunk(this.dataKey, this.header, this.index, true, record, rest, out, summary);
    } catch (error) {
      // a final chunk that fails, in a blob whose length says another size than the one
      // expected: said as such. Shorter (either version): the blob was cut short (or the
      // record's size raised); longer (version 2, whose tag binds the size): the record's size
      // lowered, or bytes added (it may be the record that is wrong, not the blob)
      const size = this.index * this.header.chunkSize + rest - BLOB_TAG_BYTES;
      if (this.expectedSize !== undefined && size < this.expectedSize) {
        throw new BlobIntegrityError('shorter_than_recorded', this.index);
      }
      if (this.header.version >= 2 && size !== this.expectedSize) {
        throw new BlobIntegrityError('size_mismatch', this.index);
      }
      throw error;
    }
  }
}

/**
 * Encrypts a plaintext stream into the blob format (`BlobSealer`): yields the header, then each
 * record (a chunk's ciphertext, possibly in several parts, then its tag).
 */
export async function* encryptBlob(
  source: AsyncIterable<Buffer | Uint8Array | string>,
  dataKey: Buffer,
  fileId: string,
  options: EncryptOptions = {},
): AsyncGenerator<Buffer> {
  const sealer = new BlobSealer(dataKey, fileId, options);
  yield sealer.header;
  for await (const piece of source) {
    const parts: Buffer[] = [];
    sealer.push(piece, parts);
    yield* parts;
  }
  const last: Buffer[] = [];
  sealer.end(last);
  yield* last;
}

/**
 * Decrypts a blob stream (`BlobOpener`), yielding plaintext chunk by chunk. Each chunk is
 * authenticated before it is yielded; a failure throws BlobIntegrityError naming the chunk,
 * after the chunks before it, so a consumer never receives unauthenticated bytes. A version 2
 * blob needs `expected` (its final chunk authenticates with them only).
 */
export async function* decryptBlob(
  source: AsyncIterable<Buffer | Uint8Array | string>,
  dataKey: Buffer,
  expectedFileId: string,
  expected?: ExpectedContent,
): AsyncGenerator<Buffer> {
  const opener = new BlobOpener(dataKey, expectedFileId, expected);
  for await (const piece of source) yield* openedParts(opener, piece);
  yield* openedParts(opener);
}

/** `opener`'s plaintext for `piece` (or, without one, its end), handed over; then its failure. */
function* openedParts(opener: BlobOpener, piece?: Buffer | Uint8Array | string): Generator<Buffer> {
  const parts: Buffer[] = [];
  let failure: Error | undefined;
  try {
    if (piece === undefined) opener.end(parts);
    else opener.push(piece, parts);
  } catch (error) {
    failure = error as Error;
  }
  yield* handOver(parts);
  if (failure) throw failure;
}

/**
 * Yields plaintext parts one by one. A part yielded is the consumer's to keep or wipe; the parts
 * it never took, because it stopped before them, are wiped here.
 */
export function* handOver(parts: Buffer[]): Generator<Buffer> {
  let given = 0;
  try {
    for (; given < parts.length; given++) yield parts[given];
  } finally {
    for (let i = given + 1; i < parts.length; i++) parts[i].fill(0);
  }
}
