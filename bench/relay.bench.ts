/**
 * Relay benchmark.
 * 1. Throughput and latency at 1,000 paired sessions: every phone sends 20 frames to its kiosk
 *    at once; our relay (auth'd sessions, parsing, platform-id filter, metrics) against a bare
 *    `ws` forwarder driven by the same client code in the same run. Each server runs in its own
 *    process (its own core), the clients in this one. The server's CPU per frame comes from
 *    /proc. `BENCH_BEFORE_DIR=<older checkout>` adds that checkout's API to the same rounds. A
 *    second forwarder that also coalesces the writes to a socket within one tick (as our relay
 *    does) runs in the same rounds too: against it, what is left is the rest of our work.
 * 2. Memory per idle paired session at 10,000 sessions: 20,000 sockets. This machine allows
 *    20,000 open files per process, so the sessions are split the way production runs them: phones
 *    on API instance A, kiosks on instance B, paired over the local Redis; the baseline is two
 *    bare forwarders holding the same sockets.
 * 3. `BENCH_RELAY_MODE=callgrind` (or `both`): instructions per frame, counted by valgrind's
 *    callgrind in each server process, which do not depend on the machine's load the way CPU
 *    time does: the user-space instructions of every thread, and of the main thread alone (the
 *    JIT compiler's background work, which varies from run to run, and the GC's helpers run on
 *    the others). Each server runs under valgrind with
 *    instrumentation off while it starts and warms up (`BENCH_RELAY_CALLGRIND_WARMUP` drives),
 *    then counts `BENCH_RELAY_CALLGRIND_DRIVES` drives of `BENCH_RELAY_CALLGRIND_SESSIONS`
 *    sessions × BENCH_RELAY_FRAMES. The kernel's share (socket reads and writes) is not counted:
 *    this is the cost of the code in each process, the part the relay can change.
 * `BENCH_RELAY_CPU_PROFILE=<dir>`: our server writes a V8 CPU profile there when it stops.
 * `BENCH_RELAY_NODE_ARGS="--perf-basic-prof"`: more node options for our server (space-separated),
 * e.g. to name the JIT's code for `perf record -p <pid>`.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { signKioskAuth } from '@app/kiosk-registry/domain/kiosk-auth';
import { BenchChild } from './support/child';
import { median as medianOf, processCpuMs } from './support/proc';
import { now, percentile, printRows } from './support';

const SESSIONS = Number(process.env.BENCH_RELAY_SESSIONS ?? 1000);
const FRAMES_PER_SESSION = Number(process.env.BENCH_RELAY_FRAMES ?? 20);
const ROUNDS = Number(process.env.BENCH_RELAY_ROUNDS ?? 9);
/** `time` (default: CPU time and throughput), `callgrind` (instruction counts) or `both`. */
const MODE = process.env.BENCH_RELAY_MODE ?? 'time';
const CALLGRIND_SESSIONS = Number(process.env.BENCH_RELAY_CALLGRIND_SESSIONS ?? 100);
const CALLGRIND_WARMUP = Number(process.env.BENCH_RELAY_CALLGRIND_WARMUP ?? 40);
const CALLGRIND_DRIVES = Number(process.env.BENCH_RELAY_CALLGRIND_DRIVES ?? 10);
const CPU_PROFILE_DIR = process.env.BENCH_RELAY_CPU_PROFILE;
const NODE_ARGS = (process.env.BENCH_RELAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
const IDLE_SESSIONS = Number(process.env.BENCH_RELAY_IDLE_SESSIONS ?? 10_000);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Pair {
  mobile: WebSocket;
  device: WebSocket;
}

function openSocket(
  url: string,
  onFrame?: (text: string, ws: WebSocket) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('message', (data) => onFrame?.((data as Buffer).toString(), ws));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function inBatches<T>(
  count: number,
  width: number,
  make: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await make(i);
      }
    }),
  );
  return out;
}

