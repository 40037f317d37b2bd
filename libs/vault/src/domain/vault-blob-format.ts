import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * The on-disk format of one vault blob (specified byte by byte in docs/vault-format.md).
 *
 *   header (32 bytes) = "MDAIVLT" | version 0x01 | chunk size u32 BE | file id (12 bytes) | nonce prefix (8 bytes)
 *   then chunk records, each = AES-256-GCM ciphertext of up to `chunk size` bytes | 16-byte tag
 *
 * Chunk i uses nonce = prefix | u32 BE i and AAD = header | u32 BE i | final flag (1 byte),
 * so a flipped header byte, a reordered, dropped, duplicated or appended chunk, and a cut at
 * a chunk boundary all fail authentication. Every non-final chunk holds exactly `chunk size`
 * plaintext bytes; the one final chunk holds 0..chunk size (0 only for an empty file).
 */
export const BLOB_MAGIC = Buffer.from('MDAIVLT', 'ascii');
export const BLOB_FORMAT_VERSION = 1;
export const BLOB_HEADER_BYTES = 32;
export const BLOB_TAG_BYTES = 16;
export const DATA_KEY_BYTES = 32;
export const DEFAULT_CHUNK_BYTES = 64 * 1024;
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
  | 'longer_than_recorded';

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
  chunkSize: number;
  fileId: string;
  noncePrefix: Buffer;
  raw: Buffer;
}

export function encodeHeader(fileId: string, chunkSize: number, noncePrefix: Buffer): Buffer {
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
  header.writeUInt8(BLOB_FORMAT_VERSION, 7);
  header.writeUInt32BE(chunkSize, 8);
  id.copy(header, 12);
  noncePrefix.copy(header, 24);
  return header;
}

export function parseHeader(raw: Buffer, expectedFileId: string): BlobHeader {
  if (raw.length < BLOB_HEADER_BYTES) throw new BlobIntegrityError('truncated', -1);
  if (!raw.subarray(0, 7).equals(BLOB_MAGIC)) throw new BlobIntegrityError('bad_magic', -1);
  if (raw.readUInt8(7) !== BLOB_FORMAT_VERSION) {
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

function chunkAad(header: Buffer, index: number, final: boolean): Buffer {
  const aad = Buffer.alloc(BLOB_HEADER_BYTES + 5);
  header.copy(aad, 0);
  aad.writeUInt32BE(index, BLOB_HEADER_BYTES);
  aad.writeUInt8(final ? 1 : 0, BLOB_HEADER_BYTES + 4);
  return aad;
}

/**
 * One record: the chunk's ciphertext then its tag, as the parts the cipher produced (the
 * plaintext may arrive as several pieces; nothing is copied into one buffer first).
 */
function sealChunk(
  key: Buffer,
  header: BlobHeader,
  index: number,
  final: boolean,
  plaintext: Buffer[],
): Buffer[] {
  if (index > MAX_CHUNKS) throw new BlobIntegrityError('too_many_chunks', index);
  const cipher = createCipheriv('aes-256-gcm', key, nonce(header.noncePrefix, index));
  cipher.setAAD(chunkAad(header.raw, index, final));
  const record = plaintext.map((piece) => cipher.update(piece));
  cipher.final();
  record.push(cipher.getAuthTag());
  return record;
}

/**
 * One record's plaintext, as the parts the decipher produced (the record may arrive as
 * several pieces; nothing is copied into one buffer first). Returned only once the tag
 * authenticated the whole record; on failure the parts are wiped and never returned. At least
 * one part, even for an empty chunk.
 */
function openChunk(
  key: Buffer,
  header: BlobHeader,
  index: number,
  final: boolean,
  record: Buffer[],
  recordLength: number,
): Buffer[] {
  if (recordLength < BLOB_TAG_BYTES) throw new BlobIntegrityError('truncated', index);
  if (index > MAX_CHUNKS) throw new BlobIntegrityError('too_many_chunks', index);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce(header.noncePrefix, index));
  decipher.setAAD(chunkAad(header.raw, index, final));
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
  if (plaintext.length === 0) plaintext.push(Buffer.alloc(0));
  return plaintext;
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
}

/**
 * Encrypts a plaintext stream into the blob format: yields the header, then each record (a
 * chunk's ciphertext, possibly in several parts, then its tag). Holds at most one chunk (plus the piece being read) in memory. The source must yield
 * a fresh buffer each time (as file and network streams do): pieces are queued, not copied.
 */
export async function* encryptBlob(
  source: AsyncIterable<Buffer | Uint8Array | string>,
  dataKey: Buffer,
  fileId: string,
  options: EncryptOptions = {},
): AsyncGenerator<Buffer> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_BYTES;
  const raw = encodeHeader(fileId, chunkSize, options.noncePrefix ?? randomBytes(8));
  const header = parseHeader(raw, fileId);
  yield raw;
  const queue = new ByteQueue();
  let index = 0;
  for await (const piece of source) {
    queue.push(asBuffer(piece));
    // strictly more than one chunk buffered: the next chunk is certainly not the last
    while (queue.length > chunkSize) {
      yield* sealChunk(dataKey, header, index++, false, queue.takePieces(chunkSize));
    }
  }
  yield* sealChunk(dataKey, header, index, true, queue.takePieces(queue.length));
}

/**
 * Decrypts a blob stream, yielding plaintext chunk by chunk. Each chunk is authenticated
 * before it is yielded; a failure throws BlobIntegrityError naming the chunk, so a consumer
 * never receives unauthenticated bytes.
 */
export async function* decryptBlob(
  source: AsyncIterable<Buffer | Uint8Array | string>,
  dataKey: Buffer,
  expectedFileId: string,
): AsyncGenerator<Buffer> {
  const queue = new ByteQueue();
  let header: BlobHeader | undefined;
  let recordBytes = 0;
  let index = 0;
  for await (const piece of source) {
    queue.push(asBuffer(piece));
    if (!header) {
      if (queue.length < BLOB_HEADER_BYTES) continue;
      header = parseHeader(queue.take(BLOB_HEADER_BYTES), expectedFileId);
      recordBytes = header.chunkSize + BLOB_TAG_BYTES;
    }
    while (queue.length > recordBytes) {
      const record = queue.takePieces(recordBytes);
      yield* handOver(openChunk(dataKey, header, index++, false, record, recordBytes));
    }
  }
  if (!header) throw new BlobIntegrityError('truncated', -1);
  const rest = queue.length;
  yield* handOver(openChunk(dataKey, header, index, true, queue.takePieces(rest), rest));
}

/**
 * Yields a chunk's plaintext parts one by one. A part yielded is the consumer's to keep or wipe;
 * the parts it never took, because it stopped inside the chunk, are wiped here.
 */
export function* handOver(parts: Buffer[]): Generator<Buffer> {
  let given = 0;
  try {
    for (; given < parts.length; given++) yield parts[given];
  } finally {
    for (let i = given + 1; i < parts.length; i++) parts[i].fill(0);
  }
}
