/**
 * For the checkpointer spec: the real checkpoint thread, which dies (exit code 3, as a crash
 * would) right after reporting its first checkpoint.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CheckpointReport, CheckpointWorkerData, runCheckpoints } from '../sqlite-checkpoint.loop';

const port = parentPort!;
runCheckpoints(
  {
    postMessage: (report: CheckpointReport) => {
      port.postMessage(report);
      if (report.type === 'beat' && report.frames) process.exit(3);
    },
    on: (event, listener) => port.on(event, listener),
    close: () => port.close(),
  },
  workerData as CheckpointWorkerData,
);
