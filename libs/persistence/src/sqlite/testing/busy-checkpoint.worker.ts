/**
 * For the checkpointer spec: the real checkpoint thread, whose tick checkpoints report what
 * SQLite reports when another connection is checkpointing (the main connection past its
 * backstop): -1 frames. The checkpoints a command asks for report as they ran.
 */
import { runAlteredCheckpoints } from './altered-checkpoints';

runAlteredCheckpoints({
  report: (report, post) =>
    post(
      report.type === 'beat' && report.frames && report.answers === undefined
        ? { ...report, frames: { log: -1, checkpointed: -1 } }
        : report,
    ),
});
