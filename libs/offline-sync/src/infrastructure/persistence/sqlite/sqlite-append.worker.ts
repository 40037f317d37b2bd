/**
 * The worker-thread script of the ledger's append thread (`SqliteAppendThread`): its own
 * connection to the store's file (`workerData.path`, the store's settings), on which it runs
 * `SqliteChainAppender.append` for each task. It imports only the append and what it uses.
 */
import { workerData } from 'node:worker_threads';
import { serveWorkerTasks } from '@app/common/workers/serve-worker-tasks';
import { openSqliteConnection } from '@app/persistence/sqlite/sqlite-connection';
import {
  AppendText,
  AppendTextResults,
  LinkMacKey,
  SqliteChainAppender,
} from './sqlite-chain-appender';

export interface AppendThreadData {
  path: string;
  /** The key of the links' store MACs (handed over in memory, never logged). */
  mac?: LinkMacKey;
}

/** One append: its entries, and the `wal_autocheckpoint` its connection takes first. */
export interface AppendTask {
  entries: AppendText[];
  /**
   * The store connection's at the time the append was asked (`SqliteStoreHandle`): its commits
   * checkpoint as the store's own do, a backstop beside a checkpoint thread that is up, SQLite's
   * 1,000 while none is.
   */
  autocheckpointPages: number;
}

const { path, mac } = workerData as AppendThreadData;
const db = openSqliteConnection(path);
let autocheckpointPages = -1;
// 16 MiB of page cache, not the store's 64: every commit of the store's own connection (a
// seal, a timesheet day) empties this cache, so it holds little more than one batch's pages
db.pragma('cache_size = -16384');
// every commit of this connection is a ledger append, synced before it returns (a punch is
// acknowledged once here, and must survive a power loss: `appendImmediate`); set once, not per
// append
db.pragma('synchronous = FULL');
const appender = new SqliteChainAppender(db, mac);

serveWorkerTasks<AppendTask, AppendTextResults>((task) => {
  if (task.autocheckpointPages !== autocheckpointPages) {
    db.pragma(`wal_autocheckpoint = ${task.autocheckpointPages}`);
    autocheckpointPages = task.autocheckpointPages;
  }
  return appender.append(task.entries);
});
