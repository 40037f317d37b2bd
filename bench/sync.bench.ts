/**
 * Offline sync throughput at two ledger sizes, each against raw inserts of the same rows.
 *
 * For each size (SYNC_LEDGER_LINKS, default 10,000 and 1,000,000 links) a data dir is filled
 * straight through better-sqlite3 (valid hash chains on 100 other sites, packets of 20,000
 * workers and devices, the ledger's own schema, indexes and triggers), then copied: the API
 * opens one copy, the baseline the other. The API runs in a child process
 * (`support/serve-api.ts`), so that its CPU is measured apart from this process's client. A
 * crew of phones at a new site then syncs one 500-packet batch each through `POST
 * /api/v5/sync` (token, JCS + HMAC, time window, trust, duplicates, the chain append, the seal
 * and receipts, the fraud rules, the timesheet read model), and the baseline inserts the same
 * 500 rows into its copy with one prepared INSERT in one `BEGIN IMMEDIATE` (same columns,
 * indexes, triggers and WAL settings; no HTTP, no checks, no hashing), in this process. Every
 * round runs all tasks (ours and baseline at each size) in a rotating order; the table shows
 * medians per batch. Request bodies are serialized before the clock starts; the answer is read
 * in full inside it.
 * Each round also has a concurrent round: SYNC_CONCURRENCY (default 4) phones' batches in
 * flight at once (their packet checks spread over the worker threads, the appends one after
 * another), against the baseline inserting the same rows, batch after batch. Beside wall
 * time: the server's CPU per batch, every thread of the API's process, read from
 * `/proc/<pid>/task/<tid>/schedstat` around each batch (and, coarser, `/proc/<pid>/stat`),
 * against the baseline process's CPU for its inserts: on a shared machine the steadier ratio.
 * The client's CPU (this process, building requests and reading answers) is shown apart. The
 * server's CPU is read SETTLE_MS after its answer (not timed): what it finishes after answering
 * counts for its batch, not for the next task (with BENCH_BEFORE_DIR, the other server's).
 * `FRAUD_HEAVY=1`: every packet a rapid repeat (all flagged). `SYNC_WARMUP=<n>`: untimed batches
 * per side first (default 1). Before its phones enrol, each side waits until its start-up sweep
 * has sealed the fill (`untilFillSealed`: the filled links are unsealed, and sealing 1M of them
 * in the background would otherwise be counted in the rounds' batches; `SYNC_SEAL_WAIT=0` skips
 * the wait).
 * The API runs as in production (NODE_ENV=production, its secrets from the environment;
 * `SYNC_NODE_ENV=test`: the test mode the runs before `perfsync` measured, whose guarded read
 * transactions expire every prepared statement: see `childModeEnv` in support/crew.ts).
 * `BENCH_BEFORE_DIR=<an older checkout>`: its API, on a third copy of the same fill, is
 * measured in the same rounds too (its own phones and batches), against the same baseline.
 * `BENCH_BEFORE_ENV=KEY=VALUE[,KEY=VALUE...]`: settings of that side's API only (e.g.
 * `BENCH_BEFORE_DIR=. BENCH_BEFORE_ENV=SYNC_VERIFY_WORKERS=0`: this checkout against itself
 * with another setting, in the same rounds).
 * WAL checkpoints: our API runs with its default (`SQLITE_CHECKPOINTS=worker`, a thread of its
 * own) and, on another copy, with `SQLITE_CHECKPOINTS=connection` (SQLite's automatic
 * checkpoint inside the commit that takes the WAL past 1,000 pages; `SYNC_BOTH_CHECKPOINTS=0`
 * leaves that side out). The raw-insert baseline checkpoints in its commits too (`connection`,
 * as the API did before the thread); a second one inserts the same rows into a copy with the
 * store's checkpoint thread, as a baseline of what the thread alone is worth.
 */
