import { statSync } from 'node:fs';
import { openSqliteConnection } from './sqlite-connection';

/**
 * What the checkpoint thread adds to its nice value (Linux, set by its script): on a machine
 * whose cores are all busy, the threads serving requests (the event loop, the ledger's append,
 * the packet checks) come first, and the copy of the WAL takes what they leave. Its share does
 * not go to zero (10 steps weigh about a tenth), and when the WAL grows anyway the writers pause
 * for it (`pace`), which frees the cores it needs. The loop below queues no work on libuv's
 * threadpool (no async fs or crypto): a pool thread started by this one would inherit its value.
 */
export const CHECKPOINT_THREAD_NICE_STEP = 10;

/** What the checkpoint thread is started with (see `SqliteCheckpointer` for the defaults). */
export interface CheckpointWorkerData {
  /** The database file (absolute). */
  path: string;
  /** A tick every this many ms. */
  intervalMs: number;
  /** Checkpoints start once the WAL file is larger than this. */
  startBytes: number;
  /** No new frame for this long after a burst: the WAL is truncated and the thread idles again. */
  quietMs: number;
  /** An idle thread still reports this often (the supervisor's watchdog listens for it). */
  beatMs: number;
}

/** The WAL's frames after a checkpoint, as `PRAGMA wal_checkpoint` counts them. */
export interface WalFrames {
  /** Frames in the WAL. */
  log: number;
  /** Of those, frames copied into the database file. */
  checkpointed: number;
}

/**
 * Thread → supervisor. `frames` is there when the tick ran a checkpoint; `answers`, when the
 * tick was the checkpoint a `checkpoint` command asked for (its id).
 */
export type CheckpointReport =
  { type: 'ready' } | { type: 'beat'; frames?: WalFrames; answers?: number };

/**
 * Supervisor → thread: `checkpoint` runs a PASSIVE checkpoint now (the writers wait for it,
 * see `SqliteCheckpointer.pace`), `close` ends the thread.
 */
export type CheckpointCommand =
  { type: 'checkpoint'; id: number; until: number } | { type: 'close' };

/** The thread's side of its channel to the supervisor (`parentPort`). */
export interface CheckpointPort {
  postMessage(report: CheckpointReport): void;
  on(event: 'message', listener: (command: CheckpointCommand) => void): void;
  close(): void;
}

interface CheckpointRow {
  busy: number;
  log: number;
  checkpointed: number;
}

/**
 * The checkpoint thread's loop. Idle, it only looks at the WAL file's size each tick. Once the WAL
 * is larger than `startBytes`, each tick runs a PASSIVE checkpoint: it copies what it can without
 * waiting for any reader or writer (the main connection keeps committing meanwhile), and once every
 * frame is copied the main connection's next commit starts the WAL over from its beginning, so the
 * file stops growing. When no frame has been added for `quietMs`, a TRUNCATE checkpoint empties the
 * file and the thread idles again. The connection never waits for a lock (busy_timeout 0): a
 * checkpoint that cannot run now (a TRUNCATE while a commit is under way) runs on a later tick, and
 * a TRUNCATE waiting for readers never holds the main connection's writers up. A `checkpoint`
 * command runs a tick at once, whatever the WAL's size, and its report answers the command's id
 * (the supervisor's writers wait for it: `SqliteCheckpointer.pace`); when that checkpoint copied
 * every frame while the writers still wait, the thread also writes once (the database header's
 * `user_version`, unchanged), which starts the WAL over here: the first frame after a restart
 * syncs the WAL's new header, and on a busy disk that sync takes up to tens of ms, which would
 * otherwise be the next writer's, on the event loop. A SQLite error is thrown: the thread dies
 * of it and its supervisor starts another.
 */
export function runCheckpoints(port: CheckpointPort, data: CheckpointWorkerData): void {
  const db = openSqliteConnection(data.path);
  db.pragma('busy_timeout = 0');
  const passive = db.prepare<[], CheckpointRow>('PRAGMA wal_checkpoint(PASSIVE)');
  const truncate = db.prepare<[], CheckpointRow>('PRAGMA wal_checkpoint(TRUNCATE)');
  // a write that changes nothing (the header's user_version, rewritten as it is): the first
  // write after a complete checkpoint starts the WAL over, and syncs the WAL's new header
  const readVersion = db.prepare<[], { user_version: number }>('PRAGMA user_version');
  const restart = db.transaction(() => {
    db.pragma(`user_version = ${readVersion.get()!.user_version}`);
  }).immediate;
  const wal = `${data.path}-wal`;
  let active = false;
  let lastLog = -1;
  let quietSince = 0;
  let lastBeat = 0;
  let timer: NodeJS.Timeout | undefined;

  const startOver = () => {
    try {
      restart();
    } catch (error) {
      // another writer (another process, or a recovery) holds the lock: its write starts the
      // WAL over instead, no harm
      if (!String((error as { code?: string }).code).startsWith('SQLITE_BUSY')) throw error;
    }
  };

  const tick = (answers?: number, until = 0) => {
    const now = Date.now();
    let frames: WalFrames | undefined;
    // a checkpoint asked for runs whatever the WAL's size
    if (answers !== undefined) active = true;
    if (!active) active = (statSync(wal, { throwIfNoEntry: false })?.size ?? 0) > data.startBytes;
    if (active) {
      const row = passive.get()!;
      frames = { log: row.log, checkpointed: row.checkpointed };
      // the supervisor's writers wait for this checkpoint: with every frame copied, this
      // thread starts the WAL over itself, so that the sync of its new header (a wait on a
      // busy disk) is not the next writer's, on the event loop
      // (only while they wait: past `until` they went on, and this write would take the lock
      // from under them, its sync and all)
      const waiting = answers !== undefined && Date.now() < until;
      if (waiting && row.log > 0 && row.checkpointed === row.log) startOver();
      if (row.log !== lastLog || row.checkpointed < row.log) {
        lastLog = row.log;
        quietSince = now;
      } else if (now - quietSince >= data.quietMs) {
        const done = truncate.get()!;
        if (done.busy === 0) {
          frames = { log: done.log, checkpointed: done.checkpointed };
          active = false;
          lastLog = -1;
        }
      }
    }
    if (frames || now - lastBeat >= data.beatMs) {
      port.postMessage({ type: 'beat', frames, answers });
      lastBeat = now;
    }
    timer = setTimeout(() => tick(), data.intervalMs);
  };

  port.on('message', (command) => {
    clearTimeout(timer);
    if (command.type === 'checkpoint') return tick(command.id, command.until);
    db.close();
    // nothing left to keep the thread alive: it ends
    port.close();
  });
  port.postMessage({ type: 'ready' });
  timer = setTimeout(() => tick(), data.intervalMs);
}
