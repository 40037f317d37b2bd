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