import Database from 'better-sqlite3';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { jcs, SECRETS_FILE, withLocalSecrets } from '@app/common';
import { LOCAL_SECRETS } from '@app/api/config/app-config';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { BenchRow, cpuMsSince, median, now, printRows } from './support';
import { writeLinks } from './support/chain';
import { enrollCrew, signedBatch, startSyncBenchChild, SyncBenchChild } from './support/crew';
import { mainThreadCpuMs, processCpuMs, threadsCpuMs, threadsCpuMsByTid } from './support/proc';
import { walPeakRows, WalPeaks, walPeaks } from './support/wal-peaks';

const BATCH_SIZE = 500;
const FILL_SITES = 100;
const FILL_PEOPLE = 20_000;
const SETTLE_MS = 30;
/**
 * Untimed batches per side before the rounds (default 1: the first batch opens the site's tree,
 * read model and caches). More of them take JIT warm-up out of the measure, for both sides.
 */
const WARMUP = Math.max(1, Number(process.env.SYNC_WARMUP ?? 1));

interface SignedBatch {
  /** `data`: the row the baseline inserts (the packet with its signature, as JCS text). */
  packets: { payload: Record<string, unknown>; signature: string; data?: string }[];
  body: string;
  token: string;
}

/** One API process (this checkout's, or BENCH_BEFORE_DIR's) on its own copy of the ledger. */
interface Side {
  name: 'ours' | 'before' | 'connection';
  api: SyncBenchChild;
  batches: SignedBatch[];
  /** Next unused batch (each batch is synced once; ours' are inserted once into the baseline). */
  next: number;
  /** Per single batch: wall ms; the server's CPU ms (all its threads), fine and in ticks. */
  wall: number[];
  cpu: number[];
  cpuTicks: number[];
  /** Per single batch: the server's main thread's CPU ms (the event loop's share of `cpu`). */
  mainCpu: number[];
  /**
   * Summed over the single batches, each thread's CPU ms (by thread id, with its name): which of
   * the process's threads the batch's CPU lands on (main, the append and checkpoint threads, the
   * packet checks, libuv's pool, V8's GC helpers).
   */
  byThread: Map<number, { name: string; ms: number }>;
  /** Per single batch: this process's CPU ms (the client's: requests out, answers read). */
  clientCpu: number[];
  /** Per concurrent round of CONCURRENCY batches: wall ms, and the server's CPU ms per batch. */
  concurrent: number[];
  concurrentCpu: number[];
  concurrentMainCpu: number[];
  /** The server's event-loop delay over all timed rounds (ms): what held its loop, CPU or a wait. */
  eventLoopDelay?: { p50: number; p99: number; max: number };
  /** The WAL's peaks over the server's life (its /metrics; none without a checkpoint thread). */
  walPeaks?: WalPeaks;
}

interface Rig {
  links: number;
  ours: Side;
  before?: Side;
  /** Our API with SQLITE_CHECKPOINTS=connection (its own phones and batches). */
  connection?: Side;
  baseline: Database.Database;
  insertBatch: (packets: SignedBatch['packets']) => void;
  /** The same raw inserts into a copy with the store's checkpoint thread. */
  threadStore: SqliteStore;
  insertBatchThread: (packets: SignedBatch['packets']) => void;
  rawThread: number[];
  rawThreadConcurrent: number[];
  /** Per single batch: wall ms, and process CPU ms (this process: the inserts only). */
  raw: number[];
  rawCpu: number[];
  /** Per concurrent round of CONCURRENCY batches: wall ms. */
  rawConcurrent: number[];
}

/** `links` valid links on FILL_SITES sites, written straight into a new ledger file. */
function fillLedger(path: string, links: number): void {
  const start = Date.now() - 6 * 86_400_000;
  const step = Math.max(1, Math.floor((5 * 86_400_000) / Math.max(1, links)));
  writeLinks(
    path,
    links,
    (i) => {
      const person = (i * 7919) % FILL_PEOPLE;
      return {
        siteId: `fill-site-${i % FILL_SITES}`,
        workerId: `fill-worker-${person}`,
        deviceId: `fill-device-${person}`,
        at: start + i * step,
      };
    },
    { indexesAfter: true },
  );
}

