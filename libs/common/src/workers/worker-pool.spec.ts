import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { WorkerPool, WorkerPoolUnavailable, WorkerTaskError } from './worker-pool';
import type { PoolTestTask } from './testing/pool-test.worker';

type Out = { value?: unknown; threadId: number };
const file = join(__dirname, 'testing', 'pool-test.worker.ts');

describe('WorkerPool', () => {
  let pools: WorkerPool<PoolTestTask, Out>[] = [];
  const poolOf = (size: number, maxQueue = 16) => {
    const pool = new WorkerPool<PoolTestTask, Out>({ name: 'spec', file, size, maxQueue });
    pools.push(pool);
    return pool;
  };

  afterEach(async () => {
    await Promise.all(pools.map((p) => p.close()));
    pools = [];
  });

  it('should start no thread before the first task, then at most `size`', async () => {
    const sut = poolOf(2);
    expect(sut.threads).toBe(0);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => sut.run({ op: 'echo', value: { i, s: 'x'.repeat(i) } })),
    );
    expect(answers.map((a) => a.value)).toEqual(
      Array.from({ length: 6 }, (_, i) => ({ i, s: 'x'.repeat(i) })),
    );
    expect(sut.threads).toBe(2);
    expect(new Set(answers.map((a) => a.threadId)).size).toBeLessThanOrEqual(2);
  });

  it('should reject a task that throws with its error and keep serving', async () => {
    const sut = poolOf(1);
    const failed = sut.run({ op: 'throw', message: 'bad input' });
    await expect(failed).rejects.toBeInstanceOf(WorkerTaskError);
    await expect(failed).rejects.toThrow('bad input');
    await expect(sut.run({ op: 'echo', value: 1 })).resolves.toMatchObject({ value: 1 });
  });

  it('should reject an input that cannot be sent to a thread, and keep serving', async () => {
    const sut = poolOf(1);
    await expect(
      sut.run({ op: 'echo', value: () => undefined } as unknown as PoolTestTask),
    ).rejects.toThrow(/could not be cloned/);
    await expect(sut.run({ op: 'echo', value: 2 })).resolves.toMatchObject({ value: 2 });
  });

  it('should reject the task of a crashed thread as `crashed`, then start another thread', async () => {
    const sut = poolOf(1);
    const first = await sut.run({ op: 'echo', value: 'before' });
    const crashed = sut.run({ op: 'exit' });
    const queued = sut.run({ op: 'echo', value: 'after' });
    await expect(crashed).rejects.toEqual(new WorkerPoolUnavailable('crashed'));
    const after = await queued;
    expect(after.value).toBe('after');
    expect(after.threadId).not.toBe(first.threadId);
    expect(sut.threads).toBe(1);
  });

  it('should refuse a task beyond `maxQueue` waiting tasks at once', async () => {
    const sut = poolOf(1, 1);
    const busy = sut.run({ op: 'spin', ms: 300 });
    const waiting = sut.run({ op: 'echo', value: 'waited' });
    await expect(sut.run({ op: 'echo', value: 'refused' })).rejects.toEqual(
      new WorkerPoolUnavailable('queue_full'),
    );
    await busy;
    await expect(waiting).resolves.toMatchObject({ value: 'waited' });
  });

  it('should stop every thread on close, refusing running, waiting and later tasks', async () => {
    const sut = poolOf(1);
    const running = sut.run({ op: 'spin', ms: 5_000 });
    const waiting = sut.run({ op: 'echo', value: 1 });
    const refused = Promise.all([
      expect(running).rejects.toEqual(new WorkerPoolUnavailable('closed')),
      expect(waiting).rejects.toEqual(new WorkerPoolUnavailable('closed')),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await sut.close();
    await refused;
    await expect(sut.run({ op: 'echo', value: 2 })).rejects.toEqual(
      new WorkerPoolUnavailable('closed'),
    );
    expect(sut.threads).toBe(0);
  });

  it('should let a process that never closes its pool exit once its task is answered', async () => {
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(__dirname, 'testing', 'unclosed-pool.ts')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    // a bound on a hang (the process kept alive by its idle worker), not on speed
    const hung = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    clearTimeout(hung);
    expect({ code, signal, out, err }).toEqual({
      code: 0,
      signal: null,
      out: '"answered"\n',
      err: '',
    });
  }, 120_000);
});
