import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';

/** CPU time (user + system) a process has used so far, in ms, read from /proc (Linux). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime, in clock ticks (100 per second on Linux)
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Resident set size of a process, in MiB, read from /proc (Linux). */
export function processRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kb / 1024;
}

/**
 * Bytes a process (every thread) has had fetched from storage so far, readahead included
 * (`read_bytes` of /proc/<pid>/io, Linux): pages the OS's cache had cost nothing here.
 */
export function processReadBytes(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/^read_bytes:\s+(\d+)/m.exec(io)?.[1]);
}

/** GET status code, or 0 when the server does not answer (yet). */
export function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(1000, () => req.destroy());
    req.end();
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * CPU time the main thread of a process (the event loop's: its tid is the pid) has run so far,
 * in ms, from `/proc/<pid>/task/<pid>/schedstat` (Linux).
 */
export function mainThreadCpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

/**
 * CPU time every live thread of a process has run so far, in ms, from the scheduler's own
 * nanosecond counts (`/proc/<pid>/task/<tid>/schedstat`, Linux): finer than `/proc/<pid>/stat`'s
 * 10 ms ticks, for costs of a few ms. A thread that exits between two readings drops out.
 */
export function threadsCpuMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread exited since the listing
    }
  }
  return ns / 1e6;
}

/**
 * CPU ms every live thread of a process has run so far, by thread name (`/proc/<pid>/task/<tid>/comm`:
 * node's main thread, `libuv-worker`, `V8 Worker`, ...), from the scheduler's nanosecond counts.
 */
export function threadsCpuMsByName(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name =
        tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      out[name] = (out[name] ?? 0) + ns / 1e6;
    } catch {
      // the thread exited since the listing
    }
  }
  return out;
}

/**
 * CPU ms every live thread of a process has run so far, by thread id, with its name (as
 * `threadsCpuMsByName`): node's worker threads share one name, so a breakdown per thread needs
 * the id (the order of creation tells them apart: the ids rise).
 */
export function threadsCpuMsByTid(pid: number): Map<number, { name: string; ms: number }> {
  const out = new Map<number, { name: string; ms: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name =
        tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      out.set(Number(tid), { name, ms: ns / 1e6 });
    } catch {
      // the thread exited since the listing
    }
  }
  return out;
}