async function sideFor(
  name: Side['name'],
  links: number,
  dataDir: string,
  batchCount: number,
  fraudHeavy: boolean,
  root?: string,
  env?: Record<string, string>,
): Promise<Side> {
  const api = await startSyncBenchChild(`sync-${links}`, dataDir, root, env);
  try {
    // SYNC_SEAL_WAIT=0: the rounds start with the sweep still sealing (as before the wait)
    if (process.env.SYNC_SEAL_WAIT !== '0') await untilFillSealed(name, api, links);
    const phones = await enrollCrew(api, batchCount + WARMUP);
    const batches = phones.map((phone) => {
      const { packets, token } = signedBatch(phone, api.siteId, BATCH_SIZE, fraudHeavy);
      return { packets, token, body: JSON.stringify({ packets }) };
    });
    const side: Side = {
      name,
      api,
      batches,
      next: 0,
      wall: [],
      cpu: [],
      cpuTicks: [],
      mainCpu: [],
      byThread: new Map(),
      concurrentMainCpu: [],
      clientCpu: [],
      concurrent: [],
      concurrentCpu: [],
    };
    // warm-up (not timed): the first batch opens the site's tree, read model and caches
    for (let i = 0; i < WARMUP; i++) await syncOnce(side, batches.pop()!);
    return side;
  } catch (error) {
    await api.close();
    throw error;
  }
}

/** Give up on the start-up sweep after this long without a fill site's checkpoint moving. */
const SEAL_STALL_MS = 60_000;

/**
 * Waits until the API's start-up sweep (`UnsealedTailSweep`) has sealed the fill's sites: the
 * filled links stand for links the server wrote and never sealed, so an API started on them seals
 * every fill site in the background (at 1M links, ~1M leaves authenticated and ~2M node rows
 * written), which would otherwise run through the warm-up and the timed rounds and be counted in
 * their batches. Polls the side's file (read-only) for each fill site's newest checkpoint against
 * its head; gives up when no checkpoint moved for SEAL_STALL_MS (an older checkout with no
 * sweep). Prints how long it took and what the API's threads spent meanwhile.
 */
