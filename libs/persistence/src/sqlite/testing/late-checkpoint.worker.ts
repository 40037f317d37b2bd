/**
 * For the checkpointer spec: the real checkpoint thread, which hears a `checkpoint` command
 * only 300 ms after it was sent (as a thread held up in a long fsync would).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CheckpointCommand, CheckpointWorkerData, runCheckpoints } from '../sqlite-checkpoint.loop';

const port = parentPort!;
let closed = false;
runCheckpoints(
  {
    postMessage: (report) => port.postMessage(report),
    on: (event, listener) =>
      port.on(event, (command: CheckpointCommand) => {
        if (command.type !== 'checkpoint') return listener(command);
        // a command the thread hears only after its connection closed is not heard at all
        setTimeout(() => closed || listener(command), 300);
      }),
    close: () => {
      closed = true;
      port.close();
    },
  },
  workerData as CheckpointWorkerData,
);
