import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig } from './app-config';

/**
 * What keeps a production process from running beside replicas, said once at boot: the SQLite
 * store is one process's file, and without Redis the relay's sessions and the rate limits live
 * in the process. Undefined when nothing does, and outside production.
 */
export function singleInstanceWarning(config: AppConfig): string | undefined {
  if (!config.app.production) return undefined;
  const reasons: string[] = [];
  if (config.database.driver === 'sqlite') reasons.push('the store is SQLite (DATABASE_URL unset)');
  if (!config.redis.url) {
    reasons.push('REDIS_URL is unset (relay sessions and rate limits are in this process)');
  }
  if (reasons.length === 0) return undefined;
  return `Single instance only: ${reasons.join('; ')}. Replicas need MongoDB and Redis`;
}

/**
 * A production process on a DATA_DIR that holds a `secrets.json` (left by `npm start`): it
 * ignores the file, so the keys it runs on are not the ones that signed what the directory
 * holds; said once at boot, naming the file and never a value. Undefined otherwise.
 */
export function ignoredSecretsWarning(config: AppConfig): string | undefined {
  if (!config.app.production) return undefined;
  const file = join(config.app.dataDir, 'secrets.json');
  if (!existsSync(file)) return undefined;
  return `${file} is ignored in production (NODE_ENV=production takes every secret from the environment): if this DATA_DIR was made by npm start, its logs were signed with the keys in that file, and checkpoints will not verify under the configured TLOG_SIGNING_KEY`;
}