async function untilFillSealed(
  name: Side['name'],
  api: SyncBenchChild,
  links: number,
): Promise<void> {
  const pid = api.child.proc.pid!;
  const t0 = now();
  const cpu0 = threadsCpuMs(pid);
  const main0 = mainThreadCpuMs(pid);
  const db = new Database(join(api.dataDir, 'mdai.sqlite'), { readonly: true });
  try {
    const headOf = db.prepare<[string], { n: number }>(
      'SELECT COALESCE(MAX(seq), 0) AS n FROM attendance_logs WHERE site_id = ?',
    );
    const heads = new Map<string, number>();
    for (let k = 0; k < Math.min(FILL_SITES, links); k++) {
      const site = `fill-site-${k}`;
      heads.set(site, headOf.get(site)!.n);
    }
    const sealed = db.prepare<[], { origin: string; size: number }>(
      `SELECT l.origin AS origin, MAX(c.size) AS size
         FROM tlog_logs l JOIN tlog_checkpoints c ON c.log_id = l.id GROUP BY l.id`,
    );
    let last = '';
    let movedAt = now();
    for (;;) {
      const sizes = new Map<string, number>();
      for (const { origin, size } of sealed.all()) {
        const at = origin.lastIndexOf('/ledger/');
        if (at >= 0) sizes.set(origin.slice(at + '/ledger/'.length), size);
      }
      const left = [...heads].filter(([site, head]) => (sizes.get(site) ?? 0) < head).length;
      const seen = [...heads.keys()].map((site) => sizes.get(site) ?? 0).join(',');
      if (seen !== last) {
        last = seen;
        movedAt = now();
      }
      if (left === 0 || now() - movedAt > SEAL_STALL_MS) {
        process.stderr.write(
          `sync bench: ${name} at ${links} links: ${left === 0 ? 'the fill sealed by the start-up sweep' : `${left} fill sites still unsealed (no sweep?)`} after ${((now() - t0) / 1000).toFixed(1)} s, the API's CPU meanwhile ${(threadsCpuMs(pid) - cpu0).toFixed(0)} ms (main thread ${(mainThreadCpuMs(pid) - main0).toFixed(0)} ms)\n`,
        );
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    db.close();
  }
}

/** `BENCH_BEFORE_ENV`'s settings (`KEY=VALUE`, comma-separated), for the "before" side only. */
function beforeEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of (process.env.BENCH_BEFORE_ENV ?? '').split(',').filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`BENCH_BEFORE_ENV: ${pair} is not KEY=VALUE`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

async function rigFor(
  links: number,
  rounds: number,
  concurrency: number,
  fraudHeavy: boolean,
): Promise<Rig> {
  const t0 = now();
  const dataDir = mkdtempSync(join(tmpdir(), `mdai-bench-sync-${links}-`));
  // the store's secrets, generated as the API does for a new store (before its file exists): a
  // store file without them is refused at boot (a backup restored without its keys)
  withLocalSecrets({}, dataDir, false, LOCAL_SECRETS);
  fillLedger(join(dataDir, 'mdai.sqlite'), links);
  const copyStore = (dir: string) => {
    copyFileSync(join(dataDir, 'mdai.sqlite'), join(dir, 'mdai.sqlite'));
    copyFileSync(join(dataDir, SECRETS_FILE), join(dir, SECRETS_FILE));
  };
  copyFileSync(join(dataDir, 'mdai.sqlite'), join(dataDir, 'baseline.sqlite'));
  copyFileSync(join(dataDir, 'mdai.sqlite'), join(dataDir, 'baseline-thread.sqlite'));
  const connectionDir =
    process.env.SYNC_BOTH_CHECKPOINTS !== '0'
      ? mkdtempSync(join(tmpdir(), `mdai-bench-sync-${links}-connection-`))
      : undefined;
  if (connectionDir) copyStore(connectionDir);
  const beforeRoot = process.env.BENCH_BEFORE_DIR;
  const beforeDir = beforeRoot
    ? mkdtempSync(join(tmpdir(), `mdai-bench-sync-${links}-before-`))
    : undefined;
  if (beforeDir) copyStore(beforeDir);
  process.stderr.write(
    `sync bench: ${links} links filled in ${((now() - t0) / 1000).toFixed(1)} s\n`,
  );
  const batchCount = rounds * (1 + concurrency);
  const ours = await sideFor('ours', links, dataDir, batchCount, fraudHeavy);
  const before = beforeDir
    ? await sideFor(
        'before',
        links,
        beforeDir,
        batchCount,
        fraudHeavy,
        beforeRoot,
        beforeEnv(),
      ).catch(async (error) => {
        await ours.api.close();
        throw error;
      })
    : undefined;
  const connection = connectionDir
    ? await sideFor('connection', links, connectionDir, batchCount, fraudHeavy, undefined, {
        SQLITE_CHECKPOINTS: 'connection',
      }).catch(async (error) => {
        await ours.api.close();
        await before?.api.close();
        throw error;
      })
    : undefined;
  // opened as the API opens its file: the same pragmas (WAL, synchronous, cache); checkpoints
  // in the commits, as SQLite does by itself
  const baseline = new SqliteStore(join(dataDir, 'baseline.sqlite'), {
    checkpoints: 'connection',
  }).db;
  const threadStore = new SqliteStore(join(dataDir, 'baseline-thread.sqlite'), {
    checkpoints: 'worker',
  });
  const insertSql =
    'INSERT INTO attendance_logs (site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
  const insert = baseline.prepare(insertSql);
  const insertThread = threadStore.db.prepare(insertSql);
  const meta = jcs({
    isOfflineSync: true,
    syncTimestamp: new Date().toISOString(),
    deviceTrustScore: 80,
  });
  const hash = 'a'.repeat(64);
  let seq = 0;
  const insertBatch = baseline.transaction((packets: SignedBatch['packets']) => {
    for (const p of packets) {
      seq += 1;
      insert.run(
        ours.api.siteId,
        seq,
        p.payload.packetId,
        p.payload.deviceId,
        hash,
        hash,
        p.data,
        meta,
      );
    }
  });
  let seqThread = 0;
  const insertBatchThread = threadStore.db.transaction((packets: SignedBatch['packets']) => {
    for (const p of packets) {
      seqThread += 1;
      insertThread.run(
        ours.api.siteId,
        seqThread,
        p.payload.packetId,
        p.payload.deviceId,
        hash,
        hash,
        p.data,
        meta,
      );
    }
  });
  // the same rows as the baseline inserts: the packet with its signature, as JCS text
  for (const b of ours.batches) {
    for (const p of b.packets)
      (p as { data?: string }).data = jcs({ ...p.payload, signature: p.signature });
  }
  for (let i = 0; i < WARMUP; i++) insertBatch.immediate(warmRows(BATCH_SIZE));
  for (let i = 0; i < WARMUP; i++) insertBatchThread.immediate(warmRows(BATCH_SIZE));
  return {
    links,
    ours,
    before,
    connection,
    baseline,
    insertBatch: (packets) => insertBatch.immediate(packets),
    threadStore,
    insertBatchThread: (packets) => insertBatchThread.immediate(packets),
    rawThread: [],
    rawThreadConcurrent: [],
    raw: [],
    rawCpu: [],
    rawConcurrent: [],
  };
}

/** Rows for the baseline's warm-up, not in any batch. */
function warmRows(size: number): SignedBatch['packets'] {
  return Array.from({ length: size }, () => {
    const payload = { packetId: randomUUID(), deviceId: 'bench-warm-device' };
    return { payload, signature: '', data: jcs(payload) };
  });
}

async function syncOnce(side: Side, batch: SignedBatch): Promise<number> {
  const t0 = now();
  const res = await fetch(`${side.api.base}/api/v5/sync`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${batch.token}` },
    body: batch.body,
  });
  const text = await res.text();
  const ms = now() - t0;
  const answer = JSON.parse(text) as { accepted?: number };
  if (answer.accepted !== BATCH_SIZE) throw new Error(`batch not accepted: ${text.slice(0, 300)}`);
  return ms;
}

/**
 * Not timed: after the raw inserts with the checkpoint thread, until that thread (in this
 * process) has copied what they wrote (a report with every frame copied, or 500 ms), so its
 * work does not land in the next task's measure (on two cores, beside the server measured).
 */
async function checkpointsDone(store: SqliteStore): Promise<void> {
  const checkpointer = store.checkpointer!;
  const seen = checkpointer.status().frames;
  const deadline = now() + 500;
  while (now() < deadline) {
    const frames = checkpointer.status().frames;
    if (frames !== seen && frames && frames.checkpointed === frames.log) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A pause after a batch, before its server's CPU is read (see the tasks). */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
}

/**
 * `BENCH_CPU_PROFILE=<file>`: a V8 CPU profile of our API process (the child) in the timed
 * rounds only (open it in Chrome DevTools), to see where the time goes.
 * `BENCH_HEAP_PROFILE=<file>` instead: a sampling heap profile of its main thread over the same
 * rounds, collected objects included (what the batch allocates, by where).
 */
async function startProfile(side: Side): Promise<{ stop(): Promise<void> }> {
  const heap = process.env.BENCH_HEAP_PROFILE;
  const file = heap ?? process.env.BENCH_CPU_PROFILE;
  if (!file) return { stop: async () => undefined };
  const kind = heap ? 'heap-profile' : 'profile';
  side.api.child.send(`${kind}-start`);
  await side.api.child.expect('PROFILING', 30_000);
  return {
    stop: async () => {
      side.api.child.send(`${kind}-stop ${resolve(file)}`);
      await side.api.child.expect('PROFILED', 60_000);
    },
  };
}

export async function run(): Promise<void> {
  const sizes = (process.env.SYNC_LEDGER_LINKS ?? '10000,1000000').split(',').map(Number);
  const rounds = Number(process.env.SYNC_ROUNDS ?? 15);
  const concurrency = Number(process.env.SYNC_CONCURRENCY ?? 4);
  const fraudHeavy = process.env.FRAUD_HEAVY === '1';
  const rigs: Rig[] = [];
  try {
    for (const links of sizes) rigs.push(await rigFor(links, rounds, concurrency, fraudHeavy));
    const take = (side: Side, n: number) => side.batches.slice(side.next, (side.next += n));
    const tasks = rigs.flatMap((rig) => {
      // ours and the baselines take the same batches: whichever comes first in a round takes new
      // ones and leaves them to the others (the order rotates); "before" and "connection" have
      // batches of their own
      const leftFor = {
        ours: [] as SignedBatch[][],
        raw: [] as SignedBatch[][],
        rawThread: [] as SignedBatch[][],
      };
      const batchesFor = (who: keyof typeof leftFor, n: number): SignedBatch[] => {
        const left = leftFor[who].findIndex((b) => b.length === n);
        if (left >= 0) return leftFor[who].splice(left, 1)[0];
        const fresh = take(rig.ours, n);
        for (const other of Object.keys(leftFor) as (keyof typeof leftFor)[])
          if (other !== who) leftFor[other].push(fresh);
        return fresh;
      };
      const sideTasks = (side: Side, batches: (n: number) => SignedBatch[]) => {
        const pid = side.api.child.proc.pid!;
        return [
          async () => {
            const [batch] = batches(1);
            const client = process.cpuUsage();
            const [cpu0, ticks0, main0, byThread0] = [
              threadsCpuMs(pid),
              processCpuMs(pid),
              mainThreadCpuMs(pid),
              threadsCpuMsByTid(pid),
            ];
            side.wall.push(await syncOnce(side, batch));
            // work the server finishes after its answer (GC, the witness file's write) is the
            // batch's too, and must not land in the next task's measure (another process's)
            await settle();
            side.cpu.push(threadsCpuMs(pid) - cpu0);
            side.mainCpu.push(mainThreadCpuMs(pid) - main0);
            side.cpuTicks.push(processCpuMs(pid) - ticks0);
            for (const [tid, { name, ms }] of threadsCpuMsByTid(pid)) {
              const sum = side.byThread.get(tid) ?? { name, ms: 0 };
              sum.ms += ms - (byThread0.get(tid)?.ms ?? 0);
              side.byThread.set(tid, sum);
            }
            side.clientCpu.push(cpuMsSince(client));
          },
          async () => {
            const several = batches(concurrency);
            const [cpu0, main0] = [threadsCpuMs(pid), mainThreadCpuMs(pid)];
            const t0 = now();
            await Promise.all(several.map((batch) => syncOnce(side, batch)));
            side.concurrent.push(now() - t0);
            await settle();
            side.concurrentCpu.push((threadsCpuMs(pid) - cpu0) / concurrency);
            side.concurrentMainCpu.push((mainThreadCpuMs(pid) - main0) / concurrency);
          },
        ];
      };
      const [oursSingle, oursConcurrent] = sideTasks(rig.ours, (n) => batchesFor('ours', n));
      const before = rig.before;
      const [beforeSingle, beforeConcurrent] = before
        ? sideTasks(before, (n) => take(before, n))
        : [];
      const connection = rig.connection;
      const [connectionSingle, connectionConcurrent] = connection
        ? sideTasks(connection, (n) => take(connection, n))
        : [];
      return [
        oursSingle,
        async () => {
          const [batch] = batchesFor('raw', 1);
          const cpu = process.cpuUsage();
          const t0 = now();
          rig.insertBatch(batch.packets);
          rig.raw.push(now() - t0);
          rig.rawCpu.push(cpuMsSince(cpu));
        },
        ...(beforeSingle ? [beforeSingle] : []),
        ...(connectionSingle ? [connectionSingle] : []),
        async () => {
          // the raw batch's rows again, into the copy with the checkpoint thread
          const [batch] = batchesFor('rawThread', 1);
          const t0 = now();
          rig.insertBatchThread(batch.packets);
          rig.rawThread.push(now() - t0);
          await checkpointsDone(rig.threadStore);
        },
        oursConcurrent,
        async () => {
          const several = batchesFor('raw', concurrency);
          const t0 = now();
          for (const batch of several) rig.insertBatch(batch.packets);
          rig.rawConcurrent.push(now() - t0);
        },
        ...(beforeConcurrent ? [beforeConcurrent] : []),
        ...(connectionConcurrent ? [connectionConcurrent] : []),
        async () => {
          const several = batchesFor('rawThread', concurrency);
          const t0 = now();
          for (const batch of several) rig.insertBatchThread(batch.packets);
          rig.rawThreadConcurrent.push(now() - t0);
          await checkpointsDone(rig.threadStore);
        },
      ];
    });
    const profile = await startProfile(rigs[0].ours);
    const servers = rigs.flatMap((rig) =>
      [rig.ours, rig.before, rig.connection].filter((s): s is Side => s !== undefined),
    );
    for (const side of servers) {
      side.api.child.send('eld-start');
      await side.api.child.expect('ELD-STARTED', 30_000);
    }
    for (let r = 0; r < rounds; r++) {
      // rotate the order each round, so a periodic cost (GC, WAL checkpoints) lands everywhere
      for (let k = 0; k < tasks.length; k++) await tasks[(r + k) % tasks.length]();
    }
    const linksOf = new Map<Side, number>();
    for (const rig of rigs)
      for (const side of [rig.ours, rig.before, rig.connection])
        if (side) linksOf.set(side, rig.links);
    for (const side of servers) {
      side.api.child.send('eld-stop');
      const eld = await side.api.child.expect('ELD ', 30_000);
      side.eventLoopDelay = JSON.parse(eld);
      // the GC counts by kind (1 scavenge, 2 mark-compact, 4 incremental marking, 8 weak callbacks)
      process.stderr.write(
        `sync bench: ${side.name} at ${linksOf.get(side)} links, over the rounds: ${eld}\n`,
      );
      side.walPeaks = await walPeaks(side.api.base);
    }
    await profile.stop();
    const rows = rigs.flatMap((rig) => {
      const at = `at ${rig.links.toLocaleString('en')} links`;
      const raw = median(rig.raw);
      const sideRows = (side: Side, label: string): BenchRow[] => [
        {
          metric: `${label}packets/s ${at}, median of ${rounds} batches of ${BATCH_SIZE}, sync vs raw inserts`,
          ours: (BATCH_SIZE * 1000) / median(side.wall),
          baseline: (BATCH_SIZE * 1000) / raw,
          unit: 'pkt/s',
        },
        {
          metric: `${label}ms per batch ${at}`,
          ours: median(side.wall),
          baseline: raw,
          unit: 'ms',
        },
        {
          metric: `${label}server CPU ms per batch ${at} (the API process's threads, schedstat; raw: the inserting process)`,
          ours: median(side.cpu),
          baseline: median(rig.rawCpu),
          unit: 'ms',
        },
        {
          metric: `${label}server main-thread CPU ms per batch ${at} (the event loop's thread alone, schedstat)`,
          ours: median(side.mainCpu),
          unit: 'ms',
        },
        {
          metric: `${label}the same from /proc/<pid>/stat (utime + stime, 10 ms ticks: mean, not median)`,
          ours: side.cpuTicks.reduce((a, b) => a + b, 0) / side.cpuTicks.length,
          baseline: rig.rawCpu.reduce((a, b) => a + b, 0) / rig.rawCpu.length,
          unit: 'ms',
        },
        {
          metric: `${label}the bench client's CPU ms per batch ${at} (request out, answer read; not the server's)`,
          ours: median(side.clientCpu),
          unit: 'ms',
        },
        {
          metric: `${label}packets/s ${at}, ${concurrency} phones' batches in flight at once, sync vs raw inserts of the same rows`,
          ours: (concurrency * BATCH_SIZE * 1000) / median(side.concurrent),
          baseline: (concurrency * BATCH_SIZE * 1000) / median(rig.rawConcurrent),
          unit: 'pkt/s',
        },
        {
          metric: `${label}server CPU ms per batch ${at}, ${concurrency} in flight (vs raw inserts, one at a time)`,
          ours: median(side.concurrentCpu),
          baseline: median(rig.rawCpu),
          unit: 'ms',
        },
        {
          metric: `${label}the server's main thread CPU ms per batch ${at}, ${concurrency} in flight`,
          ours: median(side.concurrentMainCpu),
          baseline: median(rig.rawCpu),
          unit: 'ms',
        },
        {
          metric: `${label}the server's event-loop delay over the timed rounds ${at}: p99 (a 1 ms histogram; what held the loop, CPU or a lock wait)`,
          ours: side.eventLoopDelay?.p99 ?? NaN,
          unit: 'ms',
        },
        {
          metric: `${label}the same, the longest`,
          ours: side.eventLoopDelay?.max ?? NaN,
          unit: 'ms',
        },
        // the threads that took at least 0.1 ms a batch, in the order they were started
        ...[...side.byThread]
          .sort(([a], [b]) => a - b)
          .filter(([, { ms }]) => ms / side.wall.length >= 0.1)
          .map(([tid, { name, ms }]) => ({
            metric: `${label}  thread ${name} (${tid === side.api.child.proc.pid ? 'main' : `#${tid}`}): CPU ms per batch ${at}, one at a time (mean)`,
            ours: ms / side.wall.length,
            unit: 'ms',
          })),
        ...walPeakRows(
          (what) =>
            `${label}${what} ${at}, over the server's run (enrolment, warm-up, rounds), vs the backstop`,
          side.walPeaks ? [side.walPeaks] : [],
        ),
      ];
      return [
        ...sideRows(rig.ours, ''),
        ...(rig.before
          ? sideRows(
              rig.before,
              `before (BENCH_BEFORE_DIR${process.env.BENCH_BEFORE_ENV ? `, ${process.env.BENCH_BEFORE_ENV}` : ''}): `,
            )
          : []),
        ...(rig.connection
          ? sideRows(rig.connection, 'ours with SQLITE_CHECKPOINTS=connection: ')
          : []),
        {
          metric: `raw inserts packets/s ${at}, one batch at a time: with the checkpoint thread vs checkpoints in the commits (the baseline above)`,
          ours: (BATCH_SIZE * 1000) / median(rig.rawThread),
          baseline: (BATCH_SIZE * 1000) / raw,
          unit: 'pkt/s',
        },
        {
          metric: `raw inserts packets/s ${at}, ${concurrency} batches back to back: with the checkpoint thread vs checkpoints in the commits`,
          ours: (concurrency * BATCH_SIZE * 1000) / median(rig.rawThreadConcurrent),
          baseline: (concurrency * BATCH_SIZE * 1000) / median(rig.rawConcurrent),
          unit: 'pkt/s',
        },
      ];
    });
    if (rigs.length >= 2) {
      const [first, last] = [rigs[0], rigs[rigs.length - 1]];
      const sizes = `${last.links.toLocaleString('en')} vs ${first.links.toLocaleString('en')} links`;
      rows.push(
        {
          metric: `cost per batch growth, ${sizes} (ours vs raw inserts)`,
          ours: median(last.ours.wall) / median(first.ours.wall),
          baseline: median(last.raw) / median(first.raw),
          unit: '×',
        },
        {
          metric: `server CPU per batch growth, ${sizes} (ours vs raw inserts)`,
          ours: median(last.ours.cpu) / median(first.ours.cpu),
          baseline: median(last.rawCpu) / median(first.rawCpu),
          unit: '×',
        },
        {
          metric: `cost per concurrent round growth, ${sizes} (ours vs raw inserts)`,
          ours: median(last.ours.concurrent) / median(first.ours.concurrent),
          baseline: median(last.rawConcurrent) / median(first.rawConcurrent),
          unit: '×',
        },
      );
    }
    printRows(fraudHeavy ? 'Offline sync (every packet flagged)' : 'Offline sync', rows);
  } finally {
    for (const rig of rigs) {
      rig.baseline.close();
      await rig.threadStore.close();
      await rig.ours.api.close();
      await rig.before?.api.close();
      await rig.connection?.api.close();
    }
  }
}
