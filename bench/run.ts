/**
 * `npm run bench` runs every benchmark (`bench/<name>.bench.ts`); `npm run bench -- relay` one.
 * Each prints ours next to a baseline measured in the same run, because these machines are
 * noisy: compare ratios, not absolute numbers. Copy the tables into docs/benchmarks.md.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => wanted.length === 0 || wanted.includes(f.replace('.bench.ts', '')));
  if (files.length === 0) throw new Error(`no benchmark matches ${wanted.join(', ')}`);
  for (const file of files) {
    const mod = (await import(join(__dirname, file))) as { run: () => Promise<void> };
    await mod.run();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
