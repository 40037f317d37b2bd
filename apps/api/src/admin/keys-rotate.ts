/**
 * `npm run keys:rotate [-- token|log|mac]`: replaces the offline-token key (ES256) and/or the
 * transparency-log key (Ed25519) with fresh ones; the old public keys join the key history
 * (OFFLINE_TOKEN_RETIRED_KEYS, TLOG_RETIRED_KEYS) with their signing window, so tokens and
 * checkpoints they signed keep verifying. The old key's window runs on for a grace
 * (KEY_ROTATION_GRACE_SECONDS, default an hour) after the rotation: replicas running on the old
 * key sign with it until they restart, and what they sign inside the grace verifies. Restart
 * every replica before the grace ends (the command prints the time).
 *
 * `mac` (never by default) replaces STORE_MAC_KEY, the secret of the server's tags over rows it
 * writes; the old one joins STORE_MAC_RETIRED_KEYS, under which the tags it made still verify.
 * A `log` rotation keeps the key the tags made before STORE_MAC_KEY were made under (derived
 * from the log key) in STORE_MAC_RETIRED_KEYS: it changes no tag.
 *
 * Outside production it edits `<DATA_DIR>/secrets.json` (and refuses `--out`, nothing
 * rotated: the new values would not be where the operator looks). In production (NODE_ENV=production)
 * it reads the current values from the environment and writes the new ones to the file given
 * with `--out <file>` (mode 0600) for the operator's secret store; it never prints keys. There
 * it refuses `mac` without STORE_MAC_KEY in the environment, and `log` or `mac` with
 * STORE_MAC_KEY but without STORE_MAC_RETIRED_KEYS unless `--no-history` (there are none).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '@app/common';
import {
  RotatableKey,
  StoreMacStep,
  rotateKeysIn,
  rotateLocalKeys,
  ROTATABLE_KEYS,
  ROTATABLE_NAMES,
  rotationGraceSeconds,
  STORE_MAC_ROTATION,
} from '../config/key-rotation';

/** Every variable keys:rotate reads and may write, in the order it writes them. */
const ROTATED_VARIABLES = [
  ...Object.values(ROTATABLE_KEYS).flatMap((spec) => [spec.privateKey, spec.history]),
  STORE_MAC_ROTATION.secret,
  STORE_MAC_ROTATION.history,
  STORE_MAC_ROTATION.legacy,
];

/** What to do after each step of a mac rotation. */
const MAC_RESTART: Record<StoreMacStep, string> = {
  rotate:
    'restart every replica on the new values together (a replica on the new key tags what the others do not hold yet; for a rolling restart use keys:rotate mac --stage, then --promote: README, Rotating keys)',
  stage:
    'restart every replica on the new STORE_MAC_RETIRED_KEYS (each learns the staged key, none tags under it yet); then run keys:rotate mac --promote and restart them again',
  promote:
    'restart every replica on the new values (each already holds the promoted key, so a rolling restart refuses nothing)',
};

/**
 * A value as one `.env` line, as scripts/init-env.sh writes it: a PEM's newlines as `\n`, and,
 * when it holds anything but base64 and the like (a PEM's spaces, the key history's JSON), in
 * single quotes, which docker compose's env_file, node --env-file and a POSIX shell
 * (`set -a; . ./.env`) all read literally. None of these values holds a single quote.
 */
function dotenvValue(value: string): string {
  const line = value.replace(/\n/g, '\\n');
  if (line.includes("'")) throw new Error('a value with a single quote has no .env line here');
  return /^[A-Za-z0-9+/=:._,-]*$/.test(line) ? line : `'${line}'`;
}

/** The flag that says STORE_MAC_RETIRED_KEYS is unset in production because there are none. */
const NO_HISTORY = '--no-history';

/**
 * In production the values come from the operator's shell, and what the command writes
 * replaces them: a variable missing there is rotated (or overwritten) as if it did not exist
 * (review M-3). `mac` without STORE_MAC_KEY would retire the key derived from the log key,
 * not the one the servers use; `log` or `mac` with STORE_MAC_KEY but no STORE_MAC_RETIRED_KEYS
 * would write a history without the retired keys, unless `--no-history` says there are none.
 */
