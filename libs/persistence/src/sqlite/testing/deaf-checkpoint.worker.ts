/**
 * For the checkpointer spec: the real checkpoint thread, which checkpoints on its ticks but
 * never hears a `checkpoint` command (as a thread held up in a long fsync would not).
 */
import { runAlteredCheckpoints } from './altered-checkpoints';

runAlteredCheckpoints({
  command: (command, hear) => {
    if (command.type !== 'checkpoint') hear(command);
  },
});
