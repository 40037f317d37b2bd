/**
 * Relay slot claims on Redis: what one claim (and its release) costs, the client's round trip
 * and Redis's CPU, on a redis-server of the bench's own (never the shared one).
 * 1. Interleaved rounds of BENCH_CLAIM_OPS sequential claim + release pairs: the bus as it is
 *    (ioredis commands: EVALSHA), the same scripts sent by EVAL each call (the text on the wire,
 *    as before), and with `BENCH_BEFORE_DIR=<a copy of an older libs/relay/src, node_modules
 *    beside it>` that copy's bus in the same rounds. Medians of the rounds.
 * 2. The claim that finds the run changed (a store back from a snapshot), with
 *    BENCH_CLAIM_OTHER_KEYS other keys in Redis (DEBUG POPULATE, as a shared Redis holds
 *    rate-limit counters) and 1,000 slots taken: ours drops the tracked slots; the older bus,
 *    when given, scanned the keyspace.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { freePort } from '../test/support/free-port';
import { join } from 'node:path';
import Redis from 'ioredis';
import { bounded, CLAIM_SLOT, RedisRelayBus } from '@app/relay/bus/redis-relay-bus';
import { processCpuMs } from './support/proc';
import { median, now } from './support';

const OPS = Number(process.env.BENCH_CLAIM_OPS ?? 2000);
const ROUNDS = Number(process.env.BENCH_CLAIM_ROUNDS ?? 9);
const OTHER_KEYS = Number(process.env.BENCH_CLAIM_OTHER_KEYS ?? 1_000_000);
const BEFORE_DIR = process.env.BENCH_BEFORE_DIR;
const TTL_MS = 30_000;

/** A markdown table, as docs/benchmarks.md holds them. */
function printTable(title: string, rows: Record<string, string>[]): void {
  const columns = Object.keys(rows[0]);
  console.log(`\n${title}\n`);
  console.log(`| ${columns.join(' | ')} |`);
  console.log(`|${columns.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${columns.map((c) => row[c]).join(' | ')} |`);
}

type Claimer = (session: string, holder: string) => Promise<void>;

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'].concat([
      '--enable-debug-command',
      'local',
    ]),
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
  });
  return child;
}

type BusClass = new (pub: Redis, sub: Redis, resyncMs: number) => RedisRelayBus;

async function busOf(Bus: BusClass, url: string): Promise<RedisRelayBus> {
  const bus = new Bus(new Redis(url), new Redis(url), TTL_MS);
  // the connect's epoch check done
  const probe = new Redis(url);
  while ((await probe.exists('mdai:relay:epoch')) === 0)
    await new Promise((resolve) => setTimeout(resolve, 20));
  probe.disconnect();
  return bus;
}

function claimer(bus: RedisRelayBus): Claimer {
  return async (session, holder) => {
    if ((await bus.claimSlot(session, 'mobile', holder, TTL_MS)) !== 'claimed')
      throw new Error('claim not handed out');
    await bus.releaseSlot(session, 'mobile', holder);
  };
}

/**
 * Our scripts, their text sent by EVAL each call (the transport before `defineCommand`), bounded
 * and with a fresh epoch drawn as the bus does.
 */
function evalClaimer(client: Redis): Claimer {
  return async (session, holder) => {
    const slot = `mdai:relay:slot:${session}:mobile`;
    const result = await bounded('claimSlot', () =>
      client.eval(
        CLAIM_SLOT,
        5,
        slot,
        'mdai:relay:epoch',
        'mdai:relay:resync',
        'mdai:relay:run',
        'mdai:relay:slots',
        holder,
        String(TTL_MS),
        String(TTL_MS),
        randomBytes(8).toString('hex'),
      ),
    );
    if (result !== 0) throw new Error('claim not handed out');
    await bounded('releaseSlot', () =>
      client.eval(
        `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('zrem', KEYS[2], KEYS[1]) return redis.call('del', KEYS[1]) end return 0`,
        2,
        slot,
        'mdai:relay:slots',
        holder,
      ),
    );
  };
}

export async function run(): Promise<void> {
  const port = await freePort();
  const redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url);
  try {
    const variants: [string, Claimer, RedisRelayBus | undefined][] = [];
    const ours = await busOf(RedisRelayBus, url);
    variants.push(['ours (EVALSHA)', claimer(ours), ours]);
    variants.push(['our scripts by EVAL', evalClaimer(new Redis(url)), undefined]);
    let Before: BusClass | undefined;
    if (BEFORE_DIR) {
      const mod = (await import(join(BEFORE_DIR, 'bus', 'redis-relay-bus.ts'))) as {
        RedisRelayBus: BusClass;
      };
      Before = mod.RedisRelayBus;
      const before = await busOf(Before, url);
      variants.push(['before (BENCH_BEFORE_DIR)', claimer(before), before]);
    }
    const wall = new Map<string, number[]>(variants.map(([name]) => [name, []]));
    const redisCpu = new Map<string, number[]>(variants.map(([name]) => [name, []]));
    for (let round = 0; round < ROUNDS + 1; round++) {
      for (const [name, claim] of round % 2 ? [...variants].reverse() : variants) {
        const cpu0 = processCpuMs(redis.pid!);
        const t0 = now();
        for (let i = 0; i < OPS; i++) await claim(`r${round}s${i}`, `h${i}`);
        const ms = now() - t0;
        const cpu = processCpuMs(redis.pid!) - cpu0;
        if (round === 0) continue; // warm-up
        wall.get(name)!.push((ms * 1000) / OPS);
        redisCpu.get(name)!.push((cpu * 1000) / OPS);
      }
    }
    printTable(
      `relay slot claim + release, ${OPS} sequential pairs × ${ROUNDS} interleaved rounds (medians)`,
      variants.map(([name]) => ({
        name,
        'µs/pair (wall)': median(wall.get(name)!).toFixed(1),
        'Redis CPU µs/pair': median(redisCpu.get(name)!).toFixed(1),
      })),
    );

    // 2. the claim that finds the run changed, a big keyspace beside the slots
    await admin.call('DEBUG', 'POPULATE', String(OTHER_KEYS), 'mdai:rl:');
    const rows: Record<string, string>[] = [];
    for (const [name, bus] of [
      ['ours', ours],
      ...(Before ? [['before', await busOf(Before, url)] as const] : []),
    ] as const) {
      for (let i = 0; i < 1000; i++) await bus.claimSlot(`big${i}`, 'device', `h${i}`, TTL_MS);
      await admin.set('mdai:relay:run', 'f'.repeat(40));
      await admin.del('mdai:relay:resync');
      const cpu0 = processCpuMs(redis.pid!);
      const t0 = now();
      await bus.claimSlot('after-change', 'device', 'h', TTL_MS);
      rows.push({
        name,
        'keys in Redis': String(await admin.dbsize()),
        'run-change claim ms (wall)': (now() - t0).toFixed(1),
        'Redis CPU ms': (processCpuMs(redis.pid!) - cpu0).toFixed(1),
      });
      await admin.del('mdai:relay:resync');
    }
    printTable(`a claim that finds the run changed, ${OTHER_KEYS} other keys, 1,000 slots`, rows);
  } finally {
    admin.disconnect();
    redis.kill('SIGKILL');
  }
}
