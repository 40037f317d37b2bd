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
 * Once listening, the old generation also gets room for the requests' external memory
 * (`--heap-growing-percent`, below): V8 counts the ArrayBuffers allocated since its last
 * mark-compact against the old generation's limit, and after a mark-compact under load it
 * leaves ~8 MiB of room above the live heap (plus the new space's size then). A 16 MiB vault
 * store or read holds more than that at once (the body's or plaintext's Buffers), so each one
 * started a full mark-compact, which left the same small room for the next: a mark-compact per
 * request, 2-3x the vault's CPU (docs/benchmarks.md, "heapfix"). Booting with a small young
 * generation reaches that state at the first requests (the boot's promoted leftovers eat the room
 * its last mark-compact left); V8's default reached it later, after any mark-compact under load.
 *
 * Imported first by main.ts (before the modules it loads), so that their evaluation runs with
 * it. An operator's own setting is left alone: `--semi-space-growth-factor` or
 * `--heap-growing-percent` on node's command line (Node refuses both in NODE_OPTIONS), or
 * `--max-semi-space-size` there or in NODE_OPTIONS, in any spelling V8 accepts (one dash or two,
 * `_` or `-`). A value set by a `-r` preload with `v8.setFlagsFromString` cannot be seen and is
 * overwritten. So is a debug build of V8, or a release one with its checks on (DCHECKs), whose
 * checks reject a growth factor of 1.
 */
export const BOOT_GROWTH_FACTOR = 1;

/** V8's own default (`node --v8-options`), for the requests once the server listens. */
export const GROWTH_FACTOR = 2;

/**
 * The old generation's limit once listening: 3x what a mark-compact leaves alive (~20-25 MiB of
 * live heap: ~45 MiB of room, a 16 MiB file's request ~2 x 16 MiB of Buffers at once). That
 * covers one 16 MiB request at a time, not more: a file over ~22 MiB (VAULT_MAX_FILE_BYTES is
 * 32 MiB by default), or 2-3 overlapping 16 MiB requests, still start a full mark-compact per
 * request, through V8's external-memory limit, which this flag does not set.
 */
export const HEAP_GROWING_PERCENT = 200;

/**
 * node options given by the operator: NODE_OPTIONS (split as Node splits it, quotes dropped) and
 * node's own command line.
 */
function operatorOptions(env: NodeJS.ProcessEnv, execArgv: readonly string[]): string[] {
  const nodeOptions = (env.NODE_OPTIONS ?? '').split(/\s+/).map((o) => o.replace(/["']/g, ''));
  return [...nodeOptions, ...execArgv].filter(Boolean);
}

/** An option's name as V8 reads it: `--`, then `-` for `_` (`-a_b=1` is `--a-b`). */
function optionName(option: string): string {
  const name = option.split('=', 1)[0];
  return name.replace(/^--?/, '--').replace(/_/g, '-');
}

/** Whether the operator set a V8 flag, in any spelling V8 accepts, with or without `=value`. */
function operatorSets(options: readonly string[], flag: string): boolean {
  return options.some((option) => optionName(option) === `--${flag}`);
}

/**
 * Whether this V8 runs without its debug checks: not a debug build, nor a release one with
 * DCHECKs on (`dcheck_always_on`), whose checks reject a growth factor of 1.
 */
export function releaseV8(config: Partial<NodeJS.ProcessConfig> = process.config): boolean {
  const variables = (config.variables ?? {}) as Record<string, unknown>;
  const on = (value: unknown) => [1, true, '1', 'true'].includes(value as never);
  return (
    config.target_defaults?.default_configuration !== 'Debug' &&
    !on(variables.dcheck_always_on) &&
    !on(variables.is_debug)
  );
}

export interface BootHeapPlan {
  /** Flags to set now, while booting. */
  boot: string[];
  /** Flags to set once the server listens. */
  listening: string[];
}

/** What this process sets, and when: nothing the operator set, nothing on a debug V8. */
export function bootHeapPlan(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
  release: boolean = releaseV8(),
): BootHeapPlan {
  const options = operatorOptions(env, execArgv);
  const young =
    release &&
    !operatorSets(options, 'semi-space-growth-factor') &&
    !operatorSets(options, 'max-semi-space-size');
  return {
    boot: young ? [`--semi-space-growth-factor=${BOOT_GROWTH_FACTOR}`] : [],
    listening: [
      ...(young ? [`--semi-space-growth-factor=${GROWTH_FACTOR}`] : []),
      ...(operatorSets(options, 'heap-growing-percent')
        ? []
        : [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]),
    ],
  };
}

const plan = bootHeapPlan();
for (const flag of plan.boot) setFlagsFromString(flag);
let done = false;

/** The boot is over: the new space grows as V8 grows it by default, the old one has room. */
export function bootHeapDone(): void {
  for (const flag of plan.listening) setFlagsFromString(flag);
  done = true;
}

/** Whether bootHeapDone() has run (for the spec that main.ts calls it). */
export function bootHeapIsDone(): boolean {
  return done;
}