/** Fires FRAMES_PER_SESSION frames from every phone at once; measures until all arrived. */
async function drive(
  pairs: Pair[],
  frameOf: (seq: number, t: number) => string,
  latencyOf: (text: string) => number | undefined,
) {
  const expected = pairs.length * FRAMES_PER_SESSION;
  const latencies: number[] = [];
  let received = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  for (const pair of pairs) {
    pair.device.removeAllListeners('message');
    pair.device.on('message', (data) => {
      const latency = latencyOf((data as Buffer).toString());
      if (latency === undefined) return;
      latencies.push(latency);
      if (++received === expected) finish();
    });
  }
  const started = now();
  for (let seq = 0; seq < FRAMES_PER_SESSION; seq++) {
    for (const pair of pairs) pair.mobile.send(frameOf(seq, now()));
  }
  await done;
  const elapsed = now() - started;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: (expected / elapsed) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

const latencyFromData = (text: string): number | undefined => {
  const frame = JSON.parse(text) as { type?: string; data?: { t?: number } };
  return (frame.type === 'from_mobile' || frame.type === 'to_device') && frame.data?.t !== undefined
    ? now() - frame.data.t
    : undefined;
};
const frame = (seq: number, t: number) =>
  JSON.stringify({ type: 'to_device', data: { seq, t, note: 'look at the camera' } });

/** How a rig's server process is started: under a launcher (valgrind), with node options. */
interface RigOptions {
  sessions?: number;
  launcher?: string[];
  nodeArgs?: string[];
}

interface Rig {
  pairs: Pair[];
  /** The server process, for its CPU time. */
  pid: number;
  /** A full GC in the server (so each counted window starts from the same heap state). */
  gc: () => Promise<unknown>;
  stop: () => Promise<void>;
}

function terminateAll(pairs: Pair[]): void {
  for (const p of pairs) {
    p.mobile.terminate();
    p.device.terminate();
  }
}

async function baselineRig(coalesce = false, options: RigOptions = {}): Promise<Rig> {
  const forwarder = BenchChild.startIn(
    join(__dirname, '..'),
    'support/bare-forwarder.ts',
    coalesce ? ['--coalesce'] : [],
    {},
    options.launcher,
    options.nodeArgs,
  );
  const base = `ws://127.0.0.1:${await forwarder.expect('READY')}`;
  const pairs = await inBatches(options.sessions ?? SESSIONS, 50, async (i) => ({
    mobile: await openSocket(`${base}/?s=${i}&r=m`),
    device: await openSocket(`${base}/?s=${i}&r=d`),
  }));
  return {
    pairs,
    pid: forwarder.proc.pid!,
    gc: () => forwarder.memory(),
    stop: async () => {
      terminateAll(pairs);
      await forwarder.stop();
    },
  };
}

function kioskKey() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
}

