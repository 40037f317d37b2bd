/**
 * The timesheet read model's `take` of one sync batch (TimesheetProjector's ledger hook: the
 * batch's 500 entries stored with their tags and pending marks, the worker's days recomputed
 * and stored), alone: main-thread CPU per batch, read inside a child API
 * (`support/take-child.ts`: real createApp in production mode on a temp SQLite file, each
 * batch 500 punches of a new worker appended through `LedgerService.append`).
 * `BENCH_BEFORE_DIR=<an older checkout>` (with a `node_modules` link) runs its child beside
 * ours, batches alternating one by one between the two; the rows each built are checked equal
 * (entries and days, without site ids and tags, which differ by store; the packet ids are the
 * same on both sides: an older checkout's take-child made random ones and left the site's id
 * in the days' bodies, so its rows never matched: give it this one's support/take-child.ts).
 * TAKE_WARMUP (default 30) untimed batches per side, TAKE_BATCHES (default 60) timed; medians.
 * `BENCH_CPU_PROFILE=<file>`: a V8 CPU profile of our child over the timed batches.
 */
import { resolve } from 'node:path';
import { BenchRow, median, printRows } from './support';
import { BenchChild } from './support/child';

export async function run(): Promise<void> {
  const warmup = Number(process.env.TAKE_WARMUP ?? 30);
  const batches = Number(process.env.TAKE_BATCHES ?? 60);
  const beforeDir = process.env.BENCH_BEFORE_DIR;
  const sides: Record<string, BenchChild> = { ours: BenchChild.start('support/take-child.ts') };
  if (beforeDir) sides.before = BenchChild.startIn(beforeDir, 'support/take-child.ts');
  try {
    for (const child of Object.values(sides)) await child.expect('READY');
    const cpu: Record<string, number[]> = {};
    const wall: Record<string, number[]> = {};
    const one = async (name: string) => {
      sides[name].send('batch');
      const [c, w] = (await sides[name].expect('TAKE')).split(' ').map(Number);
      return { c, w };
    };
    for (let i = 0; i < warmup; i++) for (const name of Object.keys(sides)) await one(name);
    const profile = process.env.BENCH_CPU_PROFILE;
    if (profile) {
      sides.ours.send('profile-start');
      await sides.ours.expect('PROFILING');
    }
    for (let i = 0; i < batches; i++) {
      const names = Object.keys(sides);
      if (i % 2 === 1) names.reverse();
      for (const name of names) {
        const { c, w } = await one(name);
        (cpu[name] ??= []).push(c);
        (wall[name] ??= []).push(w);
      }
    }
    if (profile) {
      sides.ours.send(`profile-stop ${resolve(profile)}`);
      await sides.ours.expect('PROFILED');
    }
    if (process.env.TAKE_SPLIT === '1') {
      for (const [name, child] of Object.entries(sides)) {
        child.send('split');
        process.stdout.write(
          `${name} split (ms a batch incl. warm-up): ${await child.expect('SPLIT')}\n`,
        );
      }
    }
    const hashes = new Set<string>();
    for (const child of Object.values(sides)) {
      child.send('days');
      hashes.add(await child.expect('DAYS'));
    }
    if (hashes.size !== 1) throw new Error('the sides built different entries or days');
    const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * p)];
    const rows: BenchRow[] = [];
    for (const name of Object.keys(sides)) {
      rows.push({
        metric: `${name}: take of a 500-packet batch, main-thread CPU (median; quartiles)`,
        ours: median(cpu[name]),
        baseline: beforeDir && name === 'ours' ? median(cpu.before) : undefined,
        unit: 'ms',
        note: `(${q(cpu[name], 0.25).toFixed(2)}–${q(cpu[name], 0.75).toFixed(2)}; wall ${median(wall[name]).toFixed(2)} ms)`,
      });
    }
    printRows(`Timesheet take of one 500-packet batch (${batches} batches a side)`, rows);
  } finally {
    for (const child of Object.values(sides)) {
      child.send('stop');
      await child.stop().catch(() => undefined);
    }
  }
}
