/**
 * The ledger watch's run (`TimesheetProjector.watchLedger`) at a large chain: what one run
 * costs the event loop, and how long a pass over every sealed link of a site takes.
 *
 * One site's chain of WATCH_LINKS links (default 100,000) is written straight into the store
 * (as `bench/verify` does), one append through LedgerService seals it and the timesheet read
 * model catches up over it (setup, not timed). Then WATCH_RUNS runs (default 200) are made back
 * to back, each checking up to TIMESHEET_LEDGER_CHECK_LINKS links (default 2,000, the server's
 * default): per run its wall time and the longest event-loop stall inside it (a run turns the
 * loop between pages of 250 links, each page its own turn in the projector's queue), the wait of
 * a timesheet read (`ensureReadable`) queued while the run checks its first page, and the
 * process CPU time of all. The baseline: the same
 * links read and hashed by a raw better-sqlite3 walk (`bench/verify`'s), per link.
 * Each run also reads, after its links, up to TIMESHEET_ENTRY_CHECK_ROWS of the read model's
 * punch copies with their tags checked (the entry watch, default 2,000): run once with
 * TIMESHEET_ENTRY_CHECK_ROWS=1 to see the links alone, the difference is the entries' cost.
 */
import { createHash, randomUUID } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { LedgerService } from '@app/offline-sync';
import { TimesheetProjector } from '@app/timesheets';
import { now, percentile, printRows } from './support';
import { fillChain } from './support/chain';
import { startSyncBenchApi } from './support/crew';
import { watchStalls } from './support/stalls';

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Reads and hashes `count` links after `after` straight from the file (the floor of a check). */
function rawHash(store: SqliteStore, siteId: string, after: number, count: number): void {
  const rows = store.db
    .prepare<[string, number, number], Record<string, string | number>>(
      'SELECT site_id, seq, prev_hash, record_hash, data, meta FROM attendance_logs WHERE site_id = ? AND seq > ? AND seq <= ? ORDER BY seq',
    )
    .all(siteId, after, after + count);
  for (const r of rows) {
    const text = `{"data":${r.data},"meta":${r.meta},"prevHash":"${r.prev_hash}","seq":${r.seq},"siteId":${JSON.stringify(r.site_id)}}`;
    if (createHash('sha256').update(text).digest('hex') !== r.record_hash) {
      throw new Error(`raw: bad link ${r.seq}`);
    }
  }
}

export async function run(): Promise<void> {
  const links = Number(process.env.WATCH_LINKS ?? 100_000);
  const runs = Number(process.env.WATCH_RUNS ?? 200);
  // the server's own timer stays out of the way: the runs are made here
  process.env.TIMESHEET_LEDGER_CHECK_MS = '3600000';
  const siteId = 'bench-watch-site';
  const api = await startSyncBenchApi('watch', (dataDir) =>
    fillChain(join(dataDir, 'mdai.sqlite'), siteId, links),
  );
  try {
    const ledger = api.app.get(LedgerService);
    // an entry's key is its data's packetId (a link whose key copy is not its data's reads tampered)
    const markerId = randomUUID();
    await ledger.append([
      {
        siteId,
        packetId: markerId,
        data: { kind: 'bench_marker', packetId: markerId },
        meta: { isOfflineSync: false, syncTimestamp: new Date().toISOString() },
      },
    ]);
    const projector = api.app.get(TimesheetProjector);
    await projector.ensureReadable(siteId);
    const perLink = Number(process.env.TIMESHEET_LEDGER_CHECK_LINKS ?? 2000);
    const everyMs = 5000;
    const wall: number[] = [];
    const stall: number[] = [];
    const readWait: number[] = [];
    const c0 = cpuMs();
    for (let i = 0; i < runs; i++) {
      const t0 = now();
      let readAt = 0;
      const { stalls } = await watchStalls(
        async () => {
          const running = projector.watchLedger();
          // a read arriving while the run checks its first page: what it waits for
          await yieldToLoop();
          await yieldToLoop();
          const r0 = now();
          await projector.ensureReadable(siteId);
          readAt = now() - r0;
          await running;
        },
        { tickMs: 5 },
      );
      wall.push(now() - t0);
      readWait.push(readAt);
      stall.push(stalls.histogramMaxMs);
    }
    const cpu = (cpuMs() - c0) / runs;
    if (projector.stoppedSites().length > 0) throw new Error('the watch stopped the site');
    const store = new SqliteStore(join(api.dataDir, 'mdai.sqlite'));
    const raw: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = now();
      rawHash(store, siteId, (i * perLink) % links, perLink);
      raw.push(now() - t0);
    }
    await store.close();
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    printRows(
      `ledger watch, ${links} links, ${perLink} links and ${process.env.TIMESHEET_ENTRY_CHECK_ROWS ?? 2000} entries a run, ${runs} runs`,
      [
        {
          metric: 'one run, wall time (median)',
          ours: percentile(sorted(wall), 50),
          baseline: percentile(sorted(raw), 50),
          unit: 'ms',
          note: '(baseline: the same number of links read and hashed by a raw walk)',
        },
        { metric: 'one run, wall time (p99)', ours: percentile(sorted(wall), 99), unit: 'ms' },
        { metric: 'one run, process CPU (mean)', ours: cpu, unit: 'ms' },
        {
          metric: 'longest event-loop stall in a run (median of runs)',
          ours: percentile(sorted(stall), 50),
          unit: 'ms',
        },
        {
          metric: 'longest event-loop stall in a run (max)',
          ours: Math.max(...stall),
          unit: 'ms',
        },
        {
          metric: 'a read queued during a run, its wait (median)',
          ours: percentile(sorted(readWait), 50),
          unit: 'ms',
        },
        {
          metric: 'a read queued during a run, its wait (p99)',
          ours: percentile(sorted(readWait), 99),
          unit: 'ms',
        },
        {
          metric: `a pass over the site at one run every ${everyMs / 1000} s (the default)`,
          ours: Math.ceil(links / perLink) * (everyMs / 1000),
          unit: 's',
        },
      ],
    );
  } finally {
    await api.close();
  }
}
