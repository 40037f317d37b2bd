/**
 * Vault CPU per MiB over HTTP: our API storing (`POST /api/v5/vault`) and reading
 * (`GET /api/v5/vault/:id`) 16 MiB files, against bare node:http + AES-256-GCM + disk
 * (bench/support/bare-vault.js). Server CPU per MiB moved: every thread of the server's
 * process, from the scheduler's nanosecond counts (`/proc/<pid>/task/<tid>/schedstat`), read
 * SETTLE_MS after the last answer (work a server finishes after answering counts for it); the
 * 10 ms ticks of `/proc/<pid>/stat` counted a few ticks per MiB, too coarse for the ratio. Both
 * servers up at once, their requests interleaved one by one within each round (a loaded
 * machine's bursts then fall on every server alike), medians, and the median of each round's
 * ratio.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchChild } from './support/child';
import { call } from './support/http-call';
import {
  mainThreadCpuMs,
  median,
  processCpuMs,
  threadsCpuMs,
  threadsCpuMsByName,
} from './support/proc';
import { printRows } from './support';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.VAULT_HTTP_MIB ?? 16) * MIB;
/** Files per round: 64 MiB in all (4 of 16 MiB, 64 of 1 MiB), `VAULT_HTTP_FILES` to choose. */
const FILES = Number(process.env.VAULT_HTTP_FILES ?? Math.max(4, Math.ceil((64 * MIB) / SIZE)));
const ROUNDS = Number(process.env.VAULT_HTTP_ROUNDS ?? 5);
/**
 * Untimed rounds first (`VAULT_HTTP_WARMUP`, 3): the servers' code optimized, the API's SQLite
 * checkpoint thread started (at its first writes: a one-off of ~100 ms of module loading) and
 * their heaps grown, which one round left to the timed ones.
 */
const WARMUP = Number(process.env.VAULT_HTTP_WARMUP ?? 3);
/** A pause after a rig's last answer before its CPU is read (not timed: CPU only). */
const SETTLE_MS = 30;
const ADMIN = 'mdai_adm_benchbenchbenchbenchbench';
const AUDITOR = 'mdai_aud_benchbenchbenchbenchbench';

interface Rig {
  name: string;
  child: BenchChild;
  store: (data: Buffer) => Promise<string>;
  read: (id: string) => Promise<number>;
}

type Op = 'store' | 'read';
/**
 * Server CPU ms per MiB of each op: every thread's schedstat; the main thread's alone (the
 * event loop: without libuv's pool, which writes and reads the files, and V8's helper threads,
 * which mark the heap); and `/proc/<pid>/stat` ticks.
 */
type Measure = Record<Op, number> & { main: Record<Op, number>; ticks: Record<Op, number> };

/**
 * One round: `FILES` stores, then their reads, the rigs taking turns request by request (in
 * `order`, which the rounds rotate), so that every rig meets the same moments of a machine
 * other work loads. Each rig's CPU is read around the whole phase (an idle server's timers
 * cost next to nothing), SETTLE_MS after the phase's last answer.
 */
async function measureRound(order: Rig[], data: Buffer): Promise<Record<string, Measure>> {
  const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const mib = (FILES * data.length) / MIB;
  const sample = (rig: Rig) => {
    const pid = rig.child.proc.pid!;
    return [threadsCpuMs(pid), mainThreadCpuMs(pid), processCpuMs(pid)];
  };
  const phase = async (run: (rig: Rig, i: number) => Promise<void>) => {
    const from = new Map(order.map((rig) => [rig, sample(rig)]));
    for (let i = 0; i < FILES; i++) {
      for (let k = 0; k < order.length; k++) await run(order[(i + k) % order.length], i);
    }
    await settle();
    return new Map(
      order.map((rig) => [rig, sample(rig).map((value, j) => (value - from.get(rig)![j]) / mib)]),
    );
  };
  const ids = new Map<Rig, string[]>(order.map((rig) => [rig, []]));
  const store = await phase(async (rig) => {
    ids.get(rig)!.push(await rig.store(data));
  });
  const read = await phase(async (rig, i) => {
    if ((await rig.read(ids.get(rig)![i])) !== data.length) {
      throw new Error(`${rig.name}: read lost bytes`);
    }
  });
  return Object.fromEntries(
    order.map((rig) => {
      const [s, r] = [store.get(rig)!, read.get(rig)!];
      const m: Measure = {
        store: s[0],
        read: r[0],
        main: { store: s[1], read: r[1] },
        ticks: { store: s[2], read: r[2] },
      };
      return [rig.name, m];
    }),
  );
}

