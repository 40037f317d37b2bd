import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Lowers the scheduling priority of the calling thread alone by `step` (its nice value plus
 * `step`, at most 19; on Linux, where a thread has a task id of its own that `setpriority`
 * takes), for background work that must not take the cores from the threads serving requests
 * when both want them. Returns the thread's new nice value, or undefined where that cannot be
 * done (another OS, no /proc): the thread then keeps the process's priority. Lowering a
 * priority needs no privilege; raising it back does. Threads the thread starts afterwards
 * inherit its value. Import it by its own path (`@app/common/workers/thread-priority`) in a
 * worker script.
 */
export function lowerThreadPriority(step: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    // "<pid>/task/<tid>"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return undefined;
    const nice = Math.min(19, getPriority(tid) + step);
    setPriority(tid, nice);
    return nice;
  } catch {
    return undefined;
  }
}
