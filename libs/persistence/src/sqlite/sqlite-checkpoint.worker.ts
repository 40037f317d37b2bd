/**
 * The thread of `SqliteCheckpointer`: its own connection to the store's file, which copies the
 * WAL's frames into the database file (`PRAGMA wal_checkpoint`) so that the main connection's
 * commits do not have to. It imports only the connection's settings and the loop below.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runCheckpoints } from './sqlite-checkpoint.loop';
import type { CheckpointWorkerData } from './sqlite-checkpoint.loop';

if (!parentPort) throw new Error('the SQLite checkpoint thread runs inside a worker thread only');
runCheckpoints(parentPort, workerData as CheckpointWorkerData);
