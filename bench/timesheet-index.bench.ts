/**
 * Timesheets migration 3 at the first boot of an upgrade: the key index of worker-days
 * (`timesheet_days_keys`) built on a table of busy days (40 punches, ~4 KB bodies), warm and
 * on a cold disk.
 *
 * For each size (TSINDEX_DAYS busy worker-days, default 100,000; a comma list) a store at
 * timesheets migration 2 is written (bench/support/timesheet-day-pages.ts: one site, 5,000
 * workers; TSINDEX_ORDER `day`, the default: each day every worker's, as a live site writes
 * them; `key`: in key order; a comma list), checkpointed and closed. Ours, timed on a fresh
 * copy of it: the boot's step, the store opened (`new SqliteStore`) and the timesheet
 * repository made, which applies the production list (`TIMESHEETS_SQLITE_MIGRATIONS`, 3 alone
 * pending) in one transaction; a commit that leaves over 1,000 pages in the WAL (the index of
 * ~80,000 days and more) checkpoints them itself, as at a boot (the checkpoint thread starts
 * later). Baseline, on another copy: the store opened and every page of the table read once
 * (`sum(length(body))`: the length of a TEXT reads its overflow pages); beside it, the keys
 * alone (`count(day)`: the leaves' cells, no overflow page). Warm: the file read once just
 * before (in the OS's page cache); cold: `sync` and `1` written to /proc/sys/vm/drop_caches
 * before each timing (where that write fails, said so and the cold rows skipped). Rounds
 * (TSINDEX_ROUNDS, default 3) take the sides in turn, each first in turn, warm then cold;
 * medians (ranges in the notes). Beside the times: what the process had fetched from storage
 * in the cold timings (/proc/self/io `read_bytes`, readahead included), and the index's size
 * against the table's (dbstat).
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { SqliteTimesheetRepository } from '@app/timesheets/infrastructure/persistence/sqlite/repositories/sqlite-timesheet.repository';
import { TIMESHEETS_SQLITE_MIGRATIONS } from '@app/timesheets/infrastructure/persistence/sqlite/timesheets.migrations';
import { BenchRow, median, now, printRows } from './support';
import { processReadBytes } from './support/proc';
import {
  BUSY_PUNCHES,
  BUSY_SITE,
  KEYS,
  dayTreeSizes,
  insertDays,
} from './support/timesheet-day-pages';

const ROUNDS = Number(process.env.TSINDEX_ROUNDS ?? 3);
const WORKERS = 5000;
/** The migrations a store before the key index has: what an upgrade finds. */
const BEFORE = TIMESHEETS_SQLITE_MIGRATIONS.filter((m) => m.version < 3);
type Order = 'key' | 'day';