function refuseIncompleteShell(
  values: Record<string, string>,
  which: RotatableKey[],
  noHistory: boolean,
): void {
  const { secret, history } = STORE_MAC_ROTATION;
  if (which.includes('mac') && !values[secret])
    throw new ConfigError(
      secret,
      'is not set in this shell: keys:rotate mac would retire the key derived from TLOG_SIGNING_KEY, not the one the servers use; set it (and STORE_MAC_RETIRED_KEYS) as the servers have them',
    );
  if (
    (which.includes('mac') || which.includes('log')) &&
    values[secret] &&
    !values[history] &&
    !noHistory
  )
    throw new ConfigError(
      history,
      `is not set in this shell: the values written would hold no retired store-MAC key; set it as the servers have it, or give ${NO_HISTORY} if they have none`,
    );
}

function main(args: string[]): void {
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? args[outAt + 1] : undefined;
  const noHistory = args.includes(NO_HISTORY);
  const step: StoreMacStep = args.includes('--stage')
    ? 'stage'
    : args.includes('--promote')
      ? 'promote'
      : 'rotate';
  const flags = [NO_HISTORY, '--stage', '--promote'];
  const named = args.filter(
    (a, i) => !flags.includes(a) && (outAt < 0 || (i !== outAt && i !== outAt + 1)),
  );
  const which = (named.length > 0 ? named : Object.keys(ROTATABLE_KEYS)) as RotatableKey[];
  for (const name of which) {
    if (!ROTATABLE_NAMES.includes(name))
      throw new ConfigError('keys:rotate', `unknown key "${name}" (token, log or mac)`);
  }
  if (args.includes('--stage') && args.includes('--promote'))
    throw new ConfigError('keys:rotate', '--stage and --promote are two steps: give one');
  if (step !== 'rotate' && (which.length !== 1 || which[0] !== 'mac'))
    throw new ConfigError(
      'keys:rotate',
      `--${step} is a step of the mac rotation only: keys:rotate mac --${step}`,
    );
  const now = new Date();
  const grace = rotationGraceSeconds(process.env.KEY_ROTATION_GRACE_SECONDS);
  const deadline = new Date(now.getTime() + grace * 1000).toISOString();
  const restart = !which.some((w) => w !== 'mac')
    ? MAC_RESTART[step]
    : `restart every replica on the new values before ${deadline} ` +
      `(KEY_ROTATION_GRACE_SECONDS=${grace}): until then the old key's signatures still verify; ` +
      `after it, what a replica not restarted signs does not`;
  if (process.env.NODE_ENV === 'production') {
    if (!out)
      throw new ConfigError('keys:rotate', 'in production, give --out <file> for the new values');
    const values: Record<string, string> = {};
    for (const name of ROTATED_VARIABLES) if (process.env[name]) values[name] = process.env[name]!;
    refuseIncompleteShell(values, which, noHistory);
    const next = rotateKeysIn(values, which, now, grace, step);
    // a file of its own, made here: an existing path (a file left by an earlier step, with its
    // mode, or a symlink someone who can write that directory placed) would receive the keys
    let fd: number;
    try {
      fd = openSync(resolve(out), 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      throw new ConfigError(
        'keys:rotate',
        `--out ${out} exists: give a path that does not (the file is made with mode 0600 and never written through a file or link already there); nothing was rotated`,
      );
    }
    try {
      for (const name of ROTATED_VARIABLES.filter((n) => next[n] !== values[n])) {
        writeSync(fd, `${name}=${dotenvValue(next[name])}\n`);
      }
    } finally {
      closeSync(fd);
    }
    process.stdout.write(`rotated ${which.join(', ')}; new values written to ${out}\n${restart}\n`);
    return;
  }
  if (outAt >= 0)
    throw new ConfigError(
      'keys:rotate',
      '--out is for production (NODE_ENV=production, keys from the environment): outside it the keys live in <DATA_DIR>/secrets.json, which this command rotates in place; run it without --out, or with the production environment (node --env-file=.env …)',
    );
  const file = rotateLocalKeys(resolve(process.env.DATA_DIR ?? './data'), which, now, grace, step);
  process.stdout.write(`rotated ${which.join(', ')} in ${file}\n${restart}\n`);
}

/** `keys:rotate [token|log|mac] [--stage|--promote] [--out <file>] [--no-history]` with its arguments. */
export function keysRotate(args: string[]): void {
  try {
    main(args);
  } catch (error) {
    process.stderr.write(
      error instanceof ConfigError
        ? `config error: ${error.message}\n`
        : `keys:rotate failed: ${(error as Error).message}\n`,
    );
    process.exit(1);
  }
}
