/**
 * A script for the pool spec: makes a pool, runs one task, prints its answer and never closes
 * the pool. It must exit by itself once the answer is in (and not before).
 */
import { join } from 'node:path';
import { WorkerPool } from '../worker-pool';
import type { PoolTestTask } from './pool-test.worker';

const pool = new WorkerPool<PoolTestTask, { value?: unknown }>({
  name: 'unclosed',
  file: join(__dirname, 'pool-test.worker.ts'),
  size: 1,
  maxQueue: 1,
});
pool.run({ op: 'echo', value: 'answered' }).then(
  (answer) => process.stdout.write(`${JSON.stringify(answer.value)}\n`),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  },
);
