import { ValueProvider } from '@nestjs/common';
import type { ConfigObject } from '@nestjs/config';
// the token function alone (one file): @nestjs/config's index loads its ConfigService and with
// it 64 lodash files, ~88 modules at boot for a service nothing here uses
import { getConfigToken } from '@nestjs/config/dist/utils/get-config-token.util';
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
 * `apps/api` reads every namespace once at boot and provides each under its `KEY` from one
 * global module (`configModule`); the module's providers inject theirs with
 * `@Inject(vaultConfig.KEY) settings: VaultSettings`.
 */
export interface ConfigNamespace<R extends ConfigReader> {
  /** The namespace's name (its key in `AppConfig`). */
  readonly name: string;
  /**
   * The injection token of the validated settings: `@nestjs/config`'s `getConfigToken(name)`,
   * the very token `registerAs(name, …).KEY` would be.
   */
  readonly KEY: string;
  readonly read: R;
  /** The provider serving the settings read at boot under `KEY`. */
  register(settings: ReturnType<R>): ValueProvider<ReturnType<R>>;
}

export function defineConfig<R extends ConfigReader>(name: string, read: R): ConfigNamespace<R> {
  return {
    name,
    KEY: getConfigToken(name),
    read,
    register: (settings) => ({ provide: getConfigToken(name), useValue: settings }),
  };
}

/** The settings a namespace holds: `ConfigOf<typeof vaultConfig>` is `VaultSettings`. */
export type ConfigOf<N extends ConfigNamespace<ConfigReader>> = ReturnType<N['read']>;
