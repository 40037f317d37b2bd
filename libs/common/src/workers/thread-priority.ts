import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Lowers the scheduling priority of the calling thread alone (its nice value, on Linux, where a
 * thread has a task id of its own that `setpriority` takes), for background work that must not
 * take the cores from the threads serving requests when both want them. Returns the thread's
 * task id, or undefined where that cannot be done (another OS, no /proc): the thread then runs
 * at the process's priority. Lowering a priority needs no privilege; raising it back does.
 * Import it by its own path (`@app/common/workers/thread-priority`) in a worker script.
 */
export function lowerThreadPriority(nice: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    // "<pid>/task/<tid>"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return undefined;
    setPriority(tid, nice);
    return tid;
  } catch {
    return undefined;
  }
}
