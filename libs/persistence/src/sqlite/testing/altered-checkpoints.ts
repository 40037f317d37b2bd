import { parentPort, workerData } from 'node:worker_threads';
import {
  CheckpointCommand,
  CheckpointReport,
  CheckpointWorkerData,
  runCheckpoints,
} from '../sqlite-checkpoint.loop';

/** What a faulty thread of the checkpointer spec does to its channel. */
export interface ChannelAlteration {
  /** Each report on its way out (`post` sends it, or another). */
  report?: (report: CheckpointReport, post: (report: CheckpointReport) => void) => void;
  /** Each command on its way in (`hear` gives it to the thread's loop). */
  command?: (command: CheckpointCommand, hear: (command: CheckpointCommand) => void) => void;
  /** When the loop closes the channel. */
  close?: () => void;
}

/** The real checkpoint thread (`runCheckpoints`) on this worker's port, its channel altered. */
export function runAlteredCheckpoints(alter: ChannelAlteration): void {
  const port = parentPort!;
  const post = (report: CheckpointReport) => port.postMessage(report);
  runCheckpoints(
    {
      postMessage: (report) => (alter.report ? alter.report(report, post) : post(report)),
      on: (event, listener) =>
        port.on(event, (command: CheckpointCommand) =>
          alter.command ? alter.command(command, listener) : listener(command),
        ),
      close: () => {
        alter.close?.();
        port.close();
      },
    },
    workerData as CheckpointWorkerData,
  );
}
