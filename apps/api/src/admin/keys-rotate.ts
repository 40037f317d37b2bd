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
 * with `--out <file>` (mode 0600) for the operator's secret store; it never prints keys.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '@app/common';
import {
  RotatableKey,
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
];

function main(args: string[]): void {
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? args[outAt + 1] : undefined;
  const named = args.filter((_, i) => outAt < 0 || (i !== outAt && i !== outAt + 1));
  const which = (named.length > 0 ? named : Object.keys(ROTATABLE_KEYS)) as RotatableKey[];
  for (const name of which) {
    if (!ROTATABLE_NAMES.includes(name))
      throw new ConfigError('keys:rotate', `unknown key "${name}" (token, log or mac)`);
  }
  const now = new Date();
  const grace = rotationGraceSeconds(process.env.KEY_ROTATION_GRACE_SECONDS);
  const deadline = new Date(now.getTime() + grace * 1000).toISOString();
  const restart = !which.some((w) => w !== 'mac')
    ? 'restart every replica on the new values (in a rolling restart, give every replica the new key in STORE_MAC_RETIRED_KEYS first: README, Rotating keys)'
    : `restart every replica on the new values before ${deadline} ` +
      `(KEY_ROTATION_GRACE_SECONDS=${grace}): until then the old key's signatures still verify; ` +
      `after it, what a replica not restarted signs does not`;
  if (process.env.NODE_ENV === 'production') {
    if (!out)
      throw new ConfigError('keys:rotate', 'in production, give --out <file> for the new values');
    const values: Record<string, string> = {};
    for (const name of ROTATED_VARIABLES) if (process.env[name]) values[name] = process.env[name]!;
    const next = rotateKeysIn(values, which, now, grace);
    const fd = openSync(resolve(out), 'w', 0o600);
    try {
      for (const name of ROTATED_VARIABLES.filter((n) => next[n] !== values[n])) {
        // one line per variable, as scripts/init-env.sh writes .env (compose reads it literally):
        // a PEM's newlines as `\n`, the key history's JSON as it is
        writeSync(fd, `${name}=${next[name].replace(/\n/g, '\\n')}\n`);
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
  const file = rotateLocalKeys(resolve(process.env.DATA_DIR ?? './data'), which, now, grace);
  process.stdout.write(`rotated ${which.join(', ')} in ${file}\n${restart}\n`);
}

/** `keys:rotate [token|log] [--out <file>]` with its arguments. */
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
