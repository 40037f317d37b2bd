/**
 * Ledger verify and export at a large chain, against a raw walk that only hashes.
 *
 * One site's chain of VERIFY_LINKS links (default 1,000,000) is written straight into the
 * store (valid links, as `bench/sync` fills its ledgers), then one append through
 * LedgerService seals the whole backlog into the transparency log (`TransparencyLogService.seal`,
 * the server's path) and starts the timesheet read model's catch-up over the chain, which
 * is waited for (setup, not timed; the longest event-loop stall of each is printed). Then, in
 * interleaved rounds (medians), each task after a full GC (`--expose-gc`, so one task's
 * garbage is not collected in the next):
 * - ours: `LedgerService.verify` (chain, Merkle tree, every checkpoint and the witness file)
 *   and `LedgerService.exportChain` (every NDJSON line, consumed);
 * - baseline: a raw walk of the same rows with better-sqlite3 `iterate`, rebuilding each
 *   record's hashed text from the stored JCS columns and hashing it (SHA-256), nothing else.
 * While ours runs, the longest event-loop stall is measured (`monitorEventLoopDelay`, max),
 * with what the longest gap between runs of a 5 ms timer held: the GC pauses inside it
 * (`PerformanceObserver` 'gc' entries) and the main thread's time on a CPU and wait for one
 * (run-queue delay, schedstat, Linux only), and the task's GC pauses in all (the watcher is
 * `bench/support/stalls.ts`). Each side's process CPU time (user + system) is
 * printed too, the steadier measure when the machine is shared.
 *
 * VERIFY_LINKS (default 1,000,000) and VERIFY_ROUNDS (default 3) size the run. BENCH_DSTATE=1
 * adds a kernel-state sampler (`bench/support/dstate.ts`, a worker thread reading every
 * thread's /proc state ~every 1 ms): after each task (the two setup steps, and each round's
 * verify, export and raw walk) it prints on stderr, in ms after the task's start, the longest
 * stall's gap and each thread's episodes in `D` (waiting on the disk) by system call and file.
 * The sampler takes CPU of its own (printed): times measured with it are not comparable with
 * times measured without.
 */
import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { LedgerService } from '@app/offline-sync';
import { TimesheetProjector } from '@app/timesheets';
import { BenchRow, now, percentile, printRows } from './support';
import { fillChain } from './support/chain';
import { startSyncBenchApi } from './support/crew';
import { DstateSampler, formatDstate } from './support/dstate';
import { Stalls, watchStalls } from './support/stalls';

/** The stall watcher's timer period, ms. */
const TICK_MS = 5;

interface Rowish {
  site_id: string;
  seq: number;
  prev_hash: string;
  record_hash: string;
  data: string;
  meta: string;
}

/** The baseline: read every row of the chain in order and hash its record text. */
function rawWalk(store: SqliteStore, siteId: string): number {
  const rows = store.db
    .prepare<[string], Rowish>(
      'SELECT site_id, seq, prev_hash, record_hash, data, meta FROM attendance_logs WHERE site_id = ? ORDER BY seq',
    )
    .iterate(siteId);
  let n = 0;
  let prev = '0'.repeat(64);
  for (const r of rows) {
    const text = `{"data":${r.data},"meta":${r.meta},"prevHash":"${r.prev_hash}","seq":${r.seq},"siteId":${JSON.stringify(r.site_id)}}`;
    const hash = createHash('sha256').update(text).digest('hex');
    if (hash !== r.record_hash || r.prev_hash !== prev)
      throw new Error(`raw walk: bad link ${r.seq}`);
    prev = hash;
    n++;
  }
  return n;
}

/** Process CPU time (user + system) in ms: steadier than wall time on a shared machine. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Watches the event loop while `work` runs; with a kernel-state sampler (BENCH_DSTATE=1), also
 * prints what the threads waited on in `D` meanwhile, lined up with the longest stall.
 */
