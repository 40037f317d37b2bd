/**
 * A kernel-state sampler for looking into event-loop stalls (Linux): every ~1 ms, on a worker
 * thread of its own (so the sampled main thread's stalls, GC pauses included, do not stop it),
 * it reads each thread's state from `/proc/<pid>/task/<tid>/stat` and, for a thread in state `D`
 * (uninterruptible, mostly a wait on the disk), the system call it is in from
 * `…/task/<tid>/syscall` and, for a call on a file descriptor (`fsync`, `fdatasync`, `pwrite64`,
 * `pread64`, `write`, `read`, `ftruncate`…), the file it points to (`readlink /proc/<pid>/fd/<n>`).
 *
 * An episode is a run of samples that found one thread in `D` in the same call on the same file;
 * its length is from its first sample to the first one that found the thread elsewhere, so it is
 * known to one sampling period (more where the sampler itself waited for a CPU). The summary
 * groups episodes by thread (`main`, else its name, `comm`, and tid) + call + file. Times are
 * `performance.timeOrigin + performance.now()` ms (the epoch), so they line up with any thread's
 * `performance.now()` by subtracting its `performance.timeOrigin`.
 *
 *     const sampler = await DstateSampler.start();
 *     … the work …
 *     const summary = await sampler.take(); // or stop()
 *
 * The sampler costs CPU (it reads every thread's stat file ~1,000 times a second; the summary
 * says how much): opt-in only, e.g. BENCH_DSTATE=1 in bench/verify.
 */
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface DstateRow {
  /**
   * `main` for the main thread (its tid is the pid), else the thread's name (`comm`) and tid:
   * Node 20 names none of its threads (all are `node`), so the tid tells them apart.
   */
  thread: string;
  /** The system call's name (or number); `none` when not in one (e.g. a page fault). */
  syscall: string;
  /** The file of the call's descriptor, or '' when not a call on a file descriptor. */
  file: string;
  /** Samples that found that thread in `D` in that call on that file. */
  samples: number;
  episodes: number;
  /** The longest episode: its length and start (epoch ms, see above). */
  longestMs: number;
  longestStartMs: number;
}

export interface DstateSummary {
  pid: number;
  /** Sampling passes (each reads every thread once), and when the first and last ran (epoch ms). */
  passes: number;
  fromMs: number;
  toMs: number;
  /** The longest time between two passes, ms: the sampler's own blind spot. */
  longestPassGapMs: number;
  /** The sampler thread's own CPU time from its first pass to its last, ms. */
  samplerCpuMs: number;
  /** By samples, most first. */
  rows: DstateRow[];
}

interface SamplerData {
  dstateSampler: { pid: number; intervalMs: number };
}

/** The names of some system calls, by number, per architecture (others print as `#<n>`). */
const SYSCALLS: Record<string, Record<number, string>> = {
  x64: {
    0: 'read',
    1: 'write',
    2: 'open',
    3: 'close',
    9: 'mmap',
    10: 'mprotect',
    11: 'munmap',
    17: 'pread64',
    18: 'pwrite64',
    26: 'msync',
    28: 'madvise',
    74: 'fsync',
    75: 'fdatasync',
    76: 'truncate',
    77: 'ftruncate',
    82: 'rename',
    87: 'unlink',
    202: 'futex',
    232: 'epoll_wait',
    257: 'openat',
    263: 'unlinkat',
    277: 'sync_file_range',
    281: 'epoll_pwait',
    285: 'fallocate',
    316: 'renameat2',
  },
  arm64: {
    22: 'epoll_pwait',
    35: 'unlinkat',
    46: 'ftruncate',
    47: 'fallocate',
    56: 'openat',
    57: 'close',
    63: 'read',
    64: 'write',
    67: 'pread64',
    68: 'pwrite64',
    82: 'fsync',
    83: 'fdatasync',
    84: 'sync_file_range',
    98: 'futex',
    215: 'munmap',
    222: 'mmap',
    226: 'mprotect',
    227: 'msync',
    233: 'madvise',
  },
};
/** Calls on a file descriptor (their first argument). */
const ON_FILE = new Set([
  'read',
  'write',
  'pread64',
  'pwrite64',
  'fsync',
  'fdatasync',
  'ftruncate',
  'fallocate',
  'sync_file_range',
]);

