import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { VaultBlobStorage } from './vault-blob.storage';

/** A `.partial` untouched this long belongs to no live upload (an upload writes as it streams). */
export const PARTIAL_STALE_MS = 60 * 60 * 1000;

/**
 * At boot, deletes the temporary `<fileId>.mdv.<pid>.partial` files that uploads cut by a crash
 * (or a full disk) left behind. Only files untouched for PARTIAL_STALE_MS go, so a replica
 * sharing UPLOADS_DIR never loses an upload in flight. Returns what it removed.
 */
@Injectable()
export class PartialUploadSweeper implements OnApplicationBootstrap {
  private readonly logger = new Logger(PartialUploadSweeper.name);

  constructor(private readonly blobs: VaultBlobStorage) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.sweep().catch((error: unknown) =>
      this.logger.warn({ err: error }, 'Partial upload sweep failed'),
    );
  }

  async sweep(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.blobs.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    // file times are the system's, so they are compared with the system clock (not Clock)
    const cutoff = Date.now() - PARTIAL_STALE_MS;
    const removed: string[] = [];
    for (const name of names.filter((n) => n.endsWith('.partial'))) {
      const path = join(this.blobs.dir, name);
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile() || info.mtimeMs > cutoff) continue;
      await unlink(path).catch(() => undefined);
      removed.push(name);
    }
    if (removed.length > 0) {
      this.logger.log({ count: removed.length }, 'Removed temp files of interrupted uploads');
    }
    return removed;
  }
}
