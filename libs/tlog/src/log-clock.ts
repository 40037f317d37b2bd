/**
 * The clock checkpoints are signed and verified by: the system clock, not the application's
 * `Clock` (business time, which tests and replays move). Key windows are real times
 * (`keys:rotate`), and along a log the times signed into checkpoints must not go back, whichever
 * process signed them: a process on a moved clock beside others on the real one would sign a
 * history that goes back and forth.
 */
export const LOG_CLOCK = Symbol('LOG_CLOCK');