const epochMs = () => performance.timeOrigin + performance.now();

/** The worker's next message, or its error. */
function reply<T>(worker: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (message: T) => {
      worker.off('error', onError);
      resolve(message);
    };
    const onError = (error: Error) => {
      worker.off('message', onMessage);
      reject(error);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
  });
}

/** Samples /proc/<pid>/task/* from a worker thread: see the file's comment. */
export class DstateSampler {
  private failure?: Error;

  private constructor(private readonly worker: Worker) {
    // e.g. the process sampled is gone: told at the next take or stop
    worker.on('error', (error) => (this.failure = error));
  }

  static async start(pid = process.pid, intervalMs = 1): Promise<DstateSampler> {
    const data: SamplerData = { dstateSampler: { pid, intervalMs } };
    const worker = new Worker(__filename, { workerData: data });
    await reply(worker);
    return new DstateSampler(worker);
  }

  /** What it saw since it started or since the last `take`; it samples on, afresh. */
  take(): Promise<DstateSummary> {
    return this.ask('take');
  }

  /** Stops sampling; what it saw since it started or since the last `take`. */
  async stop(): Promise<DstateSummary> {
    try {
      return await this.ask('stop');
    } finally {
      await this.worker.terminate();
    }
  }

  private async ask(what: 'take' | 'stop'): Promise<DstateSummary> {
    if (this.failure) throw this.failure;
    const summary = reply<DstateSummary>(this.worker);
    this.worker.postMessage(what);
    return summary;
  }
}

/**
 * The summary as text lines, times in ms after `originMs` (an epoch ms, e.g. a task's start as
 * `performance.timeOrigin + performance.now()`).
 */
export function formatDstate(s: DstateSummary, originMs: number): string {
  const at = (ms: number) => `${ms - originMs >= 0 ? '+' : ''}${(ms - originMs).toFixed(1)}`;
  const lines = [
    `${s.passes} passes over every thread of ${s.pid}, ${at(s.fromMs)} to ${at(s.toMs)} ms ` +
      `(longest time between two ${s.longestPassGapMs.toFixed(1)} ms; the sampler's own CPU ` +
      `${s.samplerCpuMs.toFixed(0)} ms)`,
  ];
  if (s.rows.length === 0) lines.push('  no thread seen in D');
  for (const r of s.rows)
    lines.push(
      `  D: ${r.thread}, ${r.syscall}${r.file ? ` ${r.file}` : ''}: ${r.samples} samples, ` +
        `${r.episodes} episodes, longest ${r.longestMs.toFixed(1)} ms at ${at(r.longestStartMs)} ms`,
    );
  return lines.join('\n');
}

