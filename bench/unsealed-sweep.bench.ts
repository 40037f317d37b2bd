/**
 * The unsealed-tail sweep's checkpoint reads over UNSEALED_SWEEP_SITES logs (default 20,000),
 * each sealed once (a checkpoint signed by the server): what a sweep that finds nothing to seal
 * costs the tlog, in one process on a SQLite store. `before`: each log's latest checkpoint read
 * apart (`TransparencyLogService.latest`, as the sweep read them); `ours`: a page of 500 logs'
 * at once (`latestOfEach`). Both answer every log's size (checked). UNSEALED_SWEEP_ROUNDS
 * interleaved rounds (default 7; which side goes first alternates), medians. Every signature
 * was checked once before the rounds (both sides keep the answer per row), so the rounds time
 * the reads. The sites' heads (`siteHeads`, one read per page) are the same on both sides and
 * left out. The set-up seals every log once: 20,000 seals take several minutes on a loaded
 * 2-core machine (UNSEALED_SWEEP_SITES=4000 about 40 s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { TransparencyLogService } from '@app/tlog';
import { sqliteTlog } from './support/tlog';
import { median, now, printRows } from './support';

const PAGE = 500;

async function apart(tlog: TransparencyLogService, origins: string[]): Promise<number> {
  let total = 0;
  for (const origin of origins) total += (await tlog.latest(origin))?.size ?? 0;
  return total;
}

async function paged(tlog: TransparencyLogService, origins: string[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < origins.length; i += PAGE) {
    const latest = await tlog.latestOfEach(origins.slice(i, i + PAGE));
    for (const checkpoint of latest.values()) total += checkpoint?.size ?? 0;
  }
  return total;
}

export async function run(): Promise<void> {
  const sites = Number(process.env.UNSEALED_SWEEP_SITES ?? 20_000);
  const rounds = Number(process.env.UNSEALED_SWEEP_ROUNDS ?? 7);
  const dir = mkdtempSync(join(tmpdir(), 'mdai-bench-sweep-'));
  const store = new SqliteStore(join(dir, 'bench.sqlite'));
  try {
    const { tlog } = await sqliteTlog(store, dir);
    const origins = Array.from(
      { length: sites },
      (_, i) => `mdai.local/ledger/site-${String(i).padStart(6, '0')}`,
    );
    const hash = 'ab'.repeat(32);
    for (const [i, origin] of origins.entries())
      await tlog.seal(origin, 1 + (i % 3), async (from, to) => Array(to - from + 1).fill(hash), []);
    const expected = origins.reduce((sum, _, i) => sum + 1 + (i % 3), 0);
    // every row's signature checked once (each side keeps the answer until the row changes)
    if ((await apart(tlog, origins)) !== expected) throw new Error('the sizes read apart differ');
    const times = { ours: [] as number[], before: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      const sides = (['ours', 'before'] as const).slice();
      if (r % 2 === 1) sides.reverse();
      for (const side of sides) {
        const start = now();
        const total = await (side === 'ours' ? paged : apart)(tlog, origins);
        times[side].push(now() - start);
        if (total !== expected) throw new Error(`${side}: the sizes read differ`);
      }
    }
    const ours = median(times.ours);
    const before = median(times.before);
    printRows(`unsealed-tail sweep: the latest checkpoints of ${sites} logs (SQLite)`, [
      {
        metric: 'one sweep (median)',
        ours,
        baseline: before,
        unit: 'ms',
        note: '(lower is better)',
      },
      {
        metric: 'store reads per sweep',
        ours: Math.ceil(sites / PAGE),
        baseline: sites,
        unit: 'reads',
      },
    ]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
