/**
 * For the checkpointer spec: the real checkpoint thread, which gets stuck (as in a file system
 * that never answers) on its first tick, after reporting that it is ready.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CheckpointReport, CheckpointWorkerData, runCheckpoints } from '../sqlite-checkpoint.loop';

const port = parentPort!;
runCheckpoints(
  {
    postMessage: (report: CheckpointReport) => {
      if (report.type === 'beat') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      port.postMessage(report);
    },
    on: (event, listener) => port.on(event, listener),
    close: () => port.close(),
  },
  workerData as CheckpointWorkerData,
);
