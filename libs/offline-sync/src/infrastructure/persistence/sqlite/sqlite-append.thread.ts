import { extname, join } from 'node:path';
import { WorkerPool, WorkerPoolUnavailable } from '@app/common/workers/worker-pool';
import type { AppendText, AppendTextResult } from './sqlite-chain-appender';
import type { AppendThreadData } from './sqlite-append.worker';

/**
 * The ledger's SQLite appends on a thread of their own, with its own connection to the same
 * file: the append's inserts, B-tree work and commit (with the WAL checkpoints a commit
 * carries) leave the request's thread, which meanwhile serves other requests (parsing and
 * checking the next batch, answering the last). The append is the same code either way
 * (`SqliteChainAppender`) and the same transaction (BEGIN IMMEDIATE): two connections of one
 * process serialize on SQLite's write lock exactly as two processes on one file do.
 *
 * Appends go one at a time, in the order they were asked (one thread, one task at a time);
 * `run` answers `undefined` when the thread cannot take one (stopped, its queue full, or it
 * died under the task), and the caller appends in its own thread. A thread that died
 * mid-append either committed (the entries come back as duplicates of themselves) or rolled
 * back (they are appended): the answer is right either way.
 */
export class SqliteAppendThread {
  private readonly pool: WorkerPool<AppendText[], AppendTextResult[]>;

  constructor(path: string, maxQueue: number) {
    this.pool = new WorkerPool({
      name: 'ledger-append',
      // the .ts next to this file under @swc-node/register; in the build, the worker's own
      // bundle next to main.js (scripts/bundle-api.ts emits it there, where __dirname points)
      file: join(__dirname, `sqlite-append.worker${extname(__filename)}`),
      size: 1,
      maxQueue,
      workerData: { path } satisfies AppendThreadData,
    });
  }

  async run(entries: AppendText[]): Promise<AppendTextResult[] | undefined> {
    try {
      return await this.pool.run(entries);
    } catch (error) {
      if (error instanceof WorkerPoolUnavailable) return undefined;
      throw error;
    }
  }

  /** Threads alive (0 or 1; for tests). */
  get threads(): number {
    return this.pool.threads;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
