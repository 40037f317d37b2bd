import { join } from 'node:path';
import {
  AppSettings,
  defineConfig,
  Env,
  validateEnv,
  IsIn,
  IsOmittable,
  Matches,
} from '@app/common';
import type { SqliteCheckpoints } from './sqlite/sqlite-store';

class DatabaseEnv {
  @IsOmittable()
  @Matches(/^mongodb(\+srv)?:\/\/\S+$/, {
    message: 'must be a mongodb:// URL (leave it unset for the embedded SQLite store)',
  })
  DATABASE_URL?: string;
}

const SQLITE_CHECKPOINTS: SqliteCheckpoints[] = ['worker', 'connection'];

/** The SQLite store's own variables: read (and validated) only when SQLite is the store. */
class SqliteEnv {
  @IsOmittable() @IsIn(SQLITE_CHECKPOINTS) SQLITE_CHECKPOINTS?: SqliteCheckpoints;
}

export type DatabaseSettings =
  | { driver: 'sqlite'; sqlitePath: string; checkpoints: SqliteCheckpoints }
  | { driver: 'mongo'; url: string };

/** The SQLite store's file name, under DATA_DIR. */
export const SQLITE_FILE = 'mdai.sqlite';

/**
 * The one store: MongoDB when DATABASE_URL is set, else the SQLite file under DATA_DIR, its WAL
 * checkpointed by a thread of its own unless SQLITE_CHECKPOINTS=connection.
 */
export const databaseConfig = defineConfig(
  'database',
  (env: Env, app: AppSettings): DatabaseSettings => {
    const v = validateEnv(DatabaseEnv, env);
    if (v.DATABASE_URL) return { driver: 'mongo', url: v.DATABASE_URL };
    const sqlite = validateEnv(SqliteEnv, env);
    return {
      driver: 'sqlite',
      sqlitePath: join(app.dataDir, SQLITE_FILE),
      checkpoints: sqlite.SQLITE_CHECKPOINTS ?? 'worker',
    };
  },
);
