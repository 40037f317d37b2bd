import { IsOptional, Matches } from 'class-validator';
import { join } from 'node:path';
import { Env, validateEnv } from './env-schema';

class DatabaseEnv {
  @IsOptional()
  @Matches(/^mongodb(\+srv)?:\/\/\S+$/, {
    message: 'must be a mongodb:// URL (leave it unset for the embedded SQLite store)',
  })
  DATABASE_URL?: string;
}

export type DatabaseSettings =
  { driver: 'sqlite'; sqlitePath: string } | { driver: 'mongo'; url: string };

export function databaseConfig(env: Env, dataDir: string): DatabaseSettings {
  const v = validateEnv(DatabaseEnv, env);
  if (v.DATABASE_URL) return { driver: 'mongo', url: v.DATABASE_URL };
  return { driver: 'sqlite', sqlitePath: join(dataDir, 'mdai.sqlite') };
}
