import { extname, join } from 'node:path';
import { Logger } from '@nestjs/common';
import { WorkerPool, WorkerPoolUnavailable } from '@app/common/workers/worker-pool';
import type { AppendText, AppendTextResults, LinkMacKey } from './sqlite-chain-appender';
import type { AppendTask, AppendThreadData } from './sqlite-append.worker';

/**
 * The ledger's SQLite appends on a thread of their own, with its own connection to the same
 * file: the append's inserts, B-tree work and commit (with the WAL checkpoints a commit
 * carries) leave the request's thread, which meanwhile serves other requests (parsing and
 * checking the next batch, answering the last). The append is the same code either way
 * (`SqliteChainAppender`) and the same transaction (BEGIN IMMEDIATE): two connections of one
 * process serialize on SQLite's write lock exactly as two processes on one file do.
 *
 * Appends go one at a time, in the order they were asked (one thread, one task at a time).
 * When the thread cannot take a task (its queue full, or stopped before the task began) `run`
 * answers `not_run`, and the caller appends in its own thread. (The SQLite ledger hands it one
 * append at a time, in the store's write turns: its queue is a guard, never full there.) When
 * the thread stopped under the task (it died, or the app closed it at shutdown) it answers
 * `interrupted`: the append either committed before the thread stopped or was rolled back with
 * it, and the caller's own append tells which (`SqliteChainAppender.appendAgain`).
 */
/** Threads dying under their tasks this many times in a row stop the append thread. */
const MAX_CRASHES_IN_A_ROW = 3;

export class SqliteAppendThread {
  private readonly logger = new Logger(SqliteAppendThread.name);
  private readonly pool: WorkerPool<AppendTask, AppendTextResults>;
  private closing = false;
  /** Threads that died under a task since the last task one finished. */
  private crashesInARow = 0;
  /** Settles once a closed thread has ended (its connection closed, an open append rolled back). */
  private stopped: Promise<void> = Promise.resolve();

  constructor(path: string, maxQueue: number, mac?: LinkMacKey) {
    this.pool = new WorkerPool({
      name: 'ledger-append',
      // the .ts next to this file under @swc-node/register; in the build, the worker's own
      // bundle next to main.js (scripts/bundle-api.ts emits it there, where __dirname points)
      file: join(__dirname, `sqlite-append.worker${extname(__filename)}`),
      size: 1,
      maxQueue,
      workerData: { path, mac } satisfies AppendThreadData,
    });
  }

  /** `autocheckpointPages`: the `wal_autocheckpoint` the thread's connection takes first. */
  async run(
    entries: AppendText[],
    autocheckpointPages: number,
  ): Promise<AppendTextResults | 'not_run' | 'interrupted'> {
    const closedBefore = this.closing;
    try {
      const results = await this.pool.run({ entries, autocheckpointPages });
      this.crashesInARow = 0;
      return results;
    } catch (error) {
      if (!(error instanceof WorkerPoolUnavailable)) throw error;
      if (error.reason === 'queue_full' || closedBefore) return 'not_run';
      if (error.reason === 'crashed' && ++this.crashesInARow === MAX_CRASHES_IN_A_ROW) {
        // a thread that cannot start (its script or the file will not open) would be started
        // again for every batch: the request's thread appends from now on
        this.logger.error(
          { crashes: this.crashesInARow },
          "The ledger's append thread keeps failing; appends run in the request's thread until restart",
        );
        void this.close();
      }
      // crashed under the task, or closed while it waited or ran: it may have committed
      await this.stopped;
      return 'interrupted';
    }
  }

  /** Threads alive (0 or 1; for tests). */
  get threads(): number {
    return this.pool.threads;
  }

  close(): Promise<void> {
    this.closing = true;
    this.stopped = this.pool.close();
    return this.stopped;
  }
}
