import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppConfig } from '@app/common';
import { BLOB_TAG_BYTES, DEFAULT_CHUNK_BYTES } from '../../domain/vault-blob-format';

/**
 * Encrypted blobs on the local disk (`UPLOADS_DIR/<fileId>.mdv`, mode 0600). A blob is written
 * to a temporary name and renamed into place when complete, so a reader never sees half a file.
 * Only ciphertext ever reaches this class.
 */
@Injectable()
export class VaultBlobStorage {
  readonly dir: string;

  constructor(config: ConfigService<AppConfig, true>) {
    this.dir = config.get('app', { infer: true }).uploadsDir;
  }

  pathOf(fileId: string): string {
    return join(this.dir, `${fileId}.mdv`);
  }

  async write(fileId: string, ciphertext: AsyncIterable<Buffer>): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const target = this.pathOf(fileId);
    const temp = `${target}.${process.pid}.partial`;
    try {
      await pipeline(
        Readable.from(ciphertext, { objectMode: false }),
        createWriteStream(temp, { flags: 'wx', mode: 0o600 }),
      );
      await rename(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  /** The blob's bytes, read a few records at a time. */
  read(fileId: string): AsyncIterable<Buffer> {
    return createReadStream(this.pathOf(fileId), {
      highWaterMark: 4 * (DEFAULT_CHUNK_BYTES + BLOB_TAG_BYTES),
    }) as AsyncIterable<Buffer>;
  }

  async remove(fileId: string): Promise<void> {
    await unlink(this.pathOf(fileId)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}
