/** Small helpers shared by the benchmarks: timing, percentiles, memory, and one result format. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function rssMiB(): number {
  return process.memoryUsage().rss / (1024 * 1024);
}

export function heapMiB(): number {
  return process.memoryUsage().heapUsed / (1024 * 1024);
}

export async function settleGc(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface BenchRow {
  metric: string;
  ours: number;
  baseline?: number;
  unit: string;
  /** ours / baseline, or baseline / ours for "lower is better" metrics, as printed. */
  note?: string;
}

export function printRows(title: string, rows: BenchRow[]): void {
  process.stdout.write(
    `\n## ${title}\n\n| metric | ours | baseline | ratio |\n|---|---|---|---|\n`,
  );
  for (const row of rows) {
    const ratio = row.baseline ? (row.ours / row.baseline).toFixed(2) : '';
    const fmt = (n: number | undefined) =>
      n === undefined ? '' : `${Number(n.toFixed(2))} ${row.unit}`;
    process.stdout.write(
      `| ${row.metric} | ${fmt(row.ours)} | ${fmt(row.baseline)} | ${ratio}${row.note ? ` ${row.note}` : ''} |\n`,
    );
  }
}

/** The median of unsorted samples. */
export function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

/** Process CPU (user + system, every thread) in ms since `since` (a `process.cpuUsage()`). */
export function cpuMsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}
