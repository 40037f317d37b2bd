import {
  ConfigFactory,
  ConfigFactoryKeyHost,
  ConfigObject,
  getConfigToken,
  registerAs,
} from '@nestjs/config';
import type { AppSettings } from './app.config';
import type { Env } from './env-schema';

/**
 * Reads one namespace from the environment: validates its variables (a ConfigError names the
 * first bad one, never its value) and applies the defaults. `app` is the already-read `app`
 * namespace, for the few that depend on NODE_ENV or DATA_DIR.
 */
export type ConfigReader = (env: Env, app: AppSettings) => ConfigObject;

/**
 * A module's own settings, declared beside the module (`libs/vault/src/vault.config.ts`).
 * `apps/api` reads every namespace once at boot and registers each with `registerAs`; the
 * module's providers inject theirs with `@Inject(vaultConfig.KEY) settings: VaultSettings`.
 */
export interface ConfigNamespace<R extends ConfigReader> {
  /** The namespace's name (also its key in `ConfigService`). */
  readonly name: string;
  /** The injection token of the validated settings (what `registerAs(name, …).KEY` is). */
  readonly KEY: string;
  readonly read: R;
  /** The `registerAs` factory serving settings read at boot (an item of ConfigModule's `load`). */
  register(
    settings: ReturnType<R>,
  ): ConfigFactory<ReturnType<R>> & ConfigFactoryKeyHost<ReturnType<R>>;
}

export function defineConfig<R extends ConfigReader>(name: string, read: R): ConfigNamespace<R> {
  return {
    name,
    KEY: getConfigToken(name),
    read,
    register: (settings) => registerAs(name, () => settings),
  };
}

/** The settings a namespace holds: `ConfigOf<typeof vaultConfig>` is `VaultSettings`. */
export type ConfigOf<N extends ConfigNamespace<ConfigReader>> = ReturnType<N['read']>;
