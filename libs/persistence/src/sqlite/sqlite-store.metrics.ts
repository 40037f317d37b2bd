import { Injectable, Optional } from '@nestjs/common';
import { Counter, Gauge, MetricsRegistry } from '@app/common';
import { Store } from '../store';
import { BACKSTOP_PAGES, CHECKPOINT_THREAD_STATES } from './sqlite-checkpointer';
import { SqliteStore } from './sqlite-store';

/**
 * The checkpoint thread's gauges (`SQLITE_CHECKPOINTS=worker` only), read from its supervisor
 * on each scrape: whether a thread is up, its state (`idle` until the first write that finds
 * the WAL long enough: alert on `restarting`, not on `up` 0), and the WAL's frames after its
 * last checkpoint (`log` in the WAL, `checkpointed` of them copied into the database file; both
 * 0 after the WAL was truncated). A `log` that keeps climbing while `checkpoint_thread_up` is 1
 * means checkpoints fall behind the commits (a long reader holds them back, or the disk is
 * slow). And the times the writers paused for a checkpoint, so that the WAL could start over
 * (`SqliteCheckpointer.pace`). And the WAL's peaks: a `wal` peak near the backstop means
 * commits checkpointed on the event loop, or nearly did.
 */
@Injectable()
export class SqliteStoreMetrics {
  constructor(store: Store, @Optional() registry?: MetricsRegistry) {
    const checkpointer = store instanceof SqliteStore ? store.checkpointer : undefined;
    if (!registry || !checkpointer) return;
    new Gauge({
      name: 'mdai_sqlite_checkpoint_thread_up',
      help: 'Whether the thread that checkpoints the SQLite WAL is up (0: not started yet, or restarting; commits checkpoint meanwhile)',
      registers: [registry],
      collect() {
        this.set(checkpointer.status().up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mdai_sqlite_checkpoint_thread',
      help: 'The state of the thread that checkpoints the SQLite WAL, 1 for the current one (idle: not started, no write has found the WAL long enough yet; restarting: down, one starts later)',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const now = checkpointer.status().thread;
        for (const state of CHECKPOINT_THREAD_STATES) this.set({ state }, state === now ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mdai_sqlite_wal_frames',
      help: "Frames in the SQLite WAL (state=log) and of those copied into the database file (state=checkpointed), after the checkpoint thread's last checkpoint",
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const frames = checkpointer.status().frames;
        this.set({ state: 'log' }, frames?.log ?? 0);
        this.set({ state: 'checkpointed' }, frames?.checkpointed ?? 0);
      },
    });
    new Gauge({
      name: 'mdai_sqlite_wal_frames_peak',
      help: `Since the process started, as its write turns found the SQLite WAL: the most frames it held (of=wal; the main connection checkpoints in its commits from ${BACKSTOP_PAGES}), and the most added between two write turns (of=turn)`,
      labelNames: ['of'],
      registers: [registry],
      collect() {
        const { wal, turn } = checkpointer.status().peaks;
        this.set({ of: 'wal' }, wal);
        this.set({ of: 'turn' }, turn);
      },
    });
    let pauses = 0;
    new Counter({
      name: 'mdai_sqlite_write_pauses_total',
      help: "Times this process's SQLite writers paused for a checkpoint of the thread, so that a WAL that could not start over by itself did (see SqliteCheckpointer.pace)",
      registers: [registry],
      collect() {
        const now = checkpointer.status().pauses;
        this.inc(now - pauses);
        pauses = now;
      },
    });
  }
}