async function watched<T>(
  task: string,
  work: () => Promise<T>,
  dstate?: DstateSampler,
): Promise<{ value: T; stalls: Stalls; ms: number; cpuMs: number }> {
  // what the sampler saw before the task is left out
  await dstate?.take();
  const origin = performance.timeOrigin + performance.now();
  const t0 = now();
  const c0 = cpuMs();
  const { value, stalls } = await watchStalls(work, { tickMs: TICK_MS });
  const result = { value, stalls, ms: now() - t0, cpuMs: cpuMs() - c0 };
  if (dstate) {
    const summary = await dstate.take();
    const at = (ms: number) => (performance.timeOrigin + ms - origin).toFixed(1);
    const gap = stalls.longest;
    process.stderr.write(
      `verify bench, kernel states during ${task} (ms after its start): the longest stall ` +
        `${gap.ms.toFixed(1)} ms, from +${at(gap.from)} to +${at(gap.to)}; the sampler: ` +
        `${formatDstate(summary, origin)}\n`,
    );
  }
  return result;
}

/** The round with the longest stall. */
function worst(rounds: Stalls[]): Stalls {
  return rounds.reduce((a, b) => (b.histogramMaxMs > a.histogramMaxMs ? b : a));
}

/** A stall row: the longest stall, and the GC pauses and CPU wait inside it. */
function stallRow(during: string, s: Stalls): BenchRow {
  const gap = s.longest;
  return {
    metric: `longest event-loop stall during ${during}`,
    ours: s.histogramMaxMs,
    unit: 'ms',
    note: `(the longest one seen by a ${s.tickMs} ms timer, ${gap.ms.toFixed(1)} ms, held GC ${gap.gcMs.toFixed(1)} ms; the main thread ran ${gap.runMs.toFixed(1)} ms of it, waited for a CPU ${gap.waitMs.toFixed(1)} ms, was off-CPU otherwise ${Math.max(0, gap.ms + s.tickMs - gap.runMs - gap.waitMs).toFixed(1)} ms; the task's GC pauses ${s.gcMs.toFixed(0)} ms in all, longest ${s.gcMaxMs.toFixed(1)} ms)`,
  };
}

function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

