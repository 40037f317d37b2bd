import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { closeSync, open as openFd, read as readFd } from 'node:fs';
import { FileHandle, mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { appConfig, AppSettings } from '@app/common';
import {
  BLOB_HEADER_BYTES,
  BLOB_TAG_BYTES,
  blobBytesAtMost,
  blobBytesOf,
  DEFAULT_CHUNK_BYTES,
  MAX_CHUNK_BYTES,
} from '../../domain/vault-blob-format';
import { releaseBuffers } from '../../domain/release-buffers';

/** Ciphertext is written about this many bytes per system call (one `writev` of records). */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** A blob is read about this many bytes per system call, whole records (15 of 64 KiB, one of 1 MiB). */
const READ_BYTES = 1024 * 1024;

/** A blob held open (see `VaultBlobStorage.open`). */
export interface OpenBlob {
  /** Its bytes from the start (`readRecords`: a piece is good until the next-but-one is asked for). */
  read(): AsyncIterable<Buffer>;
  /** Closes it (once no read is in flight); again gives the first call's promise. */
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

  /**
   * Writes a blob from its bytes, given one by one or several at a time (`BlobSealer`'s parts).
   * `release`: the parts are this writer's alone (a cipher's output), freed once written
   * (`releaseBuffers`), not left for the garbage collector to find.
   */
  write(
    fileId: string,
    ciphertext: AsyncIterable<Buffer | readonly Buffer[]>,
    release = false,
  ): Promise<void> {
    const done = this.writeBlob(fileId, ciphertext, release);
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
    release: boolean,
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
          if (release) releaseBuffers(batch);
          batch = [];
          bytes = 0;
        }
      }
      await writeAll(handle, batch, bytes);
      if (release) releaseBuffers(batch);
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
  async *read(fileId: string, recordedSize?: number): AsyncGenerator<Buffer> {
    const blob = await this.open(fileId, recordedSize);
    try {
      yield* blob.read();
    } finally {
      await blob.close();
    }
  }

  /**
   * The blob opened once, to be read from its start as often as needed: what is read is the
   * blob that was opened, even when it is removed (or replaced) meanwhile. `close` once done.
   *
   * A raw descriptor, not a `FileHandle`: its reads are libuv's callbacks (no promise machinery
   * of `fs/promises` per call), and it is closed synchronously (a descriptor opened read-only
   * has nothing to flush: no trip to libuv's pool, ~25 µs of CPU a read; docs/benchmarks.md,
   * vaultperf 2026-12-07). A close asked while a read is in flight waits for that read to end,
   * so no read ever runs on a descriptor number the process has since reused for another file.
   *
   * `recordedSize` is the plaintext size the metadata records: with the header's chunk size it
   * gives the blob's length (`blobBytesOf`), the end of a read that comes back short; without it
   * a blob is read until a read gives 0 bytes (see `readRecords`).
   */
  async open(fileId: string, recordedSize?: number): Promise<OpenBlob> {
    const fd = await new Promise<number>((resolve, reject) =>
      openFd(this.pathOf(fileId), 'r', (error, opened) =>
        error ? reject(error) : resolve(opened),
      ),
    );
    return new RawBlob(fd, recordedSize);
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
 *
 * `recordedSize` (the metadata's plaintext size) sizes that first read for a small blob: a
 * buffer of the most bytes a blob of that size can have (`blobBytesAtMost`) and one more, not
 * 1 MiB for a 64 KiB image (a fresh 1 MiB of V8's external memory a read, which brought its
 * scavenges sooner; docs/benchmarks.md, vaultperf 2026-12-07). A read that ends short of the
 * buffer has the whole blob in hand (`RawBlob.readFully`): its pieces are that buffer's, handed
 * out whole records at a time as always. One that fills it (a blob longer than its metadata
 * says) goes on reading as without the bound, so what the opener is given is the same bytes
 * either way.
 *
 * The blob's length, from that size and the header's chunk size (`blobBytesOf`), is where a
 * read that comes back short ends the blob: a network or FUSE file system (NFS, CIFS, virtiofs)
 * may give fewer bytes than asked before the end, and a blob taken as ended there would be
 * refused as cut short (a false alarm of tampering). Short of that length, or with no length
 * (no size given, a chunk size readers refuse), the read is asked again until it fills the
 * buffer or gives 0 bytes; a local healthy blob still costs no read past its end.
 */
async function* readRecords(blob: RawBlob, recordedSize?: number): AsyncGenerator<Buffer> {
  const firstBytes = piecesOf(DEFAULT_CHUNK_BYTES);
  const atMost = recordedSize === undefined ? undefined : blobBytesAtMost(recordedSize);
  const bounded =
    atMost !== undefined && atMost + 1 < BLOB_HEADER_BYTES + firstBytes
      ? Math.max(BLOB_HEADER_BYTES, atMost + 1)
      : BLOB_HEADER_BYTES + firstBytes;
  const first = Buffer.allocUnsafe(bounded);
  // the blob's length once its header is in hand
  const lengthOf = (chunk: number) =>
    recordedSize === undefined ? undefined : blobBytesOf(recordedSize, chunk);
  const got = await blob.readFully(first, 0, (filled) =>
    filled < BLOB_HEADER_BYTES ? undefined : lengthOf(first.readUInt32BE(8)),
  );
  if (got > 0) yield Buffer.from(first.subarray(0, Math.min(got, BLOB_HEADER_BYTES)));
  if (got < BLOB_HEADER_BYTES) return;
  const chunk = first.readUInt32BE(8);
  const length = lengthOf(chunk);
  const ends = () => length;
  const pieceBytes = piecesOf(chunk >= 1 && chunk <= MAX_CHUNK_BYTES ? chunk : DEFAULT_CHUNK_BYTES);
  if (got < first.length) {
    // the whole blob came in this read (a read is short of its buffer only at the end): its
    // pieces from it, a buffer no later read reuses
    for (let at = BLOB_HEADER_BYTES; at < got; at += pieceBytes) {
      yield first.subarray(at, Math.min(got, at + pieceBytes));
    }
    return;
  }
  const buffers: Buffer[] = [];
  let position = BLOB_HEADER_BYTES;
  let turn = 0;
  if (pieceBytes <= first.length - BLOB_HEADER_BYTES) {
    buffers[0] = first.subarray(BLOB_HEADER_BYTES, BLOB_HEADER_BYTES + pieceBytes);
    const bytes = Math.min(got - BLOB_HEADER_BYTES, pieceBytes);
    if (bytes > 0) yield buffers[0].subarray(0, bytes);
    if (bytes < pieceBytes) return;
    position += bytes;
    turn = 1;
  }
  for (; ; turn ^= 1) {
    const buffer = (buffers[turn] ??= Buffer.allocUnsafe(pieceBytes));
    const bytes = await blob.readFully(buffer, position, ends);
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

/**
 * A blob's descriptor left open by a caller that dropped it unclosed (a bug: every caller closes
 * in a `finally`), closed once its `RawBlob` is collected, as a `FileHandle` is, so a leak costs
 * no descriptor for good; said once a process, not at each leak. A blob with a read in flight
 * is not collected (the read's callback holds it), so no read runs on a number closed here.
 */
const leaked = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // already closed: nothing to do
  }
  if (leakSaid) return;
  leakSaid = true;
  new Logger('VaultBlobStorage').warn(
    'A vault blob was dropped without close(): its descriptor was closed when it was collected (said once)',
  );
});
let leakSaid = false;

/** A blob's read-only descriptor (`VaultBlobStorage.open`). */
class RawBlob implements OpenBlob {
  private reading = 0;
  private closing = false;
  private closed?: Promise<void>;
  private drained?: () => void;

  constructor(
    private readonly fd: number,
    private readonly recordedSize?: number,
  ) {
    leaked.register(this, fd, this);
  }

  read(): AsyncIterable<Buffer> {
    return readRecords(this, this.recordedSize);
  }

  /**
   * Fills `buffer` from `position`; fewer bytes only at the end: a read that gives 0 bytes, or
   * one short of what it asked that ends at the blob's length (`endOf(filled)`, undefined while
   * unknown). A local file's read is short only at its end (POSIX `read`: a signal cannot cut a
   * regular file's read short on Linux), so a healthy blob needs no further read to see 0 bytes
   * (one trip to libuv's pool a blob); a network or FUSE file system's may be short anywhere, so
   * a short read before the length is read on. A blob that grows after the read that reached
   * its length is as unseen as one that grows after a read of 0 bytes: the size checked is the
   * size at the read (and the bytes read are those the metadata's size and digest are checked
   * against).
   */
  async readFully(
    buffer: Buffer,
    position: number,
    endOf: (filled: number) => number | undefined,
  ): Promise<number> {
    let filled = 0;
    while (filled < buffer.length) {
      const asked = buffer.length - filled;
      const bytesRead = await this.readAt(buffer, filled, position + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (bytesRead < asked && position + filled === endOf(filled)) break;
    }
    return filled;
  }

  private readAt(buffer: Buffer, offset: number, position: number): Promise<number> {
    if (this.closing) return Promise.reject(new Error('blob closed'));
    this.reading++;
    return new Promise<number>((resolve, reject) =>
      readFd(this.fd, buffer, offset, buffer.length - offset, position, (error, bytesRead) => {
        this.reading--;
        if (this.reading === 0) this.drained?.();
        if (error) reject(error);
        else resolve(bytesRead);
      }),
    );
  }

  /** Closes the descriptor once no read is in flight; a second call waits for the same close. */
  close(): Promise<void> {
    return (this.closed ??= this.closeOnceDrained());
  }

  private async closeOnceDrained(): Promise<void> {
    this.closing = true;
    if (this.reading > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    leaked.unregister(this);
    closeSync(this.fd);
  }
}