async function post(base: string, path: string, key: string, body: unknown): Promise<any> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify(body),
  });
  if (response.status >= 300)
    throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Our API from `root` (this checkout, or BENCH_BEFORE_DIR's) with paired sessions. */
async function relayRig(root = join(__dirname, '..'), options: RigOptions = {}): Promise<Rig> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-relay-'));
  const env = {
    DATA_DIR: dataDir,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    SESSION_TTL_SECONDS: '900',
    RELAY_RATE_PER_SECOND: '10000',
    RELAY_RATE_BURST: '10000',
    // a thousand sessions are set up from one address in seconds: the HTTP limiter must allow it
    RATE_LIMIT_PER_IP: '100000000',
    RATE_LIMIT_PER_CREDENTIAL: '100000000',
  };
  const server = BenchChild.startIn(
    root,
    'support/serve-api.ts',
    [],
    env,
    options.launcher,
    options.nodeArgs,
  );
  const port = await server.expect('READY', 900_000);
  const { loadConfig } = await import('@app/api/config/app-config');
  const config = loadConfig(env);
  const base = `http://127.0.0.1:${port}`;
  const kiosk = kioskKey();
  await post(base, '/api/register-device', config.auth.apiKeys.provisioner[0], {
    device_id: 'TEE-BENCH',
    public_key: kiosk.publicPem,
  });
  const pairs = await inBatches(options.sessions ?? SESSIONS, 50, async (i) => {
    const session = await post(base, '/api/auth/mobile', config.auth.apiKeys.mobile[0], {
      user_id: `u${i}`,
      platform_id: `PLT_bench${String(i).padStart(6, '0')}`,
    });
    const mobile = await openSocket(`ws://127.0.0.1:${port}/ws/mobile?token=${session.token}`);
    let device!: WebSocket;
    await new Promise<void>((resolve) => {
      void openSocket(
        `ws://127.0.0.1:${port}/ws/device?token=${session.qr_payload.token}`,
        (text, ws) => {
          const f = JSON.parse(text) as { type: string; nonce?: string };
          if (f.type === 'challenge')
            ws.send(
              JSON.stringify({
                type: 'auth',
                session_id: session.session_id,
                device_id: 'TEE-BENCH',
                signature: signKioskAuth(kiosk.privateKey, session.session_id, f.nonce!),
              }),
            );
          if (f.type === 'joined') resolve();
        },
      ).then((ws) => (device = ws));
    });
    return { mobile, device };
  });
  return {
    pairs,
    pid: server.proc.pid!,
    gc: () => server.memory(),
    stop: async () => {
      terminateAll(pairs);
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

type DriveResult = Awaited<ReturnType<typeof drive>> & { cpuUsPerFrame: number };

/** One run on a rig, with the server's CPU time per frame (user + system, from /proc). */
async function driveRig(rig: Rig): Promise<DriveResult> {
  const cpu0 = processCpuMs(rig.pid);
  const result = await drive(rig.pairs, frame, latencyFromData);
  const cpuMs = processCpuMs(rig.pid) - cpu0;
  return { ...result, cpuUsPerFrame: (cpuMs * 1000) / (rig.pairs.length * FRAMES_PER_SESSION) };
}

/** Both rigs up at once, runs interleaved (baseline, ours, baseline, …), the median run of each. */
async function throughput(): Promise<{
  runs: Record<string, DriveResult>;
  cpu: Record<string, number>;
  /** Per round, each rig's CPU per frame over the plain forwarder's in the same round. */
  roundRatios: Record<string, number[]>;
}> {
  // BENCH_BEFORE_DIR=<older checkout>: its API runs in the same rounds too
  // the forwarder that also coalesces writes per tick, as ours does: the rest of our work alone
  const rigs: Record<string, Rig> = {
    baseline: await baselineRig(),
    ours: await relayRig(undefined, {
      nodeArgs: [
        ...(CPU_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROFILE_DIR}`] : []),
        ...NODE_ARGS,
      ],
    }),
    coalesced: await baselineRig(true),
  };
  if (process.env.BENCH_BEFORE_DIR) rigs.before = await relayRig(process.env.BENCH_BEFORE_DIR);
  const names = Object.keys(rigs);
  const runs: Record<string, DriveResult[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const name of names) await driveRig(rigs[name]); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    // alternating order, so no rig always runs on a machine another just warmed
    const order = round % 2 ? [...names].reverse() : names;
    for (const name of order) runs[name].push(await driveRig(rigs[name]));
  }
  for (const name of names) await rigs[name].stop();
  const median = (xs: DriveResult[]) =>
    [...xs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(xs.length / 2)];
  const roundRatios = Object.fromEntries(
    names.map((n) => [
      n,
      runs[n].map((r, round) => r.cpuUsPerFrame / runs.baseline[round].cpuUsPerFrame),
    ]),
  );
  return {
    runs: Object.fromEntries(names.map((n) => [n, median(runs[n])])),
    cpu: Object.fromEntries(names.map((n) => [n, medianOf(runs[n].map((r) => r.cpuUsPerFrame))])),
    roundRatios,
  };
}

/** Instructions counted in one callgrind window: every thread's, and the main thread's. */
interface Instructions {
  all: number;
  main: number;
}

/**
 * User-space instructions the process `pid` ran since its last callgrind dump (or instr on).
 * Callgrind writes one dump per thread (`--separate-threads=yes`, `<prefix>.<n>-<thread>`);
 * thread 1 is the main thread, where the JavaScript runs (the JIT compiler's and the GC's
 * helper threads are the others).
 */
function callgrindDump(pid: number, outPrefix: string): Instructions {
  const dir = join(outPrefix, '..');
  const base = outPrefix.slice(dir.length + 1);
  const before = new Set(readdirSync(dir));
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
  const fresh = readdirSync(dir).filter((f) => f.startsWith(`${base}.`) && !before.has(f));
  const counted: Instructions = { all: 0, main: 0 };
  for (const file of fresh) {
    const text = readFileSync(join(dir, file), 'utf8');
    const totals = /^totals:\s*(\d+)/m.exec(text);
    if (!totals) throw new Error(`no totals in the callgrind dump ${file}`);
    counted.all += Number(totals[1]);
    if (/^thread:\s*1$/m.test(text)) counted.main += Number(totals[1]);
  }
  if (counted.main === 0) throw new Error(`no main-thread dump among ${fresh.length}`);
  return counted;
}

/**
 * Instructions per frame of each server, counted by callgrind (see the header). Rigs run one
 * after another: under valgrind the counts do not depend on what else runs.
 */
async function instructions(): Promise<Record<string, Instructions>> {
  // BENCH_RELAY_CALLGRIND_KEEP=<dir>: the dumps stay there, for callgrind_annotate
  const keep = process.env.BENCH_RELAY_CALLGRIND_KEEP;
  const tmp = keep ?? mkdtempSync(join(tmpdir(), 'mdai-bench-callgrind-'));
  const rigs: Record<string, (options: RigOptions) => Promise<Rig>> = {
    baseline: (o) => baselineRig(false, o),
    ours: (o) => relayRig(undefined, o),
    coalesced: (o) => baselineRig(true, o),
  };
  const before = process.env.BENCH_BEFORE_DIR;
  if (before) rigs.before = (o) => relayRig(before, o);
  // BENCH_RELAY_CALLGRIND_RIGS=ours,baseline: only those
  const only = process.env.BENCH_RELAY_CALLGRIND_RIGS?.split(',');
  if (only) for (const name of Object.keys(rigs)) if (!only.includes(name)) delete rigs[name];
  const out: Record<string, Instructions> = {};
  try {
    for (const [name, make] of Object.entries(rigs)) {
      const outPrefix = join(tmp, `cg-${name}`);
      const rig = await make({
        sessions: CALLGRIND_SESSIONS,
        launcher: [
          'valgrind',
          '--quiet',
          '--tool=callgrind',
          '--instr-atstart=no',
          '--separate-threads=yes',
          `--callgrind-out-file=${outPrefix}`,
        ],
      });
      try {
        for (let i = 0; i < CALLGRIND_WARMUP; i++) await driveRig(rig);
        execFileSync('callgrind_control', ['-i', 'on', String(rig.pid)], { stdio: 'ignore' });
        // a full GC, then a drive that is not counted (it takes the GC's concurrent sweeping and
        // the code's first instrumented run), so each counted window starts alike
        await rig.gc();
        await driveRig(rig);
        callgrindDump(rig.pid, outPrefix);
        for (let i = 0; i < CALLGRIND_DRIVES; i++) await driveRig(rig);
        const frames = CALLGRIND_DRIVES * rig.pairs.length * FRAMES_PER_SESSION;
        const counted = callgrindDump(rig.pid, outPrefix);
        out[name] = { all: counted.all / frames, main: counted.main / frames };
      } finally {
        await rig.stop();
      }
    }
  } finally {
    if (!keep) rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

async function idleMemory() {
  const tmp = mkdtempSync(join(tmpdir(), 'mdai-bench-idle-'));
  const kiosk = kioskKey();
  const privateKeyPem = kiosk.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const measure = async (
    servers: BenchChild[],
    mobiles: string[],
    devices: Array<{ url: string; auth?: { sessionId: string; deviceId: string } }>,
  ) => {
    const before = await Promise.all(servers.map((s) => s.memory()));
    writeFileSync(
      join(tmp, 'm.json'),
      JSON.stringify({ sockets: mobiles.map((url) => ({ url })) }),
    );
    writeFileSync(join(tmp, 'd.json'), JSON.stringify({ sockets: devices, privateKeyPem }));
    const clientsM = BenchChild.start('support/idle-clients.ts', [join(tmp, 'm.json')]);
    await clientsM.expect('READY');
    const clientsD = BenchChild.start('support/idle-clients.ts', [join(tmp, 'd.json')]);
    await clientsD.expect('READY');
    await new Promise((r) => setTimeout(r, 1000));
    const after = await Promise.all(servers.map((s) => s.memory()));
    await clientsM.stop();
    await clientsD.stop();
    const sum = (xs: Array<{ rss: number; heapUsed: number }>, k: 'rss' | 'heapUsed') =>
      xs.reduce((a, x) => a + x[k], 0);
    return {
      rssPerSession: (sum(after, 'rss') - sum(before, 'rss')) / IDLE_SESSIONS,
      heapPerSession: (sum(after, 'heapUsed') - sum(before, 'heapUsed')) / IDLE_SESSIONS,
    };
  };

  // baseline: two bare forwarders
  const f1 = BenchChild.start('support/bare-forwarder.ts');
  const f2 = BenchChild.start('support/bare-forwarder.ts');
  const [p1, p2] = [await f1.expect('READY'), await f2.expect('READY')];
  const baseline = await measure(
    [f1, f2],
    Array.from({ length: IDLE_SESSIONS }, (_, i) => `ws://127.0.0.1:${p1}/?s=${i}&r=m`),
    Array.from({ length: IDLE_SESSIONS }, (_, i) => ({ url: `ws://127.0.0.1:${p2}/?s=${i}&r=d` })),
  );
  await f1.stop();
  await f2.stop();

  // ours: instance A (phones) and B (kiosks), one store, one Redis
  const env = {
    DATA_DIR: join(tmp, 'data'),
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    SESSION_TTL_SECONDS: '1800',
    REDIS_URL,
    RATE_LIMIT_PER_IP: '100000000',
    RATE_LIMIT_PER_CREDENTIAL: '100000000',
  };
  const a = BenchChild.start('support/serve-api.ts', [], env);
  const portA = await a.expect('READY');
  const b = BenchChild.start('support/serve-api.ts', [], env);
  const portB = await b.expect('READY');
  const { loadConfig } = await import('@app/api/config/app-config');
  const config = loadConfig(env);
  const baseA = `http://127.0.0.1:${portA}`;
  await post(baseA, '/api/register-device', config.auth.apiKeys.provisioner[0], {
    device_id: 'TEE-IDLE',
    public_key: kiosk.publicPem,
  });
  const sessions = await inBatches(IDLE_SESSIONS, 50, (i) =>
    post(baseA, '/api/auth/mobile', config.auth.apiKeys.mobile[0], {
      user_id: `u${i}`,
      platform_id: `PLT_idle${String(i).padStart(6, '0')}`,
    }),
  );
  const ours = await measure(
    [a, b],
    sessions.map((s) => `ws://127.0.0.1:${portA}/ws/mobile?token=${s.token}`),
    sessions.map((s) => ({
      url: `ws://127.0.0.1:${portB}/ws/device?token=${s.qr_payload.token}`,
      auth: { sessionId: s.session_id, deviceId: 'TEE-IDLE' },
    })),
  );
  await a.stop();
  await b.stop();
  rmSync(tmp, { recursive: true, force: true });
  return { baseline, ours };
}

export async function run(): Promise<void> {
  if (MODE !== 'callgrind') await timed();
  if (MODE === 'callgrind' || MODE === 'both') {
    const counts = await instructions();
    printRows(
      `Relay: user-space instructions per frame (callgrind), ${CALLGRIND_SESSIONS} paired sessions × ${FRAMES_PER_SESSION} frames, ${CALLGRIND_DRIVES} drives after ${CALLGRIND_WARMUP} of warm-up (baseline: bare ws forwarder)`,
      (['all', 'main'] as const).flatMap((thread) => {
        const of = thread === 'all' ? '' : ', main thread';
        return [
          {
            metric: `instructions per frame${of}`,
            ours: counts.ours?.[thread],
            baseline: counts.baseline?.[thread],
            unit: '',
          },
          {
            metric: `instructions per frame${of} vs a forwarder that also coalesces writes per tick`,
            ours: counts.ours?.[thread],
            baseline: counts.coalesced?.[thread],
            unit: '',
          },
          ...(counts.before
            ? [
                {
                  metric: `before (BENCH_BEFORE_DIR): instructions per frame${of}`,
                  ours: counts.before[thread],
                  baseline: counts.baseline?.[thread],
                  unit: '',
                },
              ]
            : []),
        ];
      }),
    );
  }
}

async function timed(): Promise<void> {
  const { runs, cpu, roundRatios } = await throughput();
  const { baseline, ours, before, coalesced } = runs;
  const spread = (xs: number[]) =>
    `(rounds ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
  printRows(
    `Relay: ${SESSIONS} paired sessions, ${FRAMES_PER_SESSION} frames each, phone → kiosk, median of ${ROUNDS} interleaved runs (baseline: bare ws forwarder)`,
    [
      {
        metric: 'frames per second',
        ours: ours.perSecond,
        baseline: baseline.perSecond,
        unit: 'frames/s',
      },
      {
        metric: 'server CPU per frame (lower is better)',
        ours: cpu.ours,
        baseline: cpu.baseline,
        unit: 'µs',
      },
      {
        metric: 'server CPU per frame vs a forwarder that also coalesces writes per tick',
        ours: cpu.ours,
        baseline: cpu.coalesced,
        unit: 'µs',
      },
      {
        metric: 'frames per second vs a forwarder that also coalesces writes per tick',
        ours: ours.perSecond,
        baseline: coalesced.perSecond,
        unit: 'frames/s',
      },
      {
        metric:
          'server CPU per frame: median of the per-round ratios (ours / forwarder, same round)',
        ours: medianOf(roundRatios.ours),
        unit: '×',
        note: spread(roundRatios.ours),
      },
      {
        metric: 'the same, the coalescing forwarder / the plain one',
        ours: medianOf(roundRatios.coalesced),
        unit: '×',
        note: spread(roundRatios.coalesced),
      },
      { metric: 'latency p50', ours: ours.p50, baseline: baseline.p50, unit: 'ms' },
      { metric: 'latency p99', ours: ours.p99, baseline: baseline.p99, unit: 'ms' },
      ...(before
        ? [
            {
              metric: 'before (BENCH_BEFORE_DIR): frames per second',
              ours: before.perSecond,
              baseline: baseline.perSecond,
              unit: 'frames/s',
            },
            {
              metric: 'before (BENCH_BEFORE_DIR): server CPU per frame',
              ours: cpu.before,
              baseline: cpu.baseline,
              unit: 'µs',
            },
            {
              metric: 'before (BENCH_BEFORE_DIR): median of the per-round ratios',
              ours: medianOf(roundRatios.before),
              unit: '×',
              note: spread(roundRatios.before),
            },
          ]
        : []),
    ],
  );
  if (IDLE_SESSIONS > 0) {
    const memory = await idleMemory();
    printRows(
      `Relay: memory per idle paired session at ${IDLE_SESSIONS} sessions (2 instances; baseline: 2 bare ws forwarders)`,
      [
        {
          metric: 'RSS per session',
          ours: memory.ours.rssPerSession / 1024,
          baseline: memory.baseline.rssPerSession / 1024,
          unit: 'KiB',
        },
        {
          metric: 'heap per session',
          ours: memory.ours.heapPerSession / 1024,
          baseline: memory.baseline.heapPerSession / 1024,
          unit: 'KiB',
        },
      ],
    );
  }
}
