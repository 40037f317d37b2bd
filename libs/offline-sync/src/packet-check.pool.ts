import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { extname, join } from 'node:path';
import { bodyItemsText, WorkerPool, WorkerPoolUnavailable } from '@app/common';
import { SignedPacket } from './domain/attendance-packet';
import { checkPackets, PacketCheck, PacketCheckReply, unpackChecks } from './domain/packet-check';
import { offlineSyncConfig, OfflineSyncSettings } from './offline-sync.config';
import type { PacketCheckTask } from './packet-check.worker';

/** Below this many packets a chunk is not worth a thread hop of its own. */
const MIN_CHUNK = 64;

/**
 * The shape and HMAC checks of a batch (`checkPackets`) on `SYNC_VERIFY_WORKERS` worker
 * threads: the batch is cut into one chunk per thread (at least MIN_CHUNK packets each), so
 * one batch uses every core and several batches in flight queue up (at most
 * `SYNC_VERIFY_QUEUE` chunks waiting). A chunk the pool cannot take (queue full, a worker
 * died under it, shutting down) is checked in the request's thread instead: the answer is the
 * same either way, only where it is computed differs. With 0 threads every batch is checked
 * in the request's thread. The device secret goes to a worker as a copy of its own bytes in
 * the task message; nothing of a task is ever logged.
 */
@Injectable()
export class PacketCheckPool implements OnModuleDestroy {
  private readonly pool?: WorkerPool<PacketCheckTask, PacketCheckReply>;

  constructor(@Inject(offlineSyncConfig.KEY) settings: OfflineSyncSettings) {
    if (settings.verifyWorkers > 0) {
      this.pool = new WorkerPool({
        name: 'packet-check',
        // the .ts next to this file under @swc-node/register; in the build, the worker's own
        // bundle next to main.js (scripts/bundle-api.ts emits it there, where __dirname points)
        file: join(__dirname, `packet-check.worker${extname(__filename)}`),
        size: settings.verifyWorkers,
        maxQueue: settings.verifyQueue,
      });
    }
  }

  /** `checkPackets(packets, secret)`, on the worker threads when there are any. */
  async check(packets: SignedPacket[], secret: Buffer): Promise<PacketCheck[]> {
    const pool = this.pool;
    if (!pool || packets.length === 0) return checkPackets(packets, secret);
    const chunks = Math.max(1, Math.min(pool.size, Math.floor(packets.length / MIN_CHUNK)));
    const per = Math.ceil(packets.length / chunks);
    const parts: Promise<PacketCheck[]>[] = [];
    for (let i = 0; i < packets.length; i += per) {
      const end = Math.min(i + per, packets.length);
      // a copy holding the secret's bytes only (a Buffer may be a view into a shared slab)
      const own = new Uint8Array(secret);
      // a request body's packets go as their text in the body (one string to copy, parsed on
      // the worker), any other batch as a structured clone of its packets
      const text = bodyItemsText(packets, i, end);
      const task: PacketCheckTask =
        text !== undefined
          ? { text, secret: own }
          : { packets: packets.slice(i, end), secret: own };
      parts.push(
        pool.run(task).then(
          (reply) => {
            const checks = unpackChecks(reply);
            if (checks.length !== end - i) throw new Error('a packet check chunk came back short');
            return checks;
          },
          (error: unknown) => {
            if (error instanceof WorkerPoolUnavailable)
              return checkPackets(packets.slice(i, end), secret);
            throw error;
          },
        ),
      );
    }
    return (await Promise.all(parts)).flat();
  }

  onModuleDestroy(): Promise<void> {
    return this.pool?.close() ?? Promise.resolve();
  }
}
