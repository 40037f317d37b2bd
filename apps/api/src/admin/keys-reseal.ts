/**
 * `npm run keys:reseal` (also `npm run vault:rotate`): re-wraps every sealed value of every
 * module under the active master key (VAULT_ACTIVE_KEY, else the last version in VAULT_KEYS):
 * vault data keys (blobs are not rewritten), worker-device secrets, Wi-Fi passwords and
 * session platform ids. Then prints which key versions nothing uses any more: those can be
 * dropped from VAULT_KEYS (the `droppable` of GET /api/v5/vault/keys: the same count). Run it
 * with the same environment as the server (DATA_DIR or DATABASE_URL, VAULT_KEYS listing the old
 * and the new key), and only once every replica runs with that VAULT_KEYS: a replica without the
 * new version answers 503 key_unavailable for every value resealed under it (SAFE_ORDER). Each
 * server records the versions it holds and the one it seals under in the store
 * (KeyHoldersService); the command refuses (exit code 3, nothing resealed) while a live one
 * lacks the active version, or seals new values under another version (an older
 * VAULT_ACTIVE_KEY: it would keep sealing under the version this command empties), unless
 * `--force`. Its `droppable` never names a version a live server seals under.
 */
import { KeyHoldersService, KeyringService } from '@app/vault';
import { runAppJob } from './app-job';
import { ResealAllJob } from '../reseal-all.job';

/** The order that never leaves a replica without the key a value is sealed under. */
export const SAFE_ORDER = [
  '1. add the new version to VAULT_KEYS (keep the old one) with VAULT_ACTIVE_KEY=<old version> and restart every replica',
  '2. set VAULT_ACTIVE_KEY=<new version> (or unset it) and restart every replica',
  '3. npm run keys:reseal (this command)',
  '4. drop the versions it calls droppable from VAULT_KEYS and restart every replica',
];

export function keysReseal(args: string[] = []): void {
  const force = args.includes('--force');
  runAppJob('reseal-all failed', async (app) => {
    // this job is not a server (runAppJob stopped its heartbeat): it holds the new version,
    // but does not count as one that does
    const holders = app.get(KeyHoldersService);
    const active = app.get(KeyringService).activeVersion;
    const lacking = await holders.liveLacking(active);
    if (lacking.length > 0 && !force) {
      process.stderr.write(
        `reseal-all refused: ${lacking.length} running server(s) do not hold key version ${active} (${lacking
          .map((h) => `${h.instanceId}: ${h.versions.join(',')}`)
          .join('; ')}); they would answer 503 key_unavailable for every resealed value.\n` +
          `${SAFE_ORDER.map((l) => `  ${l}\n`).join('')}` +
          `(a server gone without shutting down counts for 3 minutes; --force reseals anyway)\n`,
      );
      process.exitCode = 3;
      return;
    }
    const sealingOther = await holders.liveSealingOtherThan(active);
    if (sealingOther.length > 0 && !force) {
      const theirs = [...new Set(sealingOther.map((h) => h.active))].join(', ');
      process.stderr.write(
        `reseal-all refused: ${sealingOther.length} running server(s) seal new values under key version ${theirs}, not ${active} (${sealingOther
          .map((h) => `${h.instanceId}: active ${h.active}`)
          .join('; ')}); they would keep sealing under a version this command empties.\n` +
          `  set VAULT_ACTIVE_KEY=${active} (or unset it: the last version of VAULT_KEYS is the default) on every replica and restart them, then run this command again;\n` +
          `  or, if ${theirs} is the version meant to be active, run this command with VAULT_ACTIVE_KEY=${theirs}\n` +
          `(a server gone without shutting down counts for 3 minutes; --force reseals anyway)\n`,
      );
      process.exitCode = 3;
      return;
    }
    process.stdout.write(
      `reseal-all: every replica must already run with this VAULT_KEYS, else it answers 503 key_unavailable until restarted:\n${SAFE_ORDER.map((l) => `  ${l}\n`).join('')}`,
    );
    const report = await app.get(ResealAllJob).run();
    process.stdout.write(`reseal-all: active key ${report.activeVersion}\n`);
    for (const o of report.owners) {
      process.stdout.write(`  ${o.owner}: resealed ${o.resealed}, failed ${o.failed.length}\n`);
    }
    process.stdout.write(
      `key versions that can be dropped from VAULT_KEYS: ${report.droppable.join(', ') || '(none)'}\n`,
    );
    if (report.owners.some((o) => o.failed.length > 0)) process.exitCode = 2;
  });
}
