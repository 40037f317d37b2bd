/**
 * Offline sync throughput at two ledger sizes, each against raw inserts of the same rows.
 *
 * For each size (SYNC_LEDGER_LINKS, default 10,000 and 1,000,000 links) a data dir is filled
 * straight through better-sqlite3 (valid hash chains on 100 other sites, packets of 20,000
 * workers and devices, the ledger's own schema, indexes and triggers), then copied: the API
 * opens one copy, the baseline the other. A crew of phones at a new site then syncs one
 * 500-packet batch each through `POST /api/v5/sync` (token, JCS + HMAC, time window, trust,
 * duplicates, the chain append, the seal and receipts, the fraud rules, the timesheet read
 * model), and the baseline inserts the same 500 rows into its copy with one prepared INSERT
 * in one `BEGIN IMMEDIATE` (same columns, indexes, triggers and WAL settings; no HTTP, no
 * checks, no hashing). Every round runs all four (ours and baseline at each size) in a
 * rotating order; the table shows medians per batch. Request bodies are serialized before
 * the clock starts; the answer is read in full inside it.
 * Each round also has a concurrent round: SYNC_CONCURRENCY (default 4) phones' batches in
 * flight at once (their packet checks spread over the worker threads, the appends one after
 * another), against the baseline inserting the same rows, batch after batch. Beside wall
 * time, the process CPU time (every thread) per batch is shown, ours against the baseline's:
 * on a shared machine the steadier ratio.
 * `FRAUD_HEAVY=1`: every packet a rapid repeat (all flagged).
 */
import type Database from 'better-sqlite3';
import { copyFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { jcs } from '@app/common';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { EMPTY_HEAD, linkAfter } from '@app/offline-sync/domain/attendance-log';
import { AttendanceLogSqliteMapper } from '@app/offline-sync/infrastructure/persistence/sqlite/mappers/attendance-log.mapper';
import { LEDGER_SQLITE_MIGRATIONS } from '@app/offline-sync/infrastructure/persistence/sqlite/sqlite-ledger.migrations';
import { cpuMsSince, median, now, printRows } from './support';
import { enrollCrew, signedBatch, startSyncBenchApi, SyncBenchApi } from './support/crew';

const BATCH_SIZE = 500;
const FILL_SITES = 100;
const FILL_PEOPLE = 20_000;

interface SignedBatch {
  /** `data`: the row the baseline inserts (the packet with its signature, as JCS text). */
  packets: { payload: Record<string, unknown>; signature: string; data?: string }[];
  body: string;
  token: string;
}

interface Rig {
  links: number;
  api: SyncBenchApi;
  batches: SignedBatch[];
  baseline: Database.Database;
  insertBatch: (packets: SignedBatch['packets']) => void;
  /** Next unused batch (each batch is synced once, and inserted once into the baseline). */
  next: number;
  /** Per single batch: wall ms, and process CPU ms (all threads). */
  ours: number[];
  raw: number[];
  oursCpu: number[];
  rawCpu: number[];
  /** Per concurrent round of CONCURRENCY batches: wall ms. */
  oursConcurrent: number[];
  rawConcurrent: number[];
}

/** `links` valid links on FILL_SITES sites, written straight into a new ledger file. */
function fillLedger(path: string, links: number): void {
  const store = new SqliteStore(path);
  store.migrate('offline-sync.ledger', LEDGER_SQLITE_MIGRATIONS);
  store.db.pragma('synchronous = OFF');
  const insert = store.db.prepare(
    `INSERT INTO attendance_logs (site_id, seq, packet_id, prev_hash, record_hash, data, meta)
     VALUES (@site_id, @seq, @packet_id, @prev_hash, @record_hash, @data, @meta)`,
  );
  const heads = new Map<string, { seq: number; recordHash: string }>();
  const meta = {
    isOfflineSync: true,
    syncTimestamp: new Date().toISOString(),
    deviceTrustScore: 80,
  };
  const start = Date.now() - 6 * 86_400_000;
  const step = Math.max(1, Math.floor((5 * 86_400_000) / Math.max(1, links)));
  const fill = store.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const siteId = `fill-site-${i % FILL_SITES}`;
      const person = (i * 7919) % FILL_PEOPLE;
      const data = {
        packetId: randomUUID(),
        workerId: `fill-worker-${person}`,
        siteId,
        deviceId: `fill-device-${person}`,
        type: i % 2 === 0 ? 'check_in' : 'check_out',
        timestamp: new Date(start + i * step).toISOString(),
        geo: { lat: 1.00001, lng: 1.00002, accuracyM: 5 },
        signature: 'ab'.repeat(32),
      } as const;
      const log = linkAfter(heads.get(siteId) ?? EMPTY_HEAD, {
        siteId,
        packetId: data.packetId,
        data,
        meta,
      });
      insert.run(AttendanceLogSqliteMapper.toPersistence(log));
      heads.set(siteId, { seq: log.seq, recordHash: log.recordHash });
    }
  });
  // the expression indexes are built once after the rows (much faster than row by row), from
  // their own definitions, so the file ends up with exactly the ledger's schema
  const indexes = store.db
    .prepare<[], { name: string; sql: string }>(
      "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'attendance_logs' AND sql IS NOT NULL",
    )
    .all();
  for (const index of indexes) store.db.exec(`DROP INDEX ${index.name}`);
  for (let i = 0; i < links; i += 50_000) fill(i, Math.min(links, i + 50_000));
  for (const index of indexes) store.db.exec(index.sql);
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.db.close();
}

