import { IsString, MinLength } from '../validation/validators';
import { IsOmittable } from '../validation/omittable';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../config/config-error';
import { defineConfig } from '../config/config-namespace';
import { Env, validateEnv } from '../config/env-schema';
import { REDACTED, registerSecrets } from '../logging/redact';
import { ROLES, Role } from './role';

class AuthEnv {
  @IsString() @MinLength(32, { message: 'must be at least 32 characters' }) JWT_SECRET!: string;
  @IsOmittable() @IsString() ADMIN_API_KEYS?: string;
  @IsOmittable() @IsString() PROVISIONER_API_KEYS?: string;
  @IsOmittable() @IsString() AUDITOR_API_KEYS?: string;
  @IsOmittable() @IsString() MOBILE_API_KEYS?: string;
  @IsOmittable() @IsString() HARDWARE_API_KEYS?: string;
}

export interface AuthSettings {
  jwtSecret: string;
  apiKeys: Record<Role, string[]>;
}

export const API_KEY_VARIABLES: Record<Role, string> = {
  admin: 'ADMIN_API_KEYS',
  provisioner: 'PROVISIONER_API_KEYS',
  auditor: 'AUDITOR_API_KEYS',
  mobile: 'MOBILE_API_KEYS',
  hardware: 'HARDWARE_API_KEYS',
};

function readAuthConfig(env: Env): AuthSettings {
  const v = validateEnv(AuthEnv, env);
  const apiKeys = {} as Record<Role, string[]>;
  for (const role of ROLES) {
    const variable = API_KEY_VARIABLES[role];
    const keys = (v[variable as keyof AuthEnv] ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter((k) => k.length > 0);
    if (keys.length === 0) throw new ConfigError(variable, 'must list at least one key');
    if (keys.some((k) => k.length < 16))
      throw new ConfigError(variable, 'every key must be at least 16 characters');
    apiKeys[role] = keys;
  }
  // never logged as they are, whatever their shape (a key chosen by hand included)
  registerSecrets(Object.values(apiKeys).flat(), '[api key redacted]');
  registerSecrets([v.JWT_SECRET], REDACTED);
  return { jwtSecret: v.JWT_SECRET, apiKeys };
}

/** The API keys and the JWT secret: `@Inject(authConfig.KEY)`. */
export const authConfig = defineConfig('auth', readAuthConfig);

function apiKey(prefix: string): string {
  return `mdai_${prefix}_${randomBytes(24).toString('base64url')}`;
}

/** How a local (non-production) install generates these secrets when they are unset. */
export const AUTH_SECRETS = {
  JWT_SECRET: () => randomBytes(48).toString('base64url'),
  ADMIN_API_KEYS: () => apiKey('adm'),
  PROVISIONER_API_KEYS: () => apiKey('prv'),
  AUDITOR_API_KEYS: () => apiKey('aud'),
  MOBILE_API_KEYS: () => apiKey('mob'),
  HARDWARE_API_KEYS: () => apiKey('hw'),
} satisfies Record<string, () => string>;
