import { DynamicModule, Module, Provider } from '@nestjs/common';
import {
  appConfig,
  AppSettings,
  AUTH_SECRETS,
  authConfig,
  ConfigError,
  ConfigOf,
  ConfigProblems,
  Env,
  LocalSecretsSpec,
  rateLimitConfig,
  readAppSettings,
  redisConfig,
  withLocalSecrets,
} from '@app/common';
import { OFFLINE_TOKEN_SECRETS, offlineTokenConfig, trustConfig } from '@app/device-trust';
import { fraudConfig } from '@app/fraud';
import { offlineSyncConfig } from '@app/offline-sync';
import { databaseConfig, SQLITE_FILE } from '@app/persistence';
import { provisioningConfig } from '@app/provisioning';
import { relayConfig, upstreamConfig } from '@app/relay';
import { sessionConfig } from '@app/session';
import { timesheetsConfig } from '@app/timesheets';
import { TLOG_SECRETS, tlogConfig } from '@app/tlog';
import { VAULT_SECRETS, vaultConfig } from '@app/vault';
import { workforceConfig } from '@app/workforce';
import { keepDerivedStoreMacKey, ROTATABLE_KEYS, STORE_MAC_ROTATION } from './key-rotation';

/**
 * Every namespace after `app`, in the order boot reads them (and a ConfigError lists their
 * problems). Each is declared beside its module.
 */
const NAMESPACES = {
  database: databaseConfig,
  redis: redisConfig,
  auth: authConfig,
  upstream: upstreamConfig,
  vault: vaultConfig,
  session: sessionConfig,
  provisioning: provisioningConfig,
  relay: relayConfig,
  offlineTokens: offlineTokenConfig,
  offlineSync: offlineSyncConfig,
  workforce: workforceConfig,
  trust: trustConfig,
  fraud: fraudConfig,
  tlog: tlogConfig,
  rateLimit: rateLimitConfig,
  timesheets: timesheetsConfig,
};

type Namespaces = typeof NAMESPACES;

/** Every validated namespace; a module injects its own with `@Inject(xConfig.KEY)`. */
export type AppConfig = { app: AppSettings } & {
  [K in keyof Namespaces]: ConfigOf<Namespaces[K]>;
} & {
  /** What boot did that an operator should know (generated secrets and where they are kept). */
  notices: string[];
};

/** The secrets a local (non-production) install generates into secrets.json, by module. */
export const LOCAL_SECRETS: LocalSecretsSpec = {
  generators: {
    ...AUTH_SECRETS,
    ...VAULT_SECRETS,
    ...OFFLINE_TOKEN_SECRETS,
    ...TLOG_SECRETS,
  },
  histories: [
    ...Object.values(ROTATABLE_KEYS).map((key) => key.history),
    STORE_MAC_ROTATION.history,
  ],
  hints: {
    // an upgrade from before it (review L-5): what to add, and that nothing stops verifying
    [STORE_MAC_ROTATION.secret]:
      'add STORE_MAC_KEY=$(openssl rand -base64 32), and on an install upgraded from a version without it STORE_MAC_LEGACY=1; existing tags still verify',
  },
  // the keys values in the store are sealed or signed with (the API keys and the JWT secret
  // seal nothing that outlives them)
  guardedBy: {
    file: SQLITE_FILE,
    secrets: [
      ...Object.keys(VAULT_SECRETS),
      ...Object.keys(OFFLINE_TOKEN_SECRETS),
      ...Object.keys(TLOG_SECRETS),
    ],
  },
};

/**
 * Reads and validates the whole configuration once, at boot. Throws one ConfigError naming
 * every missing or invalid variable it found (each namespace is read even when an earlier one
 * failed; within a namespace, its own format checks run once its variables pass their schema).
 * Outside production, missing secrets come from (or are generated into)
 * `<DATA_DIR>/secrets.json`.
 */
