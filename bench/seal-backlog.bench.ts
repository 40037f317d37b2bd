/**
 * Sealing a backlog: a transparency log with SEAL_BACKLOG_LINKS entries (default 100,000 and
 * 1,000,000) and no checkpoint, sealed in one `TransparencyLogService.seal` (what the first
 * append after a restore, or after seals that failed for long, does). Each seal runs in a fresh
 * child process (`bench/support/seal-backlog.ts`), SEAL_BACKLOG_ROUNDS times per size (medians):
 * the longest event-loop stall during the seal (what a /health request waits at worst; with
 * the main thread's wait for a CPU inside it, the share a loaded machine adds), the
 * seal's wall and CPU time, how often a 1 ms timer ran meanwhile, and the RSS it added.
 *
 * `BENCH_BEFORE_DIR=<older checkout>` (e.g. `git archive main`, with a `node_modules` link) runs
 * that checkout's seal in the same rounds, alternating which side goes first; both sides must
 * sign the same root. The child, and the files of bench/support it imports (`./stalls.ts`),
 * are copied into that checkout first (overwriting its copies), so both run the same code.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchChild } from './support/child';
import { median, printRows } from './support';

interface Sealed {
  ms: number;
  cpuMs: number;
  maxStallMs: number;
  stallCpuWaitMs: number;
  ticks: number;
  peakRssAddedMiB: number;
  rootHash: string;
}

/** The child and, transitively, the files of bench/support it imports (`from './x'`). */
function childFiles(file = 'seal-backlog.ts', found = new Set<string>()): Set<string> {
  found.add(file);
  const text = readFileSync(join(__dirname, 'support', file), 'utf8');
  for (const [, name] of text.matchAll(/from '\.\/([\w-]+)'/g))
    if (!found.has(`${name}.ts`)) childFiles(`${name}.ts`, found);
  return found;
}

/** Our child's files into an older checkout's bench/support, where they are missing or differ. */
function copyChildInto(root: string): void {
  mkdirSync(join(root, 'bench', 'support'), { recursive: true });
  for (const file of childFiles()) {
    const from = join(__dirname, 'support', file);
    const to = join(root, 'bench', 'support', file);
    if (existsSync(to) && readFileSync(to, 'utf8') === readFileSync(from, 'utf8')) continue;
    copyFileSync(from, to);
    process.stderr.write(`seal-backlog bench: copied bench/support/${file} into ${root}\n`);
  }
}

async function sealIn(root: string, links: number): Promise<Sealed> {
  const child = BenchChild.startIn(root, 'support/seal-backlog.ts', [String(links)]);
  try {
    return JSON.parse(await child.expect('SEALED', 600_000)) as Sealed;
  } finally {
    await child.stop();
  }
}

export async function run(): Promise<void> {
  const sizes = (process.env.SEAL_BACKLOG_LINKS ?? '100000,1000000').split(',').map(Number);
  const rounds = Number(process.env.SEAL_BACKLOG_ROUNDS ?? 3);
  const beforeDir = process.env.BENCH_BEFORE_DIR;
  const sides: [name: string, root: string][] = [['ours', join(__dirname, '..')]];
  if (beforeDir) {
    copyChildInto(beforeDir);
    sides.push(['before', beforeDir]);
  }
  for (const links of sizes) {
    const results = new Map<string, Sealed[]>(sides.map(([name]) => [name, []]));
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const [name, root] of order) results.get(name)!.push(await sealIn(root, links));
      const roots = new Set([...results.values()].map((xs) => xs[xs.length - 1].rootHash));
      if (roots.size !== 1)
        throw new Error(`the sides signed different roots: ${[...roots].join(', ')}`);
    }
    const ours = results.get('ours')!;
    const before = results.get('before');
    const of = (xs: Sealed[] | undefined, pick: (s: Sealed) => number) =>
      xs ? median(xs.map(pick)) : undefined;
    printRows(
      `Sealing a backlog of ${links.toLocaleString('en')} entries in one seal (ours vs before, median of ${rounds})`,
      [
        {
          metric: 'longest event-loop stall during the seal',
          ours: of(ours, (s) => s.maxStallMs)!,
          baseline: of(before, (s) => s.maxStallMs),
          unit: 'ms',
          note: `(max of rounds: ours ${Math.max(...ours.map((s) => s.maxStallMs)).toFixed(1)} ms${before ? `, before ${Math.max(...before.map((s) => s.maxStallMs)).toFixed(1)} ms` : ''}; inside ours' longest gap the main thread waited for a CPU ${ours.map((s) => s.stallCpuWaitMs.toFixed(1)).join(', ')} ms by round)`,
        },
        {
          metric: 'seal wall time',
          ours: of(ours, (s) => s.ms)!,
          baseline: of(before, (s) => s.ms),
          unit: 'ms',
        },
        {
          metric: 'seal CPU time (process, all threads)',
          ours: of(ours, (s) => s.cpuMs)!,
          baseline: of(before, (s) => s.cpuMs),
          unit: 'ms',
        },
        {
          metric: 'times a 1 ms timer ran during the seal',
          ours: of(ours, (s) => s.ticks)!,
          baseline: of(before, (s) => s.ticks),
          unit: '',
        },
        {
          metric: 'RSS added by the seal at its peak',
          ours: of(ours, (s) => s.peakRssAddedMiB)!,
          baseline: of(before, (s) => s.peakRssAddedMiB),
          unit: 'MiB',
        },
      ],
    );
  }
}
