import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { FileHandle, mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { appConfig, AppSettings } from '@app/common';
import {
  BLOB_HEADER_BYTES,
  BLOB_TAG_BYTES,
  DEFAULT_CHUNK_BYTES,
  MAX_CHUNK_BYTES,
} from '../../domain/vault-blob-format';

/** Ciphertext is written about this many bytes per system call (one `writev` of records). */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** A blob is read about this many bytes per system call, whole records (15 of 64 KiB, one of 1 MiB). */
const READ_BYTES = 1024 * 1024;

/** A blob held open (see `VaultBlobStorage.open`). */
export interface OpenBlob {
  /** Its bytes from the start (`readRecords`: a piece is good until the next-but-one is asked for). */
  read(): AsyncIterable<Buffer>;
  /** Closes it; again is a no-op. */
  close(): Promise<void>;
}

/**
 * Encrypted blobs on the local disk (`UPLOADS_DIR/<fileId>.mdv`, mode 0600). A blob is written
 * to a temporary name and renamed into place when complete, so a reader never sees half a file.
 * Only ciphertext ever reaches this class. At shutdown it waits for the writes in flight to end
 * (the HTTP server has closed or cut their requests by then), so a cut upload's temporary file
 * is removed rather than left to the next boot's sweep.
 */
@Injectable()
export class VaultBlobStorage implements OnApplicationShutdown {
  readonly dir: string;
  private readonly writing = new Set<Promise<void>>();

  constructor(@Inject(appConfig.KEY) app: AppSettings) {
    this.dir = app.uploadsDir;
  }

  pathOf(fileId: string): string {
    return join(this.dir, `${fileId}.mdv`);
  }

  /** Writes a blob from its bytes, given one by one or several at a time (`BlobSealer`'s parts). */
  write(fileId: string, ciphertext: AsyncIterable<Buffer | readonly Buffer[]>): Promise<void> {
    const done = this.writeBlob(fileId, ciphertext);
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    this.writing.add(settled);
    void settled.then(() => this.writing.delete(settled));
    return done;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.writing);
  }

  private async writeBlob(
    fileId: string,
    ciphertext: AsyncIterable<Buffer | readonly Buffer[]>,
  ): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const target = this.pathOf(fileId);
    const temp = `${target}.${process.pid}.partial`;
    let handle: FileHandle | undefined = await open(temp, 'wx', 0o600);
    try {
      let batch: Buffer[] = [];
      let bytes = 0;
      for await (const given of ciphertext) {
        if (Buffer.isBuffer(given)) {
          batch.push(given);
          bytes += given.length;
        } else {
          for (const part of given) {
            batch.push(part);
            bytes += part.length;
          }
        }
        if (bytes >= WRITE_BATCH_BYTES) {
          await writeAll(handle, batch, bytes);
          batch = [];
          bytes = 0;
        }
      }
      await writeAll(handle, batch, bytes);
      await handle.close();
      handle = undefined;
      await rename(temp, target);
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  /** The blob's bytes, read a few records at a time (as `readRecords`). */
  async *read(fileId: string): AsyncGenerator<Buffer> {
    const handle = await open(this.pathOf(fileId), 'r');
    try {
      yield* readRecords(handle);
    } finally {
      await handle.close();
    }
  }

  /**
   * The blob opened once, to be read from its start as often as needed: what is read is the
   * blob that was opened, even when it is removed (or replaced) meanwhile. `close` once done.
   */
  async open(fileId: string): Promise<OpenBlob> {
    const handle = await open(this.pathOf(fileId), 'r');
    let closed = false;
    return {
      read: () => readRecords(handle),
      close: async () => {
        if (closed) return;
        closed = true;
        await handle.close();
      },
    };
  }

  async remove(fileId: string): Promise<void> {
    await unlink(this.pathOf(fileId)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

/** Writes every byte of `parts` (a writev may write less than asked: the rest is retried). */
async function writeAll(handle: FileHandle, parts: Buffer[], bytes: number): Promise<void> {
  let rest = parts;
  let left = bytes;
  while (left > 0) {
    const { bytesWritten } = await handle.writev(rest);
    left -= bytesWritten;
    if (left === 0) return;
    let skip = bytesWritten;
    while (skip >= rest[0].length) skip -= rest.shift()!.length;
    rest = [rest[0].subarray(skip), ...rest.slice(1)];
  }
}

/**
 * A blob's bytes from its start: its 32-byte header, then whole records (as many as fit in
 * READ_BYTES, at least one; the last piece holds what is left), read in turn into two buffers
 * kept for the whole read. So a piece is good until the next-but-one is asked for: the blob
 * format's opener, given whole records, keeps at most the last record of a piece queued once
 * it took the piece, and the next piece completes it. Reusing the two buffers instead of a fresh
 * one per read keeps a read's ciphertext out of V8's external memory, which counts against the
 * heap's limit and, as a file's worth of it piles up between scavenges, starts full markings.
 * A header that gives no valid chunk size is read as 1 MiB records (the opener refuses it).
 *
 * The header and the first piece come from one read, sized for the pieces of the default chunk
 * size (every blob written since format version 2): each trip to libuv's pool costs ~25 µs of
 * CPU, a fixed part of every read (docs/benchmarks.md, vaultread). The header is handed out as
 * a copy; when the header's chunk size gives pieces no larger than that read's, its first piece
 * is the read's bytes after the header and the rest of the buffer is the first of the two; a
 * larger piece (chunks over 1 MiB) reads its first piece again from after the header.
 */
async function* readRecords(handle: FileHandle): AsyncGenerator<Buffer> {
  const firstBytes = piecesOf(DEFAULT_CHUNK_BYTES);
  const first = Buffer.allocUnsafe(BLOB_HEADER_BYTES + firstBytes);
  const got = await readFully(handle, first, 0);
  if (got > 0) yield Buffer.from(first.subarray(0, Math.min(got, BLOB_HEADER_BYTES)));
  if (got < BLOB_HEADER_BYTES) return;
  const chunk = first.readUInt32BE(8);
  const pieceBytes = piecesOf(chunk >= 1 && chunk <= MAX_CHUNK_BYTES ? chunk : DEFAULT_CHUNK_BYTES);
  const buffers: Buffer[] = [];
  let position = BLOB_HEADER_BYTES;
  let turn = 0;
  if (pieceBytes <= firstBytes) {
    buffers[0] = first.subarray(BLOB_HEADER_BYTES, BLOB_HEADER_BYTES + pieceBytes);
    const bytes = Math.min(got - BLOB_HEADER_BYTES, pieceBytes);
    if (bytes > 0) yield buffers[0].subarray(0, bytes);
    if (bytes < pieceBytes) return;
    position += bytes;
    turn = 1;
  }
  for (; ; turn ^= 1) {
    const buffer = (buffers[turn] ??= Buffer.allocUnsafe(pieceBytes));
    const bytes = await readFully(handle, buffer, position);
    if (bytes > 0) yield buffer.subarray(0, bytes);
    if (bytes < pieceBytes) return;
    position += bytes;
  }
}

/** The bytes of a piece of whole records of `chunk` bytes: as many as fit in READ_BYTES, at least one. */
function piecesOf(chunk: number): number {
  const record = chunk + BLOB_TAG_BYTES;
  return record * Math.max(1, Math.floor(READ_BYTES / record));
}

/** Fills `buffer` from `position` (a read may give less than asked); fewer bytes only at the end. */
async function readFully(handle: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(
      buffer,
      filled,
      buffer.length - filled,
      position + filled,
    );
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