async function rigFor(
  links: number,
  rounds: number,
  concurrency: number,
  fraudHeavy: boolean,
): Promise<Rig> {
  const t0 = now();
  const api = await startSyncBenchApi(`sync-${links}`, (dataDir) => {
    fillLedger(join(dataDir, 'mdai.sqlite'), links);
    copyFileSync(join(dataDir, 'mdai.sqlite'), join(dataDir, 'baseline.sqlite'));
  });
  process.stderr.write(
    `sync bench: ${links} links filled in ${((now() - t0) / 1000).toFixed(1)} s\n`,
  );
  const phones = await enrollCrew(api, rounds * (1 + concurrency) + 1);
  const batches = phones.map((phone) => {
    const { packets, token } = signedBatch(phone, api.siteId, BATCH_SIZE, fraudHeavy);
    return { packets, token, body: JSON.stringify({ packets }) };
  });
  // opened as the API opens its file: the same pragmas (WAL, synchronous, cache)
  const baseline = new SqliteStore(join(api.dataDir, 'baseline.sqlite')).db;
  const insert = baseline.prepare(
    'INSERT INTO attendance_logs (site_id, seq, packet_id, prev_hash, record_hash, data, meta) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
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
      insert.run(api.siteId, seq, p.payload.packetId, hash, hash, p.data, meta);
    }
  });
  const rig: Rig = {
    links,
    api,
    batches,
    baseline,
    insertBatch: (packets) => insertBatch.immediate(packets),
    next: 0,
    ours: [],
    raw: [],
    oursCpu: [],
    rawCpu: [],
    oursConcurrent: [],
    rawConcurrent: [],
  };
  // the same rows as the baseline inserts: the packet with its signature, as JCS text
  for (const b of batches) {
    for (const p of b.packets)
      (p as { data?: string }).data = jcs({ ...p.payload, signature: p.signature });
  }
  // warm-up (not timed): the first batch opens the site's tree, read model and caches
  await syncOnce(rig, batches.pop()!);
  insertBatch.immediate(warmRows(BATCH_SIZE));
  return rig;
}

/** Rows for the baseline's warm-up, not in any batch. */
function warmRows(size: number): SignedBatch['packets'] {
  return Array.from({ length: size }, () => {
    const payload = { packetId: randomUUID() };
    return { payload, signature: '', data: jcs(payload) };
  });
}

