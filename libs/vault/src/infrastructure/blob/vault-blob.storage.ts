import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { FileHandle, mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { appConfig, AppSettings } from '@app/common';

/** Ciphertext is written about this many bytes per system call (one `writev` of records). */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** A blob is read this many bytes per system call (16 records of 64 KiB, one of 1 MiB). */
const READ_BYTES = 1024 * 1024;

/** A blob held open (see `VaultBlobStorage.open`). */
export interface OpenBlob {
  /** Its bytes from the start. */
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

  /** The blob's bytes, read a few records at a time. */
  read(fileId: string): AsyncIterable<Buffer> {
    return createReadStream(this.pathOf(fileId), {
      highWaterMark: READ_BYTES,
    }) as AsyncIterable<Buffer>;
  }

  /**
   * The blob opened once, to be read from its start as often as needed: what is read is the
   * blob that was opened, even when it is removed (or replaced) meanwhile. `close` once done.
   */
  async open(fileId: string): Promise<OpenBlob> {
    const handle = await open(this.pathOf(fileId), 'r');
    let closed = false;
    return {
      read: () =>
        createReadStream('', {
          fd: handle,
          start: 0,
          autoClose: false,
          highWaterMark: READ_BYTES,
        }) as AsyncIterable<Buffer>,
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