/** The sampler, on its worker thread. */
function sample(pid: number, intervalMs: number): void {
  const names = SYSCALLS[process.arch] ?? {};
  const self = readlinkSync('/proc/thread-self').split('/').pop();
  const buf = Buffer.alloc(4096);
  const threads = new Map<string, number>();
  let listed = false;
  const list = () => {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch (error) {
      // no such process at the start is an error; one that exited since, the end of sampling
      if (!listed) throw error;
      clearInterval(timer);
      return;
    }
    listed = true;
    for (const tid of tids) {
      if (tid === self || threads.has(tid)) continue;
      try {
        threads.set(tid, openSync(`/proc/${pid}/task/${tid}/stat`, 'r'));
      } catch {
        // the thread exited since the listing
      }
    }
  };
  const read = (fd: number) => buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
  interface Episode {
    key: string;
    start: number;
  }
  const open = new Map<string, Episode>();
  const rows = new Map<string, DstateRow>();
  const close = (tid: string, at: number) => {
    const episode = open.get(tid);
    if (!episode) return;
    open.delete(tid);
    const row = rows.get(episode.key)!;
    row.episodes++;
    if (at - episode.start > row.longestMs) {
      row.longestMs = at - episode.start;
      row.longestStartMs = episode.start;
    }
  };
  const where = (tid: string): { syscall: string; file: string } => {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'latin1').trim();
    } catch {
      return { syscall: '?', file: '' };
    }
    const [nr, fdArg] = text.split(' ');
    // it left D between the two reads
    if (nr === 'running') return { syscall: '? (running by the time its call was read)', file: '' };
    if (nr === '-1') return { syscall: 'none', file: '' };
    const syscall = names[Number(nr)] ?? `#${nr}`;
    if (!ON_FILE.has(syscall)) return { syscall, file: '' };
    try {
      return { syscall, file: readlinkSync(`/proc/${pid}/fd/${parseInt(fdArg, 16)}`) };
    } catch {
      return { syscall, file: `fd ${parseInt(fdArg, 16)}` };
    }
  };
  let passes = 0;
  let fromMs = NaN;
  let lastPass = NaN;
  let longestPassGapMs = 0;
  const pass = () => {
    // new threads, every 100 passes (a listing costs more than a pass) or when none is left
    if (passes % 100 === 0 || threads.size === 0) list();
    const at = epochMs();
    for (const [tid, fd] of threads) {
      let stat: string;
      try {
        stat = read(fd);
      } catch {
        // the thread exited
        closeSync(fd);
        threads.delete(tid);
        close(tid, at);
        continue;
      }
      const paren = stat.lastIndexOf(')');
      if (stat[paren + 2] !== 'D') {
        close(tid, at);
        continue;
      }
      // read each time: a new thread has its creator's name until it sets its own
      const name = stat.slice(stat.indexOf('(') + 1, paren);
      const thread = tid === String(pid) ? 'main' : `${name} ${tid}`;
      const { syscall, file } = where(tid);
      const key = JSON.stringify([thread, syscall, file]);
      if (open.get(tid)?.key !== key) {
        close(tid, at);
        open.set(tid, { key, start: at });
      }
      let row = rows.get(key);
      if (!row) {
        row = { thread, syscall, file, samples: 0, episodes: 0, longestMs: 0, longestStartMs: at };
        rows.set(key, row);
      }
      row.samples++;
    }
    if (passes > 0) longestPassGapMs = Math.max(longestPassGapMs, at - lastPass);
    else fromMs = at;
    lastPass = at;
    passes++;
  };
  const cpuMs = () =>
    Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1e6;
  let cpu0 = cpuMs();
  pass();
  const timer = setInterval(pass, intervalMs);
  parentPort!.on('message', (what: 'take' | 'stop') => {
    if (what === 'stop') clearInterval(timer);
    // an episode still on ends at the last pass (the next pass that finds it starts another)
    for (const tid of open.keys()) close(tid, lastPass);
    const summary: DstateSummary = {
      pid,
      passes,
      fromMs,
      toMs: lastPass,
      longestPassGapMs,
      samplerCpuMs: cpuMs() - cpu0,
      rows: [...rows.values()].sort((a, b) => b.samples - a.samples),
    };
    parentPort!.postMessage(summary);
    // the descriptors are the process's: not closed by the worker's end
    if (what === 'stop') for (const fd of threads.values()) closeSync(fd);
    rows.clear();
    passes = 0;
    longestPassGapMs = 0;
    cpu0 = cpuMs();
  });
  parentPort!.postMessage('ready');
}

if (!isMainThread && (workerData as Partial<SamplerData> | null)?.dstateSampler) {
  const { pid, intervalMs } = (workerData as SamplerData).dstateSampler;
  sample(pid, intervalMs);
}
