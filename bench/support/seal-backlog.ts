/**
 * Bench child of `bench/seal-backlog`: `node … seal-backlog.ts <links>` fills a SQLite file
 * with <links> record hashes and no checkpoint (as a restore or a ledger written without
 * seals leaves it), then seals them in one `TransparencyLogService.seal` (the server's path:
 * the SQLite tlog adapter, the witness file, an Ed25519 checkpoint), asking receipts for the
 * last 500 (a sync batch). Prints `SEALED <json>`: the seal's wall and CPU time, the longest
 * event-loop stall during it (the longest gap between runs of a 1 ms timer, or
 * `monitorEventLoopDelay`'s max if larger; `./stalls.ts`), the main thread's wait for a CPU
 * inside the longest gap, how many times that timer ran meanwhile, the RSS it added at its
 * peak, and the root (both checkouts must agree). Standalone but for the libs: `bench/seal-backlog`
 * copies it and the files of bench/support it imports into an older checkout
 * (BENCH_BEFORE_DIR), so both sides run the same code on their own libs.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { watchStalls } from './stalls';
import { sqliteTlog } from './tlog';

const BATCH = 500;

async function main(): Promise<void> {
  const links = Number(process.argv[2]);
  const dir = mkdtempSync(join(tmpdir(), 'mdai-bench-seal-backlog-'));
  // WAL checkpoints on their own thread, as the API runs them (SQLITE_CHECKPOINTS=worker)
  const store = new SqliteStore(join(dir, 'mdai.sqlite'), { checkpoints: 'worker' });
  try {
    store.db.exec(
      'CREATE TABLE backlog (seq INTEGER PRIMARY KEY, record_hash TEXT NOT NULL) WITHOUT ROWID',
    );
    const insert = store.db.prepare('INSERT INTO backlog (seq, record_hash) VALUES (?, ?)');
    const fill = store.db.transaction((from: number, to: number) => {
      for (let seq = from; seq <= to; seq++)
        insert.run(seq, createHash('sha256').update(String(seq)).digest('hex'));
    });
    for (let seq = 1; seq <= links; seq += 20_000) fill(seq, Math.min(links, seq + 19_999));
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    const read = store.db.prepare<[number, number], { record_hash: string }>(
      'SELECT record_hash FROM backlog WHERE seq BETWEEN ? AND ? ORDER BY seq',
    );
    const { tlog } = await sqliteTlog(store, dir);
    const seqs = Array.from({ length: Math.min(BATCH, links) }, (_, i) => links - i);

    (globalThis as { gc?: () => void }).gc?.();
    const rssBefore = process.memoryUsage().rss;
    let ms = 0;
    let cpuMs = 0;
    // a 1 ms timer; the histogram stays on 5 ms after the seal, to take a stall that lasted
    // to its end
    const { value: sealed, stalls } = await watchStalls(
      async () => {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const done = await tlog.seal(
          'bench.local/ledger/backlog',
          links,
          async (from, to) => read.all(from, to).map((r) => r.record_hash),
          seqs,
        );
        ms = performance.now() - t0;
        const { user, system } = process.cpuUsage(cpu0);
        cpuMs = (user + system) / 1000;
        return done;
      },
      { tickMs: 1, settleMs: 5 },
    );
    if (sealed.receipts.size !== seqs.length) throw new Error('receipts missing');
    const result = {
      ms,
      cpuMs,
      maxStallMs: Math.max(stalls.longest.ms, stalls.histogramMaxMs),
      // 0 where there is no schedstat
      stallCpuWaitMs: stalls.longest.waitMs || 0,
      ticks: stalls.ticks,
      // maxRSS is in KiB
      peakRssAddedMiB: (process.resourceUsage().maxRSS * 1024 - rssBefore) / 2 ** 20,
      rootHash: sealed.checkpoint.rootHash,
    };
    process.stdout.write(`SEALED ${JSON.stringify(result)}\n`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`seal-backlog child failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
