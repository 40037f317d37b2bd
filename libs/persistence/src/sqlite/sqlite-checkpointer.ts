import { Logger } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { once } from 'node:events';
import { extname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type {
  CheckpointCommand,
  CheckpointReport,
  CheckpointWorkerData,
  WalFrames,
} from './sqlite-checkpoint.loop';
import { WalIndexFrames, WalIndexHeader } from './sqlite-wal-index';

/** SQLite's own `wal_autocheckpoint`: the main connection's, whenever the thread is not up. */
export const AUTOCHECKPOINT_PAGES = 1000;
/**
 * The main connection's `wal_autocheckpoint` while the thread is up: a backstop only (a commit
 * that finds the WAL this long checkpoints it itself), so the WAL stays bounded even when the
 * thread falls behind. Five times PACE_FRAMES: in steady operation writers pause at twice the
 * mark at the latest (read from the wal-index header at each write), and the 12,000 frames above
 * that leave room for a large commit, or a copy still under way, without a checkpoint of the
 * whole WAL on the event loop. Measured (`status().peaks`): one write turn added at most 904
 * frames (a 500-packet sync at 1M links) and the WAL held at most 8,383 (a 1M-link catch-up);
 * docs/benchmarks.md, walpeaks.
 */
export const BACKSTOP_PAGES = 20000;
/**
 * From this many frames in the WAL the thread copies it while the writers go on, and they pause
 * for the rest (`SqliteCheckpointer.pace`). A pause costs its syncs whatever the WAL's length,
 * so the mark sets how often writers pause: at 2,000 a sync of 4 batches in flight (10k links)
 * went 13% slower than with no pauses at all, at 4,000 as fast; a 1M-link timesheet catch-up
 * went 8% faster at 4,000, its longest event-loop delay 20–22 ms against 18–19
 * (docs/benchmarks.md, pace4k).
 */
export const PACE_FRAMES = 4000;

export interface SqliteCheckpointerOptions {
  /** The thread checkpoints every this many ms while the WAL grows (100). */
  intervalMs?: number;
  /** ... once the WAL file is larger than this (1 MiB). */
  startBytes?: number;
  /**
   * The thread starts once a write finds this many frames in the WAL (256: 1 MiB of 4 KiB
   * pages, where it would start to checkpoint), not before: a store written to now and then
   * (a session sweep) has no thread.
   */
  startFrames?: number;
  /** No new frame for this long: the WAL is truncated and the thread idles (1,000 ms). */
  quietMs?: number;
  /** Writers pause for a checkpoint once the WAL holds this many frames (PACE_FRAMES). */
  paceFrames?: number;
  /** ... for this long at most (1,000 ms). */
  paceMaxMs?: number;
  /** No word from the thread for this long: it is stuck, ended and restarted (30,000 ms). */
  watchdogMs?: number;
  /** The first wait before a dead thread is restarted, doubled after each death (1,000 ms). */
  restartFirstMs?: number;
  /** ... up to this (60,000 ms). */
  restartMaxMs?: number;
  /**
   * The WAL's wal-index header, read at each write (the store's: it closes it after its last
   * connection, see `WalIndexHeader`); else one of the checkpointer's own, never closed.
   */
  walIndex?: WalIndexHeader;
  /** The thread's script (tests wrap the real one); `sqlite-checkpoint.worker` beside this file. */
  file?: string;
}

/** The thread's states (`CheckpointerStatus.thread`), each a label of its gauge. */
export const CHECKPOINT_THREAD_STATES = ['idle', 'starting', 'up', 'restarting', 'closed'] as const;

/** What `/health` and the metrics say of the checkpointer. */
export interface CheckpointerStatus {
  /** A thread has opened its connection and checkpoints (the main connection's backstop is up). */
  up: boolean;
  /**
   * `idle`: no write yet, the first starts a thread; `starting`: a thread is opening its
   * connection; `restarting`: none, one starts later.
   */
  thread: (typeof CHECKPOINT_THREAD_STATES)[number];
  /** The WAL's frames after the thread's last checkpoint (none yet: undefined). */
  frames?: WalFrames;
  /** Threads started so far (the first one and each restart). */
  starts: number;
  /** Times the writers paused for a checkpoint (`pace`). */
  pauses: number;
  /** Copies asked of the thread while the writers went on (`pace`). */
  copies: number;
  /**
   * A pause's checkpoint could not copy every frame: a reader of another connection holds them
   * back, and the writers no longer pause until a report shows every frame copied.
   */
  framesHeld: boolean;
  /**
   * Since the process started, as the write turns read the wal-index header: the most frames
   * the WAL held (`wal`), and the most added between two write turns (`turn`: one write's
   * frames, or a burst of another process's). For sizing BACKSTOP_PAGES from data: the writers
   * pause from 2 × PACE_FRAMES at the latest, so the WAL reaches the backstop only if a turn
   * adds more than the gap, or if pauses cannot help (a reader, a thread that answers late).
   */
  peaks: { wal: number; turn: number };
}

/** The thread's write after a pause's checkpoint ends this long before the writers go on. */
const UNTIL_MARGIN_MS = 50;
/** How long a closing thread gets to close its connection before it is terminated. */
const CLOSE_MS = 5000;

/**
 * Checkpoints the store's WAL on a thread of its own (`SQLITE_CHECKPOINTS=worker`), so that a
 * commit on the main connection no longer pays for copying WAL pages into the database file
 * (SQLite runs its automatic checkpoint inside whichever commit takes the WAL past 1,000
 * pages). The thread has its own connection to the file; see `runCheckpoints` for its loop.
 *
 * The thread starts with the first write of this process that finds `startFrames` in the WAL
 * (`pace`), not with the store: a store that is only read, or written to now and then, has no
 * thread, and no isolate of its own (~10 MiB of RSS). Until then the main connection
 * checkpoints as SQLite does by itself, at 1,000 pages.
 *
 * Supervised: a thread that dies is restarted after a wait that doubles with each death (up to
 * `restartMaxMs`; back to the first once a restarted thread reports); a thread that reports
 * nothing for `watchdogMs` (a checkpoint stuck in the file system) is terminated and restarted
 * the same way. While a thread is up the main connection's `wal_autocheckpoint` is
 * BACKSTOP_PAGES; while none is, SQLite's 1,000: the WAL never grows without bound. `close()`
 * ends the thread (its connection closed first) and gives the main connection its 1,000 back.
 */
export class SqliteCheckpointer {
  private readonly logger = new Logger(SqliteCheckpointer.name);
  private readonly data: CheckpointWorkerData;
  private readonly file: string;
  private readonly watchdogMs: number;
  private readonly restartFirstMs: number;
  private readonly restartMaxMs: number;
  private readonly paceFrames: number;
  private readonly paceMaxMs: number;
  private readonly startFrames: number;
  private readonly watchdog: NodeJS.Timeout;
  private worker?: Worker;
  private up = false;
  private frames?: WalFrames;
  /** Reports with frames received so far, and the count when the writers last paused. */
  private reports = 0;
  private pacedAt = 0;
  /** The WAL's frames (the wal-index header's) when the writers last paused. */
  private pausedAtFrames?: number;
  private readonly walIndex: WalIndexHeader;
  /** A checkpoint asked for that the thread has not answered yet (the writers wait: `pause`). */
  private asked?: { id: number; pause: boolean };
  /** Checkpoints asked for so far (their ids). */
  private asks = 0;
  /** A pause's checkpoint could not copy every frame: a reader holds them (until a report shows none). */
  private readerHolds = false;
  private pause?: { id: number; done: () => void; writers: Promise<void> };
  private pauses = 0;
  private copies = 0;
  private starts = 0;
  private lastWord = 0;
  private lastWatch = 0;
  private restartMs: number;
  private restartTimer?: NodeJS.Timeout;
  private closed = false;
  /** The WAL at the last write turn (undefined: unknown), and the peaks (`status`). */
  private lastSeen?: WalIndexFrames;
  private readonly peaks = { wal: 0, turn: 0 };

  constructor(
    private readonly main: Database.Database,
    path: string,
    options: SqliteCheckpointerOptions = {},
  ) {
    const intervalMs = options.intervalMs ?? 100;
    this.startFrames = options.startFrames ?? 256;
    this.watchdogMs = options.watchdogMs ?? 30_000;
    this.data = {
      path: resolve(path),
      intervalMs,
      startBytes: options.startBytes ?? 1024 * 1024,
      quietMs: options.quietMs ?? 1000,
      // several beats inside one watchdog period
      beatMs: Math.max(intervalMs, Math.floor(this.watchdogMs / 4)),
    };
    // the .ts next to this file under @swc-node/register; in the build, the worker's own bundle
    // next to main.js (scripts/bundle-api.ts emits it there, where __dirname points)
    this.file = options.file ?? join(__dirname, `sqlite-checkpoint.worker${extname(__filename)}`);
    this.restartFirstMs = options.restartFirstMs ?? 1000;
    this.restartMaxMs = options.restartMaxMs ?? 60_000;
    this.restartMs = this.restartFirstMs;
    this.paceFrames = options.paceFrames ?? PACE_FRAMES;
    this.paceMaxMs = options.paceMaxMs ?? 1000;
    this.walIndex = options.walIndex ?? new WalIndexHeader(this.data.path);
    this.setUp(false);
    this.lastWatch = performance.now();
    this.watchdog = setInterval(() => this.watch(), Math.max(10, this.watchdogMs / 4));
    this.watchdog.unref();
  }

  status(): CheckpointerStatus {
    const thread = this.up
      ? 'up'
      : this.closed
        ? 'closed'
        : this.worker
          ? 'starting'
          : this.starts === 0
            ? 'idle'
            : 'restarting';
    return {
      up: this.up,
      thread,
      frames: this.frames,
      starts: this.starts,
      pauses: this.pauses,
      copies: this.copies,
      framesHeld: this.readerHolds,
      peaks: { ...this.peaks },
    };
  }

  /** The main connection's `wal_autocheckpoint` now: BACKSTOP_PAGES while a thread is up. */
  autocheckpointPages(): number {
    return this.up ? BACKSTOP_PAGES : AUTOCHECKPOINT_PAGES;
  }

  /**
   * Called by the store's write turns before each write (`SqliteWriteTurns`): undefined to go
   * on, or a promise the writer awaits, holding its turn, so that no write of this process
   * comes before it resolves.
   *
   * Why: the WAL starts over from its beginning only when a write transaction begins with every
   * frame already copied into the database file. Under a steady stream of commits (a catch-up, a
   * rebuild, a sync of many batches) the thread's PASSIVE checkpoint never sees that: frames
   * come while it copies and syncs. The WAL then grows to BACKSTOP_PAGES, and from there every
   * commit of the main connection runs a checkpoint of its own, two fsyncs, on the event loop.
   *
   * So once the WAL holds PACE_FRAMES or more, the thread is asked to copy it at once while the
   * writers go on, and once what is left to copy is short (a quarter of the mark; or the WAL
   * holds twice the mark all the same) the writers pause: the thread copies the rest and, having
   * copied every frame, starts the WAL over with a write of its own (`runCheckpoints`), so that
   * the sync of the new WAL header is not the paused writer's. The WAL's frames and those copied
   * are read at each write from the wal-index header (`WalIndexHeader`), not taken from the
   * thread's last report: a report comes after a checkpoint, which on a busy disk takes 100–250
   * ms, and meanwhile a steady writer adds thousands of frames (a 1M-link catch-up took the WAL
   * from 5,000 reported frames past the backstop that way). And pausing for the whole copy, not
   * only its end, held a 1M-link catch-up's writers a third of its time. (Where that header
   * cannot be read, the last report's count stands in, and the writers pause for the whole copy.)
   * A report of -1 pauses too: the thread's checkpoint could not run because a commit of the
   * main connection was checkpointing (past the backstop).
   *
   * A pause lasts one checkpoint (a copy of the rest and a sync of the database file, after the
   * one the thread may be running), `paceMaxMs` at most; the writers wait by awaiting, and the
   * event loop serves reads meanwhile. Bounds: nothing is asked while a pause's checkpoint is
   * unanswered (a slow disk: the writers went on after `paceMaxMs`, and pausing them again would
   * only add waits), and one copy at a time. No pause while a reader holds frames back (a backup,
   * another process: until it ends the WAL cannot start over, pause or not), as told by a pause's
   * checkpoint that could not copy every frame (a copy's report cannot tell a reader from a commit
   * under way), until a report shows every frame copied (the thread's ticks report it: no copy
   * is asked meanwhile). And after a pause that did not start the WAL over
   * (the frames did not go down since), no pause until the thread reports again. The backstop
   * stays for what pauses cannot help: such readers, a thread that answers late, writers of
   * other processes.
   */
  pace(): Promise<void> | undefined {
    if (this.closed) return undefined;
    const now = this.walIndex.read();
    this.observe(now);
    if (this.starts === 0) {
      // the first write to find the WAL long enough starts the thread (it goes on meanwhile)
      if (now === undefined || now.frames >= this.startFrames) this.start();
      return undefined;
    }
    if (this.pause) return this.pause.writers;
    const worker = this.worker;
    // a pause's checkpoint unanswered: the disk is slow, and another would only add waits
    if (!this.up || !worker || this.asked?.pause) return undefined;
    const reported = this.frames;
    let step = this.next(reported, now);
    // a copy under way: the writers go on, unless the WAL grew to twice the mark meanwhile
    const short = now === undefined || now.frames < 2 * this.paceFrames;
    if (this.asked && (step === 'copy' || (step === 'pause' && short))) step = 'go on';
    if (step === 'go on') return undefined;
    const id = ++this.asks;
    this.asked = { id, pause: step === 'pause' };
    if (step === 'copy') {
      this.copies += 1;
      // the writers go on while the thread copies: no write of its own after it (until 0)
      worker.postMessage({ type: 'checkpoint', id, until: 0 } satisfies CheckpointCommand);
      return undefined;
    }
    this.pausedAtFrames = now?.frames;
    this.pacedAt = this.reports;
    this.pauses += 1;
    let resume!: () => void;
    const writers = new Promise<void>((resolve) => (resume = resolve));
    // the thread writes only before `until`: taken first, and early by a margin, since the timer
    // counts from the event loop's time, which may lag the clock
    const until = Date.now() + this.paceMaxMs - UNTIL_MARGIN_MS;
    const deadline = setTimeout(() => this.endPause(), this.paceMaxMs);
    const done = () => {
      clearTimeout(deadline);
      resume();
    };
    this.pause = { id, writers, done };
    worker.postMessage({ type: 'checkpoint', id, until } satisfies CheckpointCommand);
    return writers;
  }

  /** The peaks (`status`) with the header's count at this write turn. */
  private observe(now: WalIndexFrames | undefined): void {
    if (now === undefined) {
      // unknown now: the next known count is no single turn's growth
      this.lastSeen = undefined;
      return;
    }
    const last = this.lastSeen;
    if (last !== undefined) {
      // another salt (or fewer frames): the WAL started over since, and all of them are new
      const restarted = now.salt !== last.salt || now.frames < last.frames;
      const added = restarted ? now.frames : now.frames - last.frames;
      this.peaks.turn = Math.max(this.peaks.turn, added);
    }
    this.peaks.wal = Math.max(this.peaks.wal, now.frames);
    this.lastSeen = now;
  }

  /**
   * What a writer does now: go on; go on while the thread copies the WAL (`copy`); or wait for
   * the thread to copy the rest and start the WAL over (`pause`). `reported`: the thread's last
   * count; `now`: the header's.
   */
  private next(
    reported: WalFrames | undefined,
    now: WalIndexFrames | undefined,
  ): 'go on' | 'copy' | 'pause' {
    const reportedSince = this.pacedAt !== this.reports;
    // -1: the thread's checkpoint could not run, because another connection was checkpointing
    // (most often this one's commits, past the backstop): pause, so that the thread, not the
    // next commit, copies the rest and starts the WAL over
    if (reported && reported.log < 0 && reportedSince) return 'pause';
    if (now === undefined) {
      // a reader holds frames back: the WAL cannot start over until it ends
      if (this.readerHolds) return 'go on';
      const due = reportedSince && reported !== undefined && reported.log >= this.paceFrames;
      return due ? 'pause' : 'go on';
    }
    // the WAL started over since the last pause (its frames went down): that pause is done with
    if (this.pausedAtFrames !== undefined && now.frames < this.pausedAtFrames) {
      this.pausedAtFrames = undefined;
    }
    if (now.frames < this.paceFrames) return 'go on';
    // most of the WAL still to copy: the thread copies it while the writers go on; they pause
    // for the rest only (a short copy), or once the WAL is twice the mark all the same
    const rest = now.frames - now.backfilled;
    if (rest > this.paceFrames / 4 && now.frames < 2 * this.paceFrames) return 'copy';
    // a reader held frames back at the last pause: the WAL cannot start over until it ends, so no
    // pause, nor copy: the thread's ticks run while the WAL is this long, and the first report
    // with every frame copied tells the reader is done
    if (this.readerHolds) return 'go on';
    // a pause now is no repeat of one that could not help: the last one started the WAL over, or
    // the thread has reported since
    return reportedSince || this.pausedAtFrames === undefined ? 'pause' : 'go on';
  }

  /** Ends the thread (its connection closed first); the main connection checkpoints again. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    this.worker = undefined;
    this.setUp(false);
    if (!worker) return;
    const exited = once(worker, 'exit');
    worker.postMessage({ type: 'close' } satisfies CheckpointCommand);
    // a thread that does not end by itself (stuck in a checkpoint) is terminated
    const deadline = setTimeout(() => void worker.terminate(), CLOSE_MS);
    try {
      await exited;
    } finally {
      clearTimeout(deadline);
    }
  }

  private start(): void {
    const file = this.file;
    this.starts += 1;
    let worker: Worker;
    try {
      worker = new Worker(file, {
        // a TypeScript script needs the hook that compiles it (and resolves the @app/* aliases)
        execArgv: extname(file) === '.ts' ? ['-r', '@swc-node/register'] : [],
        workerData: this.data,
        stdout: false,
        stderr: false,
      });
    } catch (error) {
      // a thread that cannot be made (no memory for it, a bad option): commits checkpoint, as
      // while one is restarting, and another is tried later (a write does not fail for it)
      this.logger.error({ err: error }, 'The SQLite checkpoint thread could not start');
      this.restartLater();
      return;
    }
    this.worker = worker;
    // a checkpoint asked of a thread that is gone is answered by no one, and what its reports
    // said is old: the new thread's first report starts afresh
    this.asked = undefined;
    this.frames = undefined;
    this.readerHolds = false;
    this.pausedAtFrames = undefined;
    this.pacedAt = this.reports;
    this.lastWord = performance.now();
    worker.on('message', (report: CheckpointReport) => {
      if (worker !== this.worker) return;
      this.lastWord = performance.now();
      if (report.type === 'ready') return this.setUp(true);
      // a thread that works again: the next death waits the first wait again
      this.restartMs = this.restartFirstMs;
      if (report.frames) {
        this.frames = report.frames;
        this.reports += 1;
        // every frame copied: no reader holds any (any report: a copy's, a tick's, a pause's)
        if (report.frames.log >= 0 && report.frames.checkpointed === report.frames.log) {
          this.readerHolds = false;
        }
      }
      const asked = this.asked;
      if (report.answers !== undefined && report.answers === asked?.id) {
        this.asked = undefined;
        // a pause's checkpoint: the thread started the WAL over after it (when no reader held an
        // older snapshot; if one did, the next report pauses again), so this report pauses no one
        if (asked.pause) this.pacedAt = this.reports;
        // what a pause's checkpoint could not copy, no writer of this process was writing: a
        // reader of another connection holds it (a copy's or a tick's report cannot tell: a
        // commit under way during it holds frames back too)
        const frames = report.frames;
        // (only while the writers still wait: after paceMaxMs they write again meanwhile)
        const paused = report.answers === this.pause?.id;
        if (paused && frames && frames.log >= 0 && frames.checkpointed < frames.log) {
          this.readerHolds = true;
        }
        if (report.answers === this.pause?.id) this.endPause();
      }
    });
    worker.on('error', (error: Error) => {
      this.logger.error({ err: error }, 'The SQLite checkpoint thread failed');
    });
    worker.on('exit', (code) => {
      if (worker !== this.worker) return;
      this.worker = undefined;
      this.setUp(false);
      this.logger.warn(
        { exitCode: code, restartInMs: this.restartMs },
        'The SQLite checkpoint thread exited; commits checkpoint the WAL until it is restarted',
      );
      this.restartLater();
    });
    // never the reason a process stays up: close() ends it, and a WAL left behind is recovered
    // by the next open
    worker.unref();
  }

  /** The watchdog: a thread that said nothing for `watchdogMs` is stuck. */
  private watch(): void {
    const now = performance.now();
    // this thread's own event loop was held up (the reports may be waiting in its queue):
    // the silence is not the checkpoint thread's, look again next time
    const late = now - this.lastWatch > this.watchdogMs / 2;
    this.lastWatch = now;
    const worker = this.worker;
    if (!worker || late) {
      if (late) this.lastWord = Math.max(this.lastWord, now - this.watchdogMs / 4);
      return;
    }
    if (now - this.lastWord <= this.watchdogMs) return;
    this.worker = undefined;
    this.setUp(false);
    this.logger.warn(
      { silentMs: Math.round(now - this.lastWord), restartInMs: this.restartMs },
      'The SQLite checkpoint thread is stuck; it is terminated and restarted',
    );
    void worker.terminate();
    this.restartLater();
  }

  private restartLater(): void {
    if (this.closed) return;
    const wait = this.restartMs;
    this.restartMs = Math.min(this.restartMaxMs, this.restartMs * 2);
    this.restartTimer = setTimeout(() => {
      if (!this.closed) this.start();
    }, wait);
    this.restartTimer.unref();
  }

  /** The writers go on. */
  private endPause(): void {
    const pause = this.pause;
    this.pause = undefined;
    pause?.done();
  }

  private setUp(up: boolean): void {
    this.up = up;
    // a thread that is gone answers no checkpoint: its writers go on
    if (!up) this.endPause();
    if (this.main.open) {
      this.main.pragma(`wal_autocheckpoint = ${this.autocheckpointPages()}`);
    }
  }
}
