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
 * The two buffers come from `READ_BUFFERS` and go back to it when the read ends (its end, a
 * failure, or `return()`: a generator's `finally`, which never runs while a read into them is
 * in flight), so reads one after another read into the same memory: no 2 MiB allocated and
 * counted as external memory per read. They only ever hold ciphertext (nothing to wipe).
 * A header that gives no valid chunk size is read as 1 MiB records (the opener refuses it).
 */
async function* readRecords(handle: FileHandle): AsyncGenerator<Buffer> {
  const header = Buffer.allocUnsafe(BLOB_HEADER_BYTES);
  const got = await readFully(handle, header, 0);
  if (got > 0) yield header.subarray(0, got);
  if (got < BLOB_HEADER_BYTES) return;
  const chunk = header.readUInt32BE(8);
  const record =
    (chunk >= 1 && chunk <= MAX_CHUNK_BYTES ? chunk : DEFAULT_CHUNK_BYTES) + BLOB_TAG_BYTES;
  const pieceBytes = record * Math.max(1, Math.floor(READ_BYTES / record));
  const buffers: Buffer[] = [];
  let position = BLOB_HEADER_BYTES;
  try {
    for (let turn = 0; ; turn ^= 1) {
      const buffer = (buffers[turn] ??= READ_BUFFERS.take(pieceBytes));
      const bytes = await readFully(handle, buffer, position);
      if (bytes > 0) yield buffer.subarray(0, bytes);
      if (bytes < pieceBytes) return;
      position += bytes;
    }
  } finally {
    for (const buffer of buffers) READ_BUFFERS.give(buffer);
  }
}

/**
 * Read buffers kept between blob reads: at most READ_BUFFERS_KEPT (two reads' worth, ~4 MiB),
 * of the sizes real blobs are read in (up to one READ_BYTES piece of records); a larger piece
 * (a forged header's chunk size) is allocated for its read alone.
 */
const READ_BUFFERS_KEPT = 4;

class ReadBuffers {
  private readonly kept: Buffer[] = [];

  take(bytes: number): Buffer {
    const at = this.kept.findIndex((buffer) => buffer.length === bytes);
    return at >= 0 ? this.kept.splice(at, 1)[0] : Buffer.allocUnsafe(bytes);
  }

  give(buffer: Buffer): void {
    if (buffer.length > READ_BYTES + BLOB_TAG_BYTES) return;
    if (this.kept.length >= READ_BUFFERS_KEPT) this.kept.shift();
    this.kept.push(buffer);
  }
}

const READ_BUFFERS = new ReadBuffers();

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
