/**
 * The request thread's share of a sync batch's packet checks (shape and HMAC on the two
 * packet-check threads): what posting the chunks and reading the answers back costs the event
 * loop, per 500-packet batch, measured from this thread's own CPU (`/proc/thread-self/schedstat`)
 * around `PacketCheckPool.check` (the API's pool, 2 threads) of a body parsed as the body pipeline
 * parses it: each chunk goes as its text in the body, each answer comes back packed
 * (`packChecks`). Baseline: the same packets and threads the way it was done before (`perfs`),
 * each chunk's packets as a structured clone and one check object per packet back
 * (`support/cloned-packet-check.worker.ts`). Both answers are checked equal first.
 * PACKET_CHECK_ROUNDS (default 400) interleaved rounds; medians.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_JSON_LIMITS, parseJsonBody, WorkerPool } from '@app/common';
import { checkPackets, PacketCheck } from '@app/offline-sync/domain/packet-check';
import { PacketCheckPool } from '@app/offline-sync/packet-check.pool';
import { SignedPacket } from '@app/offline-sync/domain/attendance-packet';
import { mixedPacketBatch } from '@app/offline-sync/testing/mixed-packet-batch';
import { median, printRows } from './support';

const threadCpuUs = (): number =>
  Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1000;

export async function run(): Promise<void> {
  const rounds = Number(process.env.PACKET_CHECK_ROUNDS ?? 400);
  const secret = Buffer.from('0123456789abcdef0123456789abcdef');
  // a real batch: 500 packets, most valid (every tenth of another kind)
  const made = mixedPacketBatch(500, secret);
  const body = Buffer.from(JSON.stringify({ packets: made }));
  const parse = () =>
    (parseJsonBody(body, DEFAULT_JSON_LIMITS) as { packets: SignedPacket[] }).packets;
  const ours = new PacketCheckPool({
    maxOfflineAgeSeconds: 3600,
    maxPacketsPerBatch: 500,
    verifyWorkers: 2,
    verifyQueue: 64,
    appendThread: false,
  });
  const cloned = new WorkerPool<{ packets: SignedPacket[]; secret: Uint8Array }, PacketCheck[]>({
    name: 'cloned-packet-check',
    file: join(__dirname, 'support', 'cloned-packet-check.worker.ts'),
    size: 2,
    maxQueue: 64,
  });
  const before = async (packets: SignedPacket[]): Promise<PacketCheck[]> => {
    const own = new Uint8Array(secret);
    const parts = [packets.slice(0, 250), packets.slice(250)].map((chunk) =>
      cloned.run({ packets: chunk, secret: own }),
    );
    return (await Promise.all(parts)).flat();
  };
  const expected = checkPackets(made, secret);
  for (const answer of [await ours.check(parse(), secret), await before(parse())]) {
    if (JSON.stringify(answer) !== JSON.stringify(expected)) throw new Error('answers differ');
  }
  const ourUs: number[] = [];
  const beforeUs: number[] = [];
  const measure = async (check: () => Promise<unknown>, into: number[]) => {
    const start = threadCpuUs();
    await check();
    into.push(threadCpuUs() - start);
  };
  for (let i = 0; i < rounds; i++) {
    // each round its own parsed body (as each request has), outside the measure
    const a = parse();
    const b = parse();
    const order = [
      () => measure(() => ours.check(a, secret), ourUs),
      () => measure(() => before(b), beforeUs),
    ];
    if (i % 2 === 1) order.reverse();
    for (const step of order) await step();
  }
  await ours.onModuleDestroy();
  await cloned.close();
  printRows('Packet checks: the request thread per 500-packet batch', [
    {
      metric: `request thread CPU µs per batch (post, await, read back), median of ${rounds}: body text + packed answers vs structured clones both ways`,
      ours: median(ourUs),
      baseline: median(beforeUs),
      unit: 'µs',
    },
  ]);
}