/** Each thread name's CPU ms per MiB over `FILES` stores, then over their reads. */
async function byThread(rig: Rig, data: Buffer): Promise<Record<Op, Record<string, number>>> {
  const pid = rig.child.proc.pid!;
  const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const mib = (FILES * data.length) / MIB;
  const delta = (from: Record<string, number>) => {
    const to = threadsCpuMsByName(pid);
    return Object.fromEntries(
      Object.entries(to).map(([name, ms]) => [name, (ms - (from[name] ?? 0)) / mib]),
    );
  };
  let from = threadsCpuMsByName(pid);
  const ids: string[] = [];
  for (let i = 0; i < FILES; i++) ids.push(await rig.store(data));
  await settle();
  const store = delta(from);
  from = threadsCpuMsByName(pid);
  for (const id of ids) await rig.read(id);
  await settle();
  return { store, read: delta(from) };
}

/** V8 CPU profiles of an API child over `FILES` stores and over their reads, into `dir`. */
async function profile(rig: Rig, data: Buffer, dir: string): Promise<void> {
  const ids: string[] = [];
  rig.child.send('profile-start');
  await rig.child.expect('PROFILING');
  for (let i = 0; i < FILES; i++) ids.push(await rig.store(data));
  rig.child.send(`profile-stop ${join(dir, `${rig.name}-store.cpuprofile`)}`);
  await rig.child.expect('PROFILED');
  rig.child.send('profile-start');
  await rig.child.expect('PROFILING');
  for (const id of ids) await rig.read(id);
  rig.child.send(`profile-stop ${join(dir, `${rig.name}-read.cpuprofile`)}`);
  await rig.child.expect('PROFILED');
}

function apiRig(name: string, child: BenchChild, port: string): Rig {
  const oursBase = `http://127.0.0.1:${port}/api/v5/vault`;
  return {
    name,
    child,
    store: async (data) => {
      const r = await call(
        oursBase,
        'POST',
        {
          'x-api-key': ADMIN,
          'content-type': 'application/octet-stream',
          'content-length': data.length,
          'x-access-purpose': 'benchmark',
        },
        { body: data, textBelow: 4096 },
      );
      if (r.status !== 201) throw new Error(`ours store: ${r.status} ${r.text}`);
      return (JSON.parse(r.text) as { fileId: string }).fileId;
    },
    read: async (id) =>
      (
        await call(
          `${oursBase}/${id}`,
          'GET',
          { 'x-api-key': AUDITOR, 'x-access-purpose': 'benchmark' },
          { textBelow: 4096 },
        )
      ).bytes,
  };
}