export function loadConfig(rawEnv: Env): AppConfig {
  const problems = new ConfigProblems();
  const app = readAppSettings(rawEnv, problems);
  // which rules apply (secrets generated or required) hangs on NODE_ENV: nothing further
  if (problems.has('NODE_ENV')) problems.throwIfAny();
  const missingSecrets = Object.keys(LOCAL_SECRETS.generators).filter((name) => !rawEnv[name]);
  let env = rawEnv;
  const notices: string[] = [];
  // a boot that already failed writes no secrets.json (outside production it would generate)
  // an existing install's first start with STORE_MAC_KEY (generated now, the log key not):
  // its tags were made under the key derived from the log key, recorded as a retired one so
  // they keep verifying (review M-2: that key is accepted only while listed); in the same
  // write as the generated key (review L-8: one locked read-modify-write of secrets.json)
  const keepDerived = (stored: Record<string, string>, generated: string[]): void => {
    if (
      !generated.includes(STORE_MAC_ROTATION.secret) ||
      generated.includes(ROTATABLE_KEYS.log.privateKey) ||
      rawEnv[STORE_MAC_ROTATION.history]
    )
      return;
    const log = ROTATABLE_KEYS.log.privateKey;
    const values = { ...stored, [log]: rawEnv[log] ?? stored[log] };
    try {
      keepDerivedStoreMacKey(values, new Date());
    } catch {
      // a malformed TLOG_SIGNING_KEY: its namespace names it below
    }
    if (values[STORE_MAC_ROTATION.history])
      stored[STORE_MAC_ROTATION.history] = values[STORE_MAC_ROTATION.history];
  };
  const secrets =
    app.production || problems.list.length === 0
      ? problems.attempt(() =>
          withLocalSecrets(rawEnv, app.dataDir, app.production, LOCAL_SECRETS, keepDerived),
        )
      : undefined;
  if (secrets) {
    env = secrets.env;
    if (secrets.generated.length > 0) {
      notices.push(`generated ${secrets.generated.join(', ')} into ${secrets.file} (mode 0600)`);
    } else if (env !== rawEnv) {
      notices.push(`using local secrets from ${secrets.file}`);
    }
  }
  // without the local secrets, what they would have supplied is already named (production) or
  // not the problem (the boot failed before generating them): their absence is not repeated
  const covered = new Set(secrets ? [] : missingSecrets);
  const read: Record<string, unknown> = {};
  for (const [key, namespace] of Object.entries(NAMESPACES)) {
    try {
      read[key] = namespace.read(env, app);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.add(error.problems.filter((problem) => !covered.has(problem.variable)));
    }
  }
  // review L-6: the store-MAC secret is a key of its own, not a vault master key reused
  const storeMac = (read.tlog as AppConfig['tlog'] | undefined)?.storeMacKey;
  const vaultKeys = (read.vault as AppConfig['vault'] | undefined)?.keys;
  if (storeMac && vaultKeys && [...vaultKeys.values()].some((k) => k.equals(storeMac.secret)))
    problems.add([
      { variable: STORE_MAC_ROTATION.secret, reason: 'must not be one of the VAULT_KEYS secrets' },
    ]);
  problems.throwIfAny();
  const config = { app, ...read, notices } as AppConfig;
  if (app.nodeEnv === 'development' && !env.UPSTREAM_URL) {
    notices.push(
      `UPSTREAM_URL unset: using the local upstream stub at ${config.upstream.url} (npm run demo starts it)`,
    );
  }
  return config;
}

/** The global module serving the configuration read at boot (see `configModule`). */
@Module({})
export class AppConfigModule {}

/**
 * The global module serving `config`: each namespace under its own token, so
 * `@Inject(vaultConfig.KEY)` finds it (the tokens `@nestjs/config`'s `registerAs` would give).
 * Not `ConfigModule.forRoot`: nothing injects its `ConfigService`, whose `lodash` pieces were
 * ~88 modules at boot (docs/benchmarks.md, "bootfast").
 */
export function configModule(config: AppConfig): DynamicModule {
  const providers: Provider[] = [appConfig.register(config.app)];
  for (const [key, namespace] of Object.entries(NAMESPACES)) {
    providers.push(namespace.register(config[key as keyof Namespaces] as never));
  }
  return {
    module: AppConfigModule,
    global: true,
    providers,
    exports: providers.map((provider) => (provider as { provide: string }).provide),
  };
}
