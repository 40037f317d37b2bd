import { AppSettings, appConfig } from './app.config';
import { AuthSettings, authConfig } from './auth.config';
import { DatabaseSettings, databaseConfig } from './database.config';
import { Env } from './env-schema';
import { FraudSettings, fraudConfig } from './fraud.config';
import { withLocalSecrets } from './local-secrets';
import { ProvisioningSettings, provisioningConfig } from './provisioning.config';
import { OfflineSyncSettings, offlineSyncConfig } from './offline-sync.config';
import { RateLimitSettings, rateLimitConfig } from './rate-limit.config';
import { RedisSettings, redisConfig } from './redis.config';
import { RelaySettings, relayConfig } from './relay.config';
import { SessionSettings, sessionConfig } from './session.config';
import { TlogSettings, tlogConfig } from './tlog.config';
import { TimesheetsSettings, timesheetsConfig } from './timesheets.config';
import { TrustSettings, trustConfig } from './trust.config';
import { UpstreamSettings, upstreamConfig } from './upstream.config';
import { VaultSettings, vaultConfig } from './vault.config';

/** Every validated namespace; read with `ConfigService<AppConfig, true>.get('x', { infer: true })`. */
export interface AppConfig {
  app: AppSettings;
  database: DatabaseSettings;
  redis: RedisSettings;
  auth: AuthSettings;
  upstream: UpstreamSettings;
  vault: VaultSettings;
  session: SessionSettings;
  provisioning: ProvisioningSettings;
  relay: RelaySettings;
  offlineSync: OfflineSyncSettings;
  trust: TrustSettings;
  fraud: FraudSettings;
  tlog: TlogSettings;
  rateLimit: RateLimitSettings;
  timesheets: TimesheetsSettings;
  /** What boot did that an operator should know (generated secrets and where they are kept). */
  notices: string[];
}

/**
 * Reads and validates the whole configuration once, at boot. Throws a ConfigError naming the
 * first bad variable. Outside production, missing secrets come from (or are generated into)
 * `<DATA_DIR>/secrets.json`.
 */
export function loadConfig(rawEnv: Env): AppConfig {
  const app = appConfig(rawEnv);
  const secrets = withLocalSecrets(rawEnv, app.dataDir, app.production);
  const env = secrets.env;
  const notices: string[] = [];
  if (secrets.generated.length > 0) {
    notices.push(`generated ${secrets.generated.join(', ')} into ${secrets.file} (mode 0600)`);
  } else if (env !== rawEnv) {
    notices.push(`using local secrets from ${secrets.file}`);
  }
  const upstream = upstreamConfig(env, app.nodeEnv);
  if (app.nodeEnv === 'development' && !env.UPSTREAM_URL) {
    notices.push(
      `UPSTREAM_URL unset: using the local upstream stub at ${upstream.url} (npm run demo starts it)`,
    );
  }
  return {
    app,
    database: databaseConfig(env, app.dataDir),
    redis: redisConfig(env),
    auth: authConfig(env),
    upstream,
    vault: vaultConfig(env),
    session: sessionConfig(env),
    provisioning: provisioningConfig(env),
    relay: relayConfig(env),
    offlineSync: offlineSyncConfig(env),
    trust: trustConfig(env),
    fraud: fraudConfig(env),
    tlog: tlogConfig(env, app.dataDir),
    rateLimit: rateLimitConfig(env),
    timesheets: timesheetsConfig(env),
    notices,
  };
}