export async function run(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-vault-http-'));
  const apiEnv = {
    DATA_DIR: dataDir,
    NODE_ENV: 'development',
    ADMIN_API_KEYS: ADMIN,
    AUDITOR_API_KEYS: AUDITOR,
    VAULT_MAX_FILE_BYTES: String(SIZE),
    // small files come 64 a round: more than the default limit lets one address send
    RATE_LIMIT_PER_IP: '1000000',
    RATE_LIMIT_PER_CREDENTIAL: '1000000',
  };
  // VAULT_HTTP_NODE_ARGS: node options for every server (e.g. `--trace-gc`), space-separated
  const nodeArgs = (process.env.VAULT_HTTP_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const root = join(__dirname, '..');
  const ours = BenchChild.startIn(root, 'support/serve-api.ts', [], apiEnv, [], nodeArgs);
  const bare = BenchChild.startIn(root, 'support/bare-vault.js', [], {}, [], nodeArgs);
  // BENCH_BEFORE_DIR=<an older checkout>: its API is measured in the same rounds too
  const beforeDir = process.env.BENCH_BEFORE_DIR;
  const beforeData = mkdtempSync(join(tmpdir(), 'mdai-bench-vault-http-before-'));
  const before = beforeDir
    ? BenchChild.startIn(
        beforeDir,
        'support/serve-api.ts',
        [],
        { ...apiEnv, DATA_DIR: beforeData },
        [],
        nodeArgs,
      )
    : undefined;
  // VAULT_HTTP_TWIN=1: a second server of this checkout in the same rounds, whose distance from
  // `ours` is the spread between two servers of the same code on this machine now
  const twinData = mkdtempSync(join(tmpdir(), 'mdai-bench-vault-http-twin-'));
  // VAULT_HTTP_TWIN_ENV="K=V K2=V2": settings of the twin alone (e.g. `VAULT_READ_HOLD_BYTES=0`),
  // to weigh a setting against the same code in the same rounds
  const twinEnv = Object.fromEntries(
    (process.env.VAULT_HTTP_TWIN_ENV ?? '')
      .split(' ')
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
  const twin =
    process.env.VAULT_HTTP_TWIN === '1'
      ? BenchChild.startIn(
          root,
          'support/serve-api.ts',
          [],
          { ...apiEnv, ...twinEnv, DATA_DIR: twinData },
          [],
          nodeArgs,
        )
      : undefined;
  // VAULT_HTTP_DIST=1: the built API too (`npm run build:api` first), as `npm start` runs it:
  // the bundle under plain node, without the TypeScript hook whose compiler the other servers'
  // heaps carry (a larger heap makes every major GC dearer)
  const distData = mkdtempSync(join(tmpdir(), 'mdai-bench-vault-http-dist-'));
  const dist =
    process.env.VAULT_HTTP_DIST === '1'
      ? BenchChild.startPlain(
          root,
          'support/serve-dist.js',
          { ...apiEnv, DATA_DIR: distData },
          nodeArgs,
        )
      : undefined;
  try {
    const bareBase = `http://127.0.0.1:${await bare.expect('READY')}/files`;
    const rigs: Rig[] = [
      apiRig('ours', ours, await ours.expect('READY')),
      ...(before ? [apiRig('before', before, await before.expect('READY'))] : []),
      ...(twin ? [apiRig('twin', twin, await twin.expect('READY'))] : []),
      ...(dist ? [apiRig('dist', dist, await dist.expect('READY'))] : []),
      {
        name: 'bare',
        child: bare,
        store: async (data) => {
          const r = await call(
            bareBase,
            'POST',
            { 'content-length': data.length },
            { body: data, textBelow: 4096 },
          );
          return (JSON.parse(r.text) as { fileId: string }).fileId;
        },
        read: async (id) => (await call(`${bareBase}/${id}`, 'GET', {}, { textBelow: 4096 })).bytes,
      },
    ];
    const data = randomBytes(SIZE);
    const rotated = (round: number) => rigs.map((_, k) => rigs[(round + k) % rigs.length]);
    for (let round = 0; round < WARMUP; round++) await measureRound(rotated(round), data);
    type Series = Op | 'storeMain' | 'readMain' | 'storeTicks' | 'readTicks';
    const results: Record<string, Record<Series, number[]>> = {};
    for (const rig of rigs) {
      results[rig.name] = {
        store: [],
        read: [],
        storeMain: [],
        readMain: [],
        storeTicks: [],
        readTicks: [],
      };
    }
    for (let round = 0; round < ROUNDS; round++) {
      const measured = await measureRound(rotated(round), data);
      for (const rig of rigs) {
        const r = measured[rig.name];
        results[rig.name].store.push(r.store);
        results[rig.name].read.push(r.read);
        results[rig.name].storeMain.push(r.main.store);
        results[rig.name].readMain.push(r.main.read);
        results[rig.name].storeTicks.push(r.ticks.store);
        results[rig.name].readTicks.push(r.ticks.read);
      }
    }
    const roundRatios = (op: Op) =>
      results.ours[op].map((ours, round) => ours / results.bare[op][round]);
    const profileDir = process.env.VAULT_HTTP_PROFILE;
    const threads: Record<string, Record<Op, Record<string, number>>[]> = {};
    if (profileDir) {
      mkdirSync(profileDir, { recursive: true });
      for (let round = 0; round < 3; round++) {
        for (const rig of rigs) (threads[rig.name] ??= []).push(await byThread(rig, data));
      }
      for (const rig of rigs) if (rig.name !== 'bare') await profile(rig, data, profileDir);
    }
    printRows(
      `Vault over HTTP, server CPU per MiB (${SIZE / MIB} MiB files, ${FILES} per round, medians of ${ROUNDS} interleaved rounds after ${WARMUP} untimed; ratio = ours / baseline, lower is better)`,
      [
        ...(['store', 'read'] as const).map((op) => ({
          metric: `${op}: ${op === 'store' ? 'POST /api/v5/vault' : 'GET /api/v5/vault/:id'} vs bare HTTP + GCM + disk`,
          ours: median(results.ours[op]),
          baseline: median(results.bare[op]),
          unit: 'ms/MiB',
          note: `(each round's ratio: median ${median(roundRatios(op)).toFixed(2)}, ${roundRatios(
            op,
          )
            .map((r) => r.toFixed(2))
            .join(', ')})`,
        })),
        ...(['store', 'read'] as const).map((op) => ({
          metric: `${op}, the main thread alone (the event loop; without libuv's pool and V8's helper threads)`,
          ours: median(results.ours[`${op}Main`]),
          baseline: median(results.bare[`${op}Main`]),
          unit: 'ms/MiB',
        })),
        ...(['store', 'read'] as const).map((op) => ({
          metric: `${op}, the same from /proc/<pid>/stat (10 ms ticks: a check, coarse)`,
          ours: median(results.ours[`${op}Ticks`]),
          baseline: median(results.bare[`${op}Ticks`]),
          unit: 'ms/MiB',
        })),
        ...(['before', 'twin', 'dist'] as const).flatMap((other) =>
          results[other]
            ? (['store', 'read'] as const).flatMap((op) => [
                {
                  metric: `${{ before: 'before (BENCH_BEFORE_DIR)', twin: 'twin (VAULT_HTTP_TWIN)', dist: 'dist (VAULT_HTTP_DIST: the built bundle)' }[other]}: ${op}`,
                  ours: median(results[other][op]),
                  baseline: median(results.bare[op]),
                  unit: 'ms/MiB',
                  note: `(each round's ratio: median ${median(
                    results[other][op].map((value, round) => value / results.bare[op][round]),
                  ).toFixed(2)}; ours / ${other}, each round: median ${median(
                    results.ours[op].map((ours, round) => ours / results[other][op][round]),
                  ).toFixed(2)})`,
                },
                {
                  metric: `${other}: ${op}, the main thread alone`,
                  ours: median(results[other][`${op}Main`]),
                  baseline: median(results.bare[`${op}Main`]),
                  unit: 'ms/MiB',
                },
              ])
            : [],
        ),
        ...Object.entries(threads).flatMap(([name, rounds]) =>
          (['store', 'read'] as const).flatMap((op) => {
            const names = [...new Set(rounds.flatMap((r) => Object.keys(r[op])))].sort();
            return names.map((thread) => ({
              metric: `${name} ${op}, thread ${thread} (median of ${rounds.length})`,
              ours: median(rounds.map((r) => r[op][thread] ?? 0)),
              baseline: median(threads.bare.map((r) => r[op][thread] ?? 0)),
              unit: 'ms/MiB',
            }));
          }),
        ),
      ],
    );
  } finally {
    await Promise.all([ours.stop(), bare.stop(), before?.stop(), twin?.stop(), dist?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(beforeData, { recursive: true, force: true });
    rmSync(twinData, { recursive: true, force: true });
    rmSync(distData, { recursive: true, force: true });
  }
}