export async function run(): Promise<void> {
  const links = Number(process.env.VERIFY_LINKS ?? 1_000_000);
  const rounds = Number(process.env.VERIFY_ROUNDS ?? 3);
  const siteId = 'bench-verify-site';
  const t0 = now();
  const api = await startSyncBenchApi('verify', (dataDir) =>
    fillChain(join(dataDir, 'mdai.sqlite'), siteId, links),
  );
  const dstate = process.env.BENCH_DSTATE === '1' ? await DstateSampler.start() : undefined;
  try {
    const ledger = api.app.get(LedgerService);
    // an entry's key is its data's packetId (a link whose key copy is not its data's reads tampered)
    const markerId = randomUUID();
    // setup: one more link through the ledger seals the backlog into the tree (the server's
    // path, `TransparencyLogService.seal`) and starts the timesheet read model's catch-up
    const sealed = await watched(
      'the setup append that seals the chain',
      () =>
        ledger.append([
          {
            siteId,
            packetId: markerId,
            data: { kind: 'bench_marker', packetId: markerId },
            meta: { isOfflineSync: false, syncTimestamp: new Date().toISOString() },
          },
        ]),
      dstate,
    );
    const t1 = now();
    // the catch-up runs in the background, turning the loop: done before anything is timed
    const caughtUp = await watched(
      'the timesheet catch-up',
      () => api.app.get(TimesheetProjector).ensureReadable(siteId),
      dstate,
    );
    process.stderr.write(
      `verify bench: ${links} links filled and sealed in ${((t1 - t0) / 1000).toFixed(1)} s, ` +
        `timesheet catch-up ${((now() - t1) / 1000).toFixed(1)} s\n`,
    );
    const store = new SqliteStore(join(api.dataDir, 'mdai.sqlite'));
    const times = { verify: [] as number[], export: [] as number[], raw: [] as number[] };
    const cpu = { verify: [] as number[], export: [] as number[], raw: [] as number[] };
    const stalls = { verify: [] as Stalls[], export: [] as Stalls[] };
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) process.stderr.write('verify bench: run with --expose-gc for a full GC per task\n');
    const tasks = [
      async (round: number) => {
        const r = await watched(`verify, round ${round}`, () => ledger.verify(siteId), dstate);
        if (!r.value.ok || r.value.length !== links + 1)
          throw new Error(`verify: ${JSON.stringify(r.value)}`);
        times.verify.push(r.ms);
        cpu.verify.push(r.cpuMs);
        stalls.verify.push(r.stalls);
      },
      async (round: number) => {
        const r = await watched(
          `export, round ${round}`,
          async () => {
            let lines = 0;
            for await (const line of ledger.exportChain(siteId)) lines += line.length > 0 ? 1 : 0;
            return lines;
          },
          dstate,
        );
        if (r.value !== links + 1) throw new Error(`export: ${r.value} lines`);
        times.export.push(r.ms);
        cpu.export.push(r.cpuMs);
        stalls.export.push(r.stalls);
      },
      async (round: number) => {
        const r = await watched(
          `the raw walk, round ${round}`,
          async () => rawWalk(store, siteId),
          dstate,
        );
        if (r.value !== links + 1) throw new Error('raw walk: wrong length');
        times.raw.push(r.ms);
        cpu.raw.push(r.cpuMs);
      },
    ];
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < tasks.length; k++) {
        // the previous task's garbage is collected here, not inside the next one
        gc?.();
        await tasks[(r + k) % tasks.length](r + 1);
      }
    }
    store.db.close();
    const perLink = (ms: number) => (ms * 1000) / (links + 1);
    printRows(`Ledger verify and export (${links.toLocaleString('en')} links)`, [
      {
        metric: 'verify vs raw walk + SHA-256: µs per link (baseline / ours = speed ratio)',
        ours: perLink(median(times.verify)),
        baseline: perLink(median(times.raw)),
        unit: 'µs',
        note: `(speed ${(median(times.raw) / median(times.verify)).toFixed(2)}× the raw walk)`,
      },
      {
        metric: 'export vs raw walk + SHA-256: µs per link',
        ours: perLink(median(times.export)),
        baseline: perLink(median(times.raw)),
        unit: 'µs',
        note: `(speed ${(median(times.raw) / median(times.export)).toFixed(2)}× the raw walk)`,
      },
      {
        metric: 'verify vs raw walk: process CPU µs per link',
        ours: perLink(median(cpu.verify)),
        baseline: perLink(median(cpu.raw)),
        unit: 'µs',
        note: `(CPU speed ${(median(cpu.raw) / median(cpu.verify)).toFixed(2)}× the raw walk)`,
      },
      {
        metric: 'export vs raw walk: process CPU µs per link',
        ours: perLink(median(cpu.export)),
        baseline: perLink(median(cpu.raw)),
        unit: 'µs',
        note: `(CPU speed ${(median(cpu.raw) / median(cpu.export)).toFixed(2)}× the raw walk)`,
      },
      stallRow('verify (max of rounds)', worst(stalls.verify)),
      stallRow('export (max of rounds)', worst(stalls.export)),
      stallRow('the setup append that seals the chain (once)', sealed.stalls),
      stallRow('the timesheet catch-up over the chain (setup, once)', caughtUp.stalls),
      ...(['verify', 'export'] as const).map((task) => ({
        metric: `GC pauses during ${task}, summed per task (median of rounds)`,
        ours: median(stalls[task].map((x) => x.gcMs)),
        unit: 'ms',
        note: `(longest single pause ${Math.max(...stalls[task].map((x) => x.gcMaxMs)).toFixed(1)} ms)`,
      })),
    ]);
  } finally {
    await dstate?.stop();
    await api.close();
  }
}
