/**
 * For the checkpointer spec: the real checkpoint thread, whose tick checkpoints report what
 * SQLite reports when another connection is checkpointing (the main connection past its
 * backstop): -1 frames. The checkpoints a command asks for report as they ran.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CheckpointReport, CheckpointWorkerData, runCheckpoints } from '../sqlite-checkpoint.loop';

const port = parentPort!;
runCheckpoints(
  {
    postMessage: (report: CheckpointReport) =>
      port.postMessage(
        report.type === 'beat' && report.frames && report.answers === undefined
          ? { ...report, frames: { log: -1, checkpointed: -1 } }
          : report,
      ),
    on: (event, listener) => port.on(event, listener),
    close: () => port.close(),
  },
  workerData as CheckpointWorkerData,
);
