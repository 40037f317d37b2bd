/**
 * A `-r` preload for a bench child: counts the main thread's garbage collections by kind
 * (perf_hooks `gc` entries: 1 scavenge, 2 mark-compact, 4 incremental marking, 8 weak callbacks)
 * and samples `process.memoryUsage().arrayBuffers` every 5 ms for its peak (V8's external
 * memory of ArrayBuffers: what its external-memory trigger counts). `gc-count` on stdin answers
 * `GC {"scavenge","markCompact","peakArrayBuffersMiB"}` since the last `gc-count` (or the
 * start). Reads stdin only for that line; other lines are left to the child's own reader.
 */
const { PerformanceObserver, constants } = require('node:perf_hooks');
const { createInterface } = require('node:readline');

let scavenge = 0;
let markCompact = 0;
let peak = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = entry.detail && entry.detail.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenge++;
    else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) markCompact++;
  }
}).observe({ entryTypes: ['gc'] });
setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().arrayBuffers);
}, 5).unref();
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'gc-count') return;
  const answer = { scavenge, markCompact, peakArrayBuffersMiB: +(peak / 2 ** 20).toFixed(1) };
  scavenge = 0;
  markCompact = 0;
  peak = process.memoryUsage().arrayBuffers;
  process.stdout.write(`GC ${JSON.stringify(answer)}\n`);
});
