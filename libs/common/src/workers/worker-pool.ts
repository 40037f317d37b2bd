import { Logger } from '@nestjs/common';
import { extname } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * A fixed pool of worker threads running one script (see `serveWorkerTasks`), one task per
 * worker at a time, the rest waiting in a bounded queue.
 *
 * - A worker that dies (crash, `process.exit`, out of memory) is replaced; the task it was
 *   running rejects with `WorkerPoolUnavailable` (reason `crashed`), so the caller can run it
 *   in its own thread instead. A task that throws in the worker rejects with that error.
 * - A full queue or a closed pool rejects at once with `WorkerPoolUnavailable` (`queue_full`,
 *   `closed`): the pool never holds more than `maxQueue` waiting tasks.
 * - `close()` terminates every worker (tasks still waiting or running reject with `closed`);
 *   an idle worker is also `unref`'d, so a pool never keeps a process alive by itself (a
 *   script that never closes its pool still exits); a worker running a task is `ref`'d until
 *   the answer is in, so a script awaiting one is not ended before it.
 * - Workers start on the first task, not before.
 * - Inputs and outputs are never logged (they may hold secrets): only a worker's exit is.
 *
 * A `.ts` script (specs, benches, scripts under `@swc-node/register`) runs in workers started
 * with the same register hook; the built `.js` runs as it is.
 */
export class WorkerPool<In, Out> {
  private readonly logger: Logger;
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, Task<In, Out>>();
  private readonly queue: Task<In, Out>[] = [];
  private workers = 0;
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: WorkerPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1)
      throw new Error(`worker pool ${options.name}: size must be a positive integer`);
    this.logger = new Logger(`WorkerPool(${options.name})`);
  }

  get size(): number {
    return this.options.size;
  }

  /** Runs one task on a worker; rejects with `WorkerPoolUnavailable` when it cannot. */
  run(input: In): Promise<Out> {
    if (this.closed) return Promise.reject(new WorkerPoolUnavailable('closed'));
    return new Promise<Out>((resolve, reject) => {
      const task: Task<In, Out> = { id: this.nextId++, input, resolve, reject };
      const worker = this.idle.pop() ?? this.spawnIfRoom();
      if (worker) return this.start(worker, task);
      if (this.queue.length >= this.options.maxQueue)
        return reject(new WorkerPoolUnavailable('queue_full'));
      this.queue.push(task);
    });
  }

  /** Stops every worker; waiting and running tasks reject with `closed`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new WorkerPoolUnavailable('closed'));
    const all = [...this.idle.splice(0), ...this.running.keys()];
    for (const [, task] of this.running) task.reject(new WorkerPoolUnavailable('closed'));
    this.running.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }

  /** Threads alive now (for tests and metrics). */
  get threads(): number {
    return this.workers;
  }

  private spawnIfRoom(): Worker | undefined {
    if (this.workers >= this.options.size) return undefined;
    const file = this.options.file;
    const worker = new Worker(file, {
      // a TypeScript script needs the hook that compiles it (and resolves the @app/* aliases)
      execArgv: extname(file) === '.ts' ? ['-r', '@swc-node/register'] : [],
      workerData: this.options.workerData,
      // the worker's own stdout/stderr are not piped into ours (no input ever printed)
      stdout: false,
      stderr: false,
    });
    this.workers += 1;
    worker.on('message', (reply: TaskReply<Out>) => this.settle(worker, reply));
    worker.on('error', (error: Error) => {
      // the error a worker died of (its stack, never a task's input)
      this.logger.error({ err: error }, 'A worker thread failed');
    });
    worker.on('exit', (code) => this.lost(worker, code));
    // after the listeners: the first 'message' listener refs the worker's port again
    worker.unref();
    return worker;
  }

  private start(worker: Worker, task: Task<In, Out>): void {
    try {
      worker.postMessage({ id: task.id, input: task.input } satisfies TaskMessage<In>);
    } catch (error) {
      // an input that cannot be cloned (a function, a socket): that task fails, the worker
      // stays free for the next one
      task.reject(error as Error);
      this.next(worker);
      return;
    }
    this.running.set(worker, task);
    // a running task keeps the process alive until it is answered; an idle worker does not
    worker.ref();
  }

  private settle(worker: Worker, reply: TaskReply<Out>): void {
    const task = this.running.get(worker);
    if (!task || task.id !== reply.id) return;
    this.running.delete(worker);
    if (reply.ok) task.resolve(reply.output);
    else task.reject(new WorkerTaskError(reply.error));
    this.next(worker);
  }

  private next(worker: Worker): void {
    const task = this.queue.shift();
    if (task) return this.start(worker, task);
    worker.unref();
    this.idle.push(worker);
  }

  private lost(worker: Worker, code: number): void {
    this.workers -= 1;
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    const task = this.running.get(worker);
    this.running.delete(worker);
    if (this.closed) return;
    this.logger.warn(
      { exitCode: code },
      'A worker thread exited (its task is refused as crashed; a new thread starts on demand)',
    );
    task?.reject(new WorkerPoolUnavailable('crashed'));
    // the queue keeps moving on a fresh worker
    if (this.queue.length > 0) {
      const fresh = this.spawnIfRoom();
      if (fresh) this.next(fresh);
    }
  }
}

export interface WorkerPoolOptions {
  /** A short name for the logs. */
  name: string;
  /** The worker script (absolute path, `.js` or `.ts`), which calls `serveWorkerTasks`. */
  file: string;
  /** Threads at most. */
  size: number;
  /** Tasks waiting for a free thread at most; one more is refused (`queue_full`). */
  maxQueue: number;
  /**
   * Handed to each worker as `workerData` when it starts (the same for every worker and every
   * restart, not per task). It may hold a secret (the ledger's append thread gets the links'
   * store MAC key here, in memory): never log it, nor put it in an error.
   */
  workerData?: unknown;
}

/** The pool could not run the task: run it elsewhere (e.g. in the caller's thread). */
export class WorkerPoolUnavailable extends Error {
  constructor(readonly reason: 'closed' | 'queue_full' | 'crashed') {
    super(`worker pool unavailable: ${reason}`);
    this.name = 'WorkerPoolUnavailable';
  }
}

/**
 * The task threw inside the worker (its message, stack and code, as the worker saw them): the
 * code (e.g. `SQLITE_FULL`) is what the storage errors are mapped by.
 */
export class WorkerTaskError extends Error {
  readonly code?: string;

  constructor(error: { name: string; message: string; stack?: string; code?: string }) {
    super(error.message);
    this.name = `WorkerTaskError(${error.name})`;
    if (error.stack) this.stack = error.stack;
    if (error.code !== undefined) this.code = error.code;
  }
}

interface Task<In, Out> {
  id: number;
  input: In;
  resolve: (output: Out) => void;
  reject: (error: Error) => void;
}

export interface TaskMessage<In> {
  id: number;
  input: In;
}

export type TaskReply<Out> =
  | { id: number; ok: true; output: Out }
  | {
      id: number;
      ok: false;
      error: { name: string; message: string; stack?: string; code?: string };
    };
