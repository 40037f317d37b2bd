/**
 * The event-loop stall watcher of the benches (issue 17: the loop never blocked > 50 ms).
 * `watchStalls(work)` runs `work` and reports what held the event loop meanwhile: the longest
 * gap between two runs of a short timer (its start and end, and how long the thread that
 * called it ran on a CPU and waited for one inside it, from `/proc/thread-self/schedstat`,
 * Linux), the GC pauses (`PerformanceObserver` 'gc' entries) in all and inside that gap, and
 * `monitorEventLoopDelay`'s max.
 *
 * Only `node:` imports: `bench/seal-backlog` copies this file with its child into an older
 * checkout (BENCH_BEFORE_DIR).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StallOptions {
  /** The timer's period and the histogram's resolution, ms (default 5). */
  tickMs?: number;
  /**
   * How long to keep the histogram on after `work` (default 0): it takes a stall's delay only
   * when its timer runs after the stall, so a stall that lasts to the end of `work` needs one
   * more turn of the loop to be counted.
   */
  settleMs?: number;
}

/** The longest gap between two runs of the timer (or `work`'s start or end). */
export interface LongestGap {
  /** Its start and end, `performance.now()` of the calling thread, ms. */
  from: number;
  to: number;
  /** Its length less the timer's period: how much later than due the loop came back, ms. */
  ms: number;
  /** Inside it, the calling thread's time on a CPU, ms (NaN without schedstat). */
  runMs: number;
  /** Inside it, the calling thread's wait for a CPU (run-queue delay), ms (NaN likewise). */
  waitMs: number;
  /** Inside it, GC pauses, ms. */
  gcMs: number;
}

export interface Stalls {
  tickMs: number;
  longest: LongestGap;
  /** The longest event-loop delay, `monitorEventLoopDelay`'s max, ms. */
  histogramMaxMs: number;
  /** Every GC pause while `work` ran, summed, and the longest one, ms. */
  gcMs: number;
  gcMaxMs: number;
  /** How many times the timer ran while `work` ran. */
  ticks: number;
}

/**
 * The calling thread's time on a CPU and waiting for one so far, in ms (NaN where there is no
 * schedstat).
 */
export function threadSched(): { runMs: number; waitMs: number } {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ');
    return { runMs: Number(run) / 1e6, waitMs: Number(wait) / 1e6 };
  } catch {
    return { runMs: NaN, waitMs: NaN };
  }
}

/** Runs `work` and watches the event loop meanwhile: its longest stall, and what held it. */
export async function watchStalls<T>(
  work: () => Promise<T>,
  options: StallOptions = {},
): Promise<{ value: T; stalls: Stalls }> {
  const tickMs = options.tickMs ?? 5;
  const gcs: { start: number; ms: number }[] = [];
  const started = performance.now();
  let ended = Infinity;
  // entries reach observers from a later turn of the loop: a GC before `work` (e.g. a full GC
  // run just before it) is left out by its start time, and one during the settling after it too
  const take = (entries: PerformanceEntry[]) => {
    for (const e of entries)
      if (e.startTime >= started && e.startTime <= ended)
        gcs.push({ start: e.startTime, ms: e.duration });
  };
  const observer = new PerformanceObserver((list) => take(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  const delay = monitorEventLoopDelay({ resolution: tickMs });
  let ticks = 0;
  let last = started;
  let lastSched = threadSched();
  let longest = { from: last, to: last, runMs: 0, waitMs: 0 };
  const tick = () => {
    const at = performance.now();
    const sched = threadSched();
    if (at - last > longest.to - longest.from) {
      const runMs = sched.runMs - lastSched.runMs;
      longest = { from: last, to: at, runMs, waitMs: sched.waitMs - lastSched.waitMs };
    }
    last = at;
    lastSched = sched;
  };
  const ticker = setInterval(() => {
    tick();
    ticks++;
  }, tickMs);
  delay.enable();
  let value: T;
  try {
    value = await work();
  } finally {
    // the stall may have lasted to the end of `work` (no run of the timer after it)
    tick();
    ended = performance.now();
    clearInterval(ticker);
    if (options.settleMs) await sleep(options.settleMs);
    delay.disable();
    take(observer.takeRecords());
    observer.disconnect();
  }
  let longestGcMs = 0;
  for (const g of gcs) {
    const overlap = Math.min(g.start + g.ms, longest.to) - Math.max(g.start, longest.from);
    if (overlap > 0) longestGcMs += overlap;
  }
  return {
    value,
    stalls: {
      tickMs,
      longest: { ...longest, ms: longest.to - longest.from - tickMs, gcMs: longestGcMs },
      histogramMaxMs: delay.max / 1e6,
      gcMs: gcs.reduce((sum, g) => sum + g.ms, 0),
      gcMaxMs: gcs.reduce((max, g) => Math.max(max, g.ms), 0),
      ticks,
    },
  };
}
