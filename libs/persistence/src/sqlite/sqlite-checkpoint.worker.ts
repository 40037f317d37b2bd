/**
 * The thread of `SqliteCheckpointer`: its own connection to the store's file, which copies the
 * WAL's frames into the database file (`PRAGMA wal_checkpoint`) so that the main connection's
 * commits do not have to, at a lower priority than the threads serving requests (Linux). It
 * imports only the connection's settings, the loop below and the priority helper.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority } from '@app/common/workers/thread-priority';
import { CHECKPOINT_THREAD_NICE_STEP, runCheckpoints } from './sqlite-checkpoint.loop';
import type { CheckpointWorkerData } from './sqlite-checkpoint.loop';

if (!parentPort) throw new Error('the SQLite checkpoint thread runs inside a worker thread only');
lowerThreadPriority(CHECKPOINT_THREAD_NICE_STEP);
runCheckpoints(parentPort, workerData as CheckpointWorkerData);