/** Empties the OS's page cache; the reason it could not, if it could not. */
function dropCaches(): string | undefined {
  execFileSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Reads a whole file, so that its pages are in the OS's page cache. */
function readThrough(path: string): void {
  const fd = openSync(path, 'r');
  const buffer = Buffer.allocUnsafe(1 << 20);
  try {
    while (readSync(fd, buffer, 0, buffer.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

/** The store at migration 2 with `workers` × `days` busy days; the ms the fill took. */
async function writeBefore(
  path: string,
  workers: number,
  days: number,
  order: Order,
): Promise<number> {
  const t = now();
  const store = new SqliteStore(path);
  store.migrate('timesheets', BEFORE);
  insertDays(store.db, BUSY_SITE, workers, days, BUSY_PUNCHES, 20_000, order);
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  await store.close();
  return now() - t;
}

interface Timing {
  ms: number;
  readBytes: number;
}

/** `step` on the file at `path`, timed, with the bytes fetched from storage meanwhile. */
async function timed(path: string, step: (store: SqliteStore) => void): Promise<Timing> {
  const read0 = processReadBytes(process.pid);
  const t = now();
  const store = new SqliteStore(path);
  step(store);
  const ms = now() - t;
  const readBytes = processReadBytes(process.pid) - read0;
  await store.close();
  return { ms, readBytes };
}

interface Side {
  label: string;
  /** Untimed, before the caches are dropped or the file read through: the file to time on. */
  prepare: () => string;
  step: (store: SqliteStore) => void;
}

export async function run(): Promise<void> {
  const sizes = (process.env.TSINDEX_DAYS ?? '100000').split(',').map(Number);
  const orders = (process.env.TSINDEX_ORDER ?? 'day').split(',') as Order[];
  if (orders.some((o) => o !== 'key' && o !== 'day')) throw new Error('TSINDEX_ORDER: key, day');
  const pending = TIMESHEETS_SQLITE_MIGRATIONS.filter((m) => !BEFORE.includes(m));
  if (pending.length !== 1 || !pending[0].up.includes(KEYS)) {
    throw new Error('timesheet-index times migration 3 alone: the list has changed');
  }
  const cantDrop = dropCaches();
  if (cantDrop) {
    process.stdout.write(`\ncold rows skipped: /proc/sys/vm/drop_caches: ${cantDrop}\n`);
  }
  const conditions = cantDrop ? (['warm'] as const) : (['warm', 'cold'] as const);
  for (const [size, order] of sizes.flatMap((n) => orders.map((o) => [n, o] as const))) {
    const workers = Math.min(WORKERS, size);
    const days = Math.ceil(size / workers);
    const total = workers * days;
    const dir = mkdtempSync(join(tmpdir(), 'mdai-bench-tsindex-'));
    try {
      const before = join(dir, 'before.sqlite');
      const fillMs = await writeBefore(before, workers, days, order);
      const fileBytes = statSync(before).size;
      const fs = statfsSync(dir);
      // the copy for the baseline and one for ours, besides the file (and the WAL of the index)
      if (fs.bavail * fs.bsize < 2.2 * fileBytes) {
        throw new Error(`${dir}: ${fileBytes} bytes a copy, not room for two more`);
      }
      const readCopy = join(dir, 'read.sqlite');
      copyFileSync(before, readCopy);
      const upgraded = join(dir, 'upgraded.sqlite');
      let bodyBytes = 0;
      const sides: Side[] = [
        {
          label: 'ours',
          prepare: () => {
            for (const end of ['-wal', '-shm']) rmSync(upgraded + end, { force: true });
            copyFileSync(before, upgraded);
            return upgraded;
          },
          step: (store) => {
            new SqliteTimesheetRepository(store);
          },
        },
        {
          label: 'full read',
          prepare: () => readCopy,
          step: (store) => {
            bodyBytes = store.db
              .prepare<[], number>('SELECT sum(length(body)) FROM timesheet_days')
              .pluck()
              .get()!;
          },
        },
        {
          label: 'keys read',
          prepare: () => readCopy,
          step: (store) => {
            const n = store.db
              .prepare<[], number>('SELECT count(day) FROM timesheet_days')
              .pluck()
              .get();
            if (n !== total) throw new Error(`${n} days, not ${total}`);
          },
        },
      ];
      const times = new Map<string, Timing[]>();
      for (let i = 0; i < ROUNDS; i++) {
        for (const condition of conditions) {
          for (let k = 0; k < sides.length; k++) {
            const side = sides[(i + k) % sides.length];
            const path = side.prepare();
            if (condition === 'warm') {
              readThrough(path);
              execFileSync('sync');
            } else {
              const failed = dropCaches();
              if (failed) throw new Error(`drop_caches: ${failed}`);
            }
            const key = `${side.label} ${condition}`;
            times.set(key, [...(times.get(key) ?? []), await timed(path, side.step)]);
          }
        }
      }
      // the upgraded copy of the last round: its index whole, and its size against the table's
      const check = new SqliteStore(upgraded);
      const indexed = check.db
        .prepare<[], number>(`SELECT count(*) FROM timesheet_days INDEXED BY ${KEYS}`)
        .pluck()
        .get();
      if (indexed !== total) throw new Error(`${KEYS}: ${indexed} keys, not ${total}`);
      const trees = new Map(dayTreeSizes(check.db).map((t) => [t.name, t]));
      await check.close();

      const ms = (key: string) => times.get(key)!.map((t) => t.ms);
      const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
      const compare = (metric: string, a: string, b: string): BenchRow => ({
        metric,
        ours: median(ms(a)),
        baseline: median(ms(b)),
        unit: 'ms',
        note: `(${range(ms(a))} / ${range(ms(b))} ms)`,
      });
      const rows: BenchRow[] = [];
      for (const condition of conditions) {
        rows.push(
          compare(
            `${condition}: migration 3 at boot (open + migrate + commit) vs a full read of the table`,
            `ours ${condition}`,
            `full read ${condition}`,
          ),
          compare(
            `${condition}: migration 3 at boot vs a read of the keys alone (no overflow page)`,
            `ours ${condition}`,
            `keys read ${condition}`,
          ),
        );
      }
      if (!cantDrop) {
        const mib = (key: string) => median(times.get(key)!.map((t) => t.readBytes)) / 2 ** 20;
        rows.push(
          {
            metric: 'cold: MiB fetched from storage, migration 3 vs the full read',
            ours: mib('ours cold'),
            baseline: mib('full read cold'),
            unit: 'MiB',
          },
          {
            metric: 'cold: MiB fetched from storage, the keys read vs the full read',
            ours: mib('keys read cold'),
            baseline: mib('full read cold'),
            unit: 'MiB',
          },
        );
      }
      const index = trees.get(KEYS)!;
      const table = trees.get('timesheet_days')!;
      rows.push({
        metric: `${KEYS} vs timesheet_days (dbstat)`,
        ours: index.mib,
        baseline: table.mib,
        unit: 'MiB',
        note: `(${index.pages} / ${table.pages} pages, ${table.overflow} of them overflow)`,
      });
      printRows(
        `Timesheets migration 3 (the key index) on ${total.toLocaleString('en')} busy days ` +
          `(${workers.toLocaleString('en')} workers × ${days}, written ${order === 'day' ? 'day by day' : 'in key order'}, bodies ~${Math.round(bodyBytes / total)} B, ` +
          `file ${(fileBytes / 2 ** 20).toFixed(0)} MiB, filled in ${(fillMs / 1000).toFixed(1)} s; ` +
          `medians of ${ROUNDS}; ratio = ours / baseline)`,
        rows,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
