/**
 * For the checkpointer spec: the real checkpoint thread, which checkpoints on its ticks but
 * never hears a `checkpoint` command (as a thread held up in a long fsync would not).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CheckpointCommand, CheckpointWorkerData, runCheckpoints } from '../sqlite-checkpoint.loop';

const port = parentPort!;
runCheckpoints(
  {
    postMessage: (report) => port.postMessage(report),
    on: (event, listener) =>
      port.on(event, (command: CheckpointCommand) => {
        if (command.type !== 'checkpoint') listener(command);
      }),
    close: () => port.close(),
  },
  workerData as CheckpointWorkerData,
);