async function syncOnce(rig: Rig, batch: SignedBatch): Promise<number> {
  const t0 = now();
  const res = await fetch(`${rig.api.base}/api/v5/sync`, {
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
 * `BENCH_CPU_PROFILE=<file>`: a V8 CPU profile of the timed rounds only (open it in Chrome
 * DevTools), to see where the time goes.
 */
async function startProfile(): Promise<{ stop(): Promise<void> }> {
  const file = process.env.BENCH_CPU_PROFILE;
  if (!file) return { stop: async () => undefined };
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  return {
    stop: async () => {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
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
    // ours and the baseline take the same batches: whichever comes first in a round takes new
    // ones and leaves them to the other (the order rotates)
    const take = (rig: Rig, n: number) => rig.batches.slice(rig.next, (rig.next += n));
    const tasks = rigs.flatMap((rig) => {
      const leftFor = { ours: [] as SignedBatch[][], raw: [] as SignedBatch[][] };
      const batchesFor = (side: 'ours' | 'raw', n: number): SignedBatch[] => {
        const left = leftFor[side].findIndex((b) => b.length === n);
        if (left >= 0) return leftFor[side].splice(left, 1)[0];
        const fresh = take(rig, n);
        leftFor[side === 'ours' ? 'raw' : 'ours'].push(fresh);
        return fresh;
      };
      const single = (side: 'ours' | 'raw') => batchesFor(side, 1)[0];
      const several = (side: 'ours' | 'raw') => batchesFor(side, concurrency);
      return [
        async () => {
          const batch = single('ours');
          const cpu = process.cpuUsage();
          rig.ours.push(await syncOnce(rig, batch));
          rig.oursCpu.push(cpuMsSince(cpu));
        },
        async () => {
          const batch = single('raw');
          const cpu = process.cpuUsage();
          const t0 = now();
          rig.insertBatch(batch.packets);
          rig.raw.push(now() - t0);
          rig.rawCpu.push(cpuMsSince(cpu));
        },
        async () => {
          const batches = several('ours');
          const t0 = now();
          await Promise.all(batches.map((batch) => syncOnce(rig, batch)));
          rig.oursConcurrent.push(now() - t0);
        },
        async () => {
          const batches = several('raw');
          const t0 = now();
          for (const batch of batches) rig.insertBatch(batch.packets);
          rig.rawConcurrent.push(now() - t0);
        },
      ];
    });
    const profile = await startProfile();
    for (let r = 0; r < rounds; r++) {
      // rotate the order each round, so a periodic cost (GC, WAL checkpoints) lands everywhere
      for (let k = 0; k < tasks.length; k++) await tasks[(r + k) % tasks.length]();
    }
    await profile.stop();
    const rows = rigs.flatMap((rig) => {
      const ours = median(rig.ours);
      const raw = median(rig.raw);
      return [
        {
          metric: `packets/s at ${rig.links.toLocaleString('en')} links, median of ${rounds} batches of ${BATCH_SIZE}, sync vs raw inserts`,
          ours: (BATCH_SIZE * 1000) / ours,
          baseline: (BATCH_SIZE * 1000) / raw,
          unit: 'pkt/s',
        },
        {
          metric: `ms per batch at ${rig.links.toLocaleString('en')} links`,
          ours,
          baseline: raw,
          unit: 'ms',
        },
        {
          metric: `process CPU ms per batch at ${rig.links.toLocaleString('en')} links (all threads)`,
          ours: median(rig.oursCpu),
          baseline: median(rig.rawCpu),
          unit: 'ms',
        },
        {
          metric: `packets/s at ${rig.links.toLocaleString('en')} links, ${concurrency} phones' batches in flight at once, sync vs raw inserts of the same rows`,
          ours: (concurrency * BATCH_SIZE * 1000) / median(rig.oursConcurrent),
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
          ours: median(last.ours) / median(first.ours),
          baseline: median(last.raw) / median(first.raw),
          unit: '×',
        },
        {
          metric: `CPU per batch growth, ${sizes} (ours vs raw inserts)`,
          ours: median(last.oursCpu) / median(first.oursCpu),
          baseline: median(last.rawCpu) / median(first.rawCpu),
          unit: '×',
        },
        {
          metric: `cost per concurrent round growth, ${sizes} (ours vs raw inserts)`,
          ours: median(last.oursConcurrent) / median(first.oursConcurrent),
          baseline: median(last.rawConcurrent) / median(first.rawConcurrent),
          unit: '×',
        },
      );
    }
    printRows(fraudHeavy ? 'Offline sync (every packet flagged)' : 'Offline sync', rows);
  } finally {
    for (const rig of rigs) {
      rig.baseline.close();
      await rig.api.close();
    }
  }
}
