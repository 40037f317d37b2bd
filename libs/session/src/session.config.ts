import { defineConfig, Env, validateEnv, IsInt, IsOmittable, Max, Min } from '@app/common';

class SessionEnv {
  @IsOmittable() @IsInt() @Min(2) @Max(3600) SESSION_TTL_SECONDS?: number;
}

export interface SessionSettings {
  ttlSeconds: number;
}

export const sessionConfig = defineConfig('session', (env: Env): SessionSettings => ({
  ttlSeconds: validateEnv(SessionEnv, env).SESSION_TTL_SECONDS ?? 180,
}));
