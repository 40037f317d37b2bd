import { join } from 'node:path';
import { AppSettings, defineConfig, Env, validateEnv, IsOptional, Matches } from '@app/common';

class DatabaseEnv {
  @IsOptional()
  @Matches(/^mongodb(\+srv)?:\/\/\S+$/, {
    message: 'must be a mongodb:// URL (leave it unset for the embedded SQLite store)',
  })
  DATABASE_URL?: string;
}

export type DatabaseSettings =
  { driver: 'sqlite'; sqlitePath: string } | { driver: 'mongo'; url: string };

/** The SQLite store's file name, under DATA_DIR. */
export const SQLITE_FILE = 'mdai.sqlite';

/** The one store: MongoDB when DATABASE_URL is set, else the SQLite file under DATA_DIR. */
export const databaseConfig = defineConfig(
  'database',
  (env: Env, app: AppSettings): DatabaseSettings => {
    const v = validateEnv(DatabaseEnv, env);
    if (v.DATABASE_URL) return { driver: 'mongo', url: v.DATABASE_URL };
    return { driver: 'sqlite', sqlitePath: join(app.dataDir, SQLITE_FILE) };
  },
);
