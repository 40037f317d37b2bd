import { DEFAULT_JSON_LIMITS, parseJsonBody, WorkerPool } from '@app/common';
import { SignedPacket } from './domain/attendance-packet';
import { checkPackets } from './domain/packet-check';
import { OfflineSyncSettings } from './offline-sync.config';
import { PacketCheckPool } from './packet-check.pool';
import { mixedPacketBatch } from './testing/mixed-packet-batch';

const secret = Buffer.from('0123456789abcdef0123456789abcdef');
const settings = (verifyWorkers: number, verifyQueue = 64): OfflineSyncSettings => ({
  maxOfflineAgeSeconds: 3600,
  maxPacketsPerBatch: 500,
  verifyWorkers,
  verifyQueue,
  appendThread: false,
});

const mixedBatch = (size: number) => mixedPacketBatch(size, secret);

describe('PacketCheckPool', () => {
  let pools: PacketCheckPool[] = [];
  const poolOf = (s: OfflineSyncSettings) => {
    const pool = new PacketCheckPool(s);
    pools.push(pool);
    return pool;
  };
  afterEach(async () => {
    await Promise.all(pools.map((p) => p.onModuleDestroy()));
    pools = [];
  });

  it('should give exactly the in-process answers, on threads or not, for every batch size', async () => {
    const threads = poolOf(settings(2));
    const inProcess = poolOf(settings(0));
    for (const size of [0, 1, 63, 64, 129, 500]) {
      const batch = mixedBatch(size);
      const expected = checkPackets(batch, secret);
      expect(await threads.check(batch, secret)).toEqual(expected);
      expect(await inProcess.check(batch, secret)).toEqual(expected);
    }
    // every kind is in there: accepted, refused signatures and refused shapes
    const kinds = checkPackets(mixedBatch(500), secret);
    expect(kinds.some((c) => c.ok && c.signatureValid)).toBe(true);
    expect(kinds.some((c) => c.ok && !c.signatureValid)).toBe(true);
    expect(kinds.some((c) => !c.ok)).toBe(true);
  });

  it("should send a request body's packets to the threads as their text, with the same answers", async () => {
    const sut = poolOf(settings(2));
    // as the body pipeline parses a sync body (the packets a member of the top-level object)
    const sent = mixedBatch(500);
    const body = JSON.stringify({ packets: sent }).replace(/,"/g, ', "');
    const packets = (
      parseJsonBody(Buffer.from(body), DEFAULT_JSON_LIMITS) as { packets: SignedPacket[] }
    ).packets;
    const run = jest.spyOn(WorkerPool.prototype, 'run');
    expect(await sut.check(packets, secret)).toEqual(checkPackets(sent, secret));
    const tasks = run.mock.calls.map(([task]) => task as { packets?: unknown; text?: string });
    run.mockRestore();
    expect(tasks).toHaveLength(2);
    for (const task of tasks) {
      expect(task.packets).toBeUndefined();
      expect(body).toContain(task.text);
    }
    // a batch made in code goes as a structured clone of its packets
    const cloned = jest.spyOn(WorkerPool.prototype, 'run');
    expect(await sut.check(sent, secret)).toEqual(checkPackets(sent, secret));
    const clonedTasks = cloned.mock.calls.map(([task]) => task as { packets?: unknown[] });
    cloned.mockRestore();
    expect(clonedTasks.map((t) => t.packets?.length)).toEqual([250, 250]);
  });

  it('should check in the request thread what does not fit the queue, with the same answers', async () => {
    const sut = poolOf(settings(1, 1));
    const batches = Array.from({ length: 6 }, () => mixedBatch(200));
    const answers = await Promise.all(batches.map((b) => sut.check(b, secret)));
    answers.forEach((answer, i) => expect(answer).toEqual(checkPackets(batches[i], secret)));
  });

  it('should check a chunk in the request thread when its worker crashes, and after close', async () => {
    const sut = poolOf(settings(2));
    // the pool's threads replaced by ones that die on every packet-check task
    const crashing = new WorkerPool({
      name: 'crashing',
      file: require.resolve('@app/common/workers/testing/pool-test.worker'),
      size: 2,
      maxQueue: 8,
    });
    (sut as unknown as { pool: WorkerPool<unknown, unknown> }).pool = crashing;
    const batch = mixedBatch(500);
    expect(await sut.check(batch, secret)).toEqual(checkPackets(batch, secret));
    expect(crashing.threads).toBeLessThanOrEqual(2);
    await sut.onModuleDestroy();
    expect(crashing.threads).toBe(0);
    expect(await sut.check(batch, secret)).toEqual(checkPackets(batch, secret));
  });

  it('should never hand a worker more of the secret than its bytes', async () => {
    // a Buffer sliced out of a larger allocation: only its own 32 bytes may travel
    const slab = Buffer.alloc(4096, 7);
    secret.copy(slab, 100);
    const view = slab.subarray(100, 132);
    const sut = poolOf(settings(1));
    const batch = mixedBatch(100);
    const run = jest.spyOn(WorkerPool.prototype, 'run');
    expect(await sut.check(batch, view)).toEqual(checkPackets(batch, secret));
    const sent = run.mock.calls.map(([task]) => (task as { secret: Uint8Array }).secret);
    run.mockRestore();
    expect(sent.length).toBeGreaterThan(0);
    for (const s of sent) expect(s.buffer.byteLength).toBe(32);
  });
});
