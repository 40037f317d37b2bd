/**
 * `npm run tokens:reopen -- --since <ISO time the backup was taken>`: after the store was
 * restored from a backup, the offline tokens issued since that backup have no record in it, and
 * a sync refuses them (`not_issued`): the punches their phones recorded offline and had not
 * synced would be lost. This reopens the transition for them, for one token lifetime and the
 * sync grace from now: a token not on record is accepted when the token key that signs now
 * signed it, with the lifetime the server issues and an `iat` from the backup to now, and it is
 * recorded at its first sync (so it keeps syncing after the window, and after a key rotation).
 * A token key rotation ends the window at once; `--close` ends it now (what it recorded stays).
 *
 * Run it with the server's environment (DATA_DIR or DATABASE_URL, OFFLINE_TOKEN_PRIVATE_KEY,
 * OFFLINE_TOKEN_TTL_DAYS, OFFLINE_TOKEN_GRACE_DAYS), right after the restore, before or while
 * the servers run: the servers read the window from the store at each token not on record.
 */
import { IssuedTokens } from '@app/device-trust';
import { runAppJob } from './app-job';

const USAGE =
  'usage: tokens:reopen --since <ISO-8601 time with a zone, e.g. 2026-03-01T02:00:00Z: when the restored backup was taken> | --close';

/** An instant written with its zone (`Z` or `±hh:mm`): a time without one is ambiguous. */
const INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/;

function usage(problem: string): never {
  process.stderr.write(`${problem}\n${USAGE}\n`);
  process.exit(64);
}

/** `tokens:reopen --since <instant> | --close` with its arguments. */
export function tokensReopen(args: string[]): void {
  const close = args.length === 1 && args[0] === '--close';
  const since = args.length === 2 && args[0] === '--since' ? args[1] : undefined;
  if (!close && since === undefined) usage('tokens:reopen: give --since <time> or --close');
  let backup: Date | undefined;
  if (since !== undefined) {
    backup = new Date(since);
    if (!INSTANT.test(since) || Number.isNaN(backup.getTime()))
      usage(`tokens:reopen: --since "${since}" is not an ISO-8601 time with a zone`);
    if (backup.getTime() > Date.now())
      usage(`tokens:reopen: --since ${backup.toISOString()} is in the future`);
  }
  runAppJob('tokens:reopen failed', async (app) => {
    const tokens = app.get(IssuedTokens);
    if (!backup) {
      const closed = await tokens.closeReopened();
      process.stdout.write(
        closed
          ? `reopened window closed at ${closed.until.toISOString()}; the tokens it recorded stay on record\n`
          : 'no reopened window is open\n',
      );
      return;
    }
    const window = await tokens.reopen(backup);
    process.stdout.write(
      `reopened until ${window.until.toISOString()}: a token not on record is accepted, and recorded at its first sync, ` +
        `when token key ${window.keyId} signed it with an iat from ${window.since.toISOString()} ` +
        `to ${window.openedAt.toISOString()}; rotating the token key ends this at once\n`,
    );
  });
}
