/**
 * The worker-thread script of the ledger's append thread (`SqliteAppendThread`): its own
 * connection to the store's file (`workerData.path`, the store's settings), on which it runs
 * `SqliteChainAppender.append` for each task. It imports only the append and what it uses.
 */
import { workerData } from 'node:worker_threads';
import { serveWorkerTasks } from '@app/common/workers/serve-worker-tasks';
import { openSqliteConnection } from '@app/persistence/sqlite/sqlite-connection';
import { AppendText, AppendTextResult, SqliteChainAppender } from './sqlite-chain-appender';

export interface AppendThreadData {
  path: string;
  /** The connection's `wal_autocheckpoint`: the main connection's backstop while a checkpoint thread runs. */
  autocheckpointPages: number;
}

const { path, autocheckpointPages } = workerData as AppendThreadData;
const db = openSqliteConnection(path);
db.pragma(`wal_autocheckpoint = ${autocheckpointPages}`);
// 16 MiB of page cache, not the store's 64: every commit of the store's own connection (a
// seal, a timesheet day) empties this cache, so it holds little more than one batch's pages
db.pragma('cache_size = -16384');
const appender = new SqliteChainAppender(db);

serveWorkerTasks<AppendText[], AppendTextResult[]>((entries) => appender.append(entries));
