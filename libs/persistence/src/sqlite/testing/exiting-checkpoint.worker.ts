/**
 * For the checkpointer spec: the real checkpoint thread, which dies (exit code 3, as a crash
 * would) right after reporting its first checkpoint.
 */
import { runAlteredCheckpoints } from './altered-checkpoints';

runAlteredCheckpoints({
  report: (report, post) => {
    post(report);
    if (report.type === 'beat' && report.frames) process.exit(3);
  },
});
