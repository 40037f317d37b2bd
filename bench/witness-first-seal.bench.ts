/**
 * The first seal of a log after a restart, its line far back in a big witness file (what the
 * first payroll close of an already-sealed site costs its request): each round a fresh child
 * (`bench/support/witness-first-seal.ts`) makes a witness file of WITNESS_SEAL_LINES lines
 * (default 100,000) of other logs after the log's one line, restarts its tlog on it and times
 * the seal. `BENCH_BEFORE_DIR=<older checkout>` (e.g. a worktree of main, with a `node_modules`
 * link) runs that checkout's seal in the same rounds, alternating which side goes first (the
 * child is copied into it); both must sign the same root. Ours awaits the index's start-up
 * pass before the seal (in a server it runs in the background after boot): timed apart.
 * WITNESS_SEAL_ROUNDS (default 5): medians.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { BenchChild } from './support/child';
import { median, printRows } from './support';

interface Sealed {
  startupPassMs: number;
  sealMs: number;
  sealCpuMs: number;
  fileBytes: number;
  rootHash: string;
}

function copyChildInto(root: string): void {
  mkdirSync(join(root, 'bench', 'support'), { recursive: true });
  const from = join(__dirname, 'support', 'witness-first-seal.ts');
  const to = join(root, 'bench', 'support', 'witness-first-seal.ts');
  if (existsSync(to) && readFileSync(to, 'utf8') === readFileSync(from, 'utf8')) return;
  copyFileSync(from, to);
}

async function sealIn(root: string, lines: number): Promise<Sealed> {
  const child = BenchChild.startIn(root, 'support/witness-first-seal.ts', [String(lines)]);
  try {
    return JSON.parse(await child.expect('SEALED', 600_000)) as Sealed;
  } finally {
    await child.stop();
  }
}

export async function run(): Promise<void> {
  const lines = Number(process.env.WITNESS_SEAL_LINES ?? 100_000);
  const rounds = Number(process.env.WITNESS_SEAL_ROUNDS ?? 5);
  const beforeDir = process.env.BENCH_BEFORE_DIR;
  const sides: [string, string][] = [['ours', join(__dirname, '..')]];
  if (beforeDir) {
    copyChildInto(beforeDir);
    sides.push(['before', beforeDir]);
  }
  const results = new Map<string, Sealed[]>(sides.map(([name]) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const [name, root] of order) results.get(name)!.push(await sealIn(root, lines));
  }
  const ours = results.get('ours')!;
  const before = results.get('before');
  const of = (xs: Sealed[] | undefined, pick: (s: Sealed) => number) =>
    xs ? median(xs.map(pick)) : undefined;
  printRows(
    `First seal of a log after a restart, ${lines.toLocaleString('en')} witness lines after its own (${(ours[0].fileBytes / 1e6).toFixed(1)} MB; ours vs before, median of ${rounds}; load ${loadavg()[0].toFixed(1)})`,
    [
      {
        metric: 'the seal (the request)',
        ours: of(ours, (s) => s.sealMs)!,
        baseline: of(before, (s) => s.sealMs),
        unit: 'ms',
      },
      {
        metric: 'the seal, CPU',
        ours: of(ours, (s) => s.sealCpuMs)!,
        baseline: of(before, (s) => s.sealCpuMs),
        unit: 'ms',
      },
      {
        metric: "the index's start-up pass (ours only; in the background after boot)",
        ours: of(ours, (s) => s.startupPassMs)!,
        unit: 'ms',
      },
    ],
  );
}
