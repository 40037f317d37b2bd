/**
 * For the checkpointer spec: the real checkpoint thread, which gets stuck (as in a file system
 * that never answers) on its first tick, after reporting that it is ready.
 */
import { runAlteredCheckpoints } from './altered-checkpoints';

runAlteredCheckpoints({
  report: (report, post) => {
    if (report.type === 'beat') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    post(report);
  },
});
