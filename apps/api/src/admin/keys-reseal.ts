/**
 * `npm run keys:reseal` (also `npm run vault:rotate`): re-wraps every sealed value of every
 * module under the active master key (VAULT_ACTIVE_KEY, else the last version in VAULT_KEYS):
 * vault data keys (blobs are not rewritten), worker-device secrets, Wi-Fi passwords and
 * session platform ids. Then prints which key versions nothing uses any more: those can be
 * dropped from VAULT_KEYS. Run it with the same environment as the server (DATA_DIR or
 * DATABASE_URL, VAULT_KEYS listing the old and the new key).
 */
import { runAppJob } from './app-job';
import { ResealAllJob } from '../reseal-all.job';

export function keysReseal(): void {
  runAppJob('reseal-all failed', async (app) => {
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
