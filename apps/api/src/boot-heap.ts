import { setFlagsFromString } from 'node:v8';

/**
 * The boot's young generation stays at its first size. V8 doubles the new space
 * (`--semi-space-growth-factor`, 2) whenever a scavenge finds much of it alive, and the boot
 * (the bundle's modules, Nest's container, the migrations' checks) keeps most of what it makes:
 * its semi-spaces reached 16 MiB each, and both were resident at idle (new space 32 MiB, 13 of
 * them garbage one second after the first /health). With a factor of 1 until the server
 * listens, the boot's survivors are promoted to the old space as before, the new space keeps
 * its first size, and the idle RSS is 15-20 MiB lower (docs/benchmarks.md, "bootlean"). Once
 * listening, V8's factor is set back, so the new space grows under load as it always did.
 *
 * Imported first by main.ts (before the modules it loads), so that their evaluation runs with
 * it; a process started with its own V8 flags (`--max-semi-space-size`) keeps them.
 */
setFlagsFromString('--semi-space-growth-factor=1');

/** V8's own default (`node --v8-options`), for the requests once the server listens. */
const GROWTH_FACTOR = 2;

/** The boot is over: the new space grows as V8 grows it by default. */
export function bootHeapDone(): void {
  setFlagsFromString(`--semi-space-growth-factor=${GROWTH_FACTOR}`);
}
