/**
 * For the checkpointer spec: the real checkpoint thread, which hears a `checkpoint` command
 * only 300 ms after it was sent (as a thread held up in a long fsync would).
 */
import { runAlteredCheckpoints } from './altered-checkpoints';

let closed = false;
runAlteredCheckpoints({
  command: (command, hear) => {
    if (command.type !== 'checkpoint') return hear(command);
    // a command the thread hears only after its connection closed is not heard at all
    setTimeout(() => closed || hear(command), 300);
  },
  close: () => {
    closed = true;
  },
});
