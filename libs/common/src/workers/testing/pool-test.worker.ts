/**
 * A worker script for the pool specs: `echo` answers its value (and the thread id), `throw`
 * throws, `spin` keeps the thread busy for `ms`, `exit` (or a task with no `op`) kills the
 * thread with exit code 3, as a crash would.
 */
import { threadId } from 'node:worker_threads';
import { serveWorkerTasks } from '../serve-worker-tasks';

export type PoolTestTask =
  | { op: 'echo'; value: unknown }
  | { op: 'throw'; message: string }
  | { op: 'spin'; ms: number }
  | { op: 'exit' }
  | { op?: undefined };

serveWorkerTasks<PoolTestTask, { value?: unknown; threadId: number }>((task) => {
  switch (task.op) {
    case 'echo':
      return { value: task.value, threadId };
    case 'throw':
      throw new RangeError(task.message);
    case 'spin': {
      const until = Date.now() + task.ms;
      while (Date.now() < until);
      return { threadId };
    }
    default:
      process.exit(3);
  }
});
