/**
 * The worker-thread script of the ledger's append thread (`SqliteAppendThread`): its own
 * connection to the store's file (`workerData.path`, the store's settings), on which it runs
 * `SqliteChainAppender.append` for each task. It imports only the append and what it uses.
 */
import { workerData } from 'node:worker_threads';
import { serveWorkerTasks } from '@app/common/workers/serve-worker-tasks';
import { openSqliteConnection } from '@app/persistence/sqlite/sqlite-store';
import { AppendText, AppendTextResult, SqliteChainAppender } from './sqlite-chain-appender';

export interface AppendThreadData {
  path: string;
}

const appender = new SqliteChainAppender(
  openSqliteConnection((workerData as AppendThreadData).path),
);

serveWorkerTasks<AppendText[], AppendTextResult[]>((entries) => appender.append(entries));
