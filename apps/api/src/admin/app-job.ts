import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { ConfigError } from '@app/common';
import { SQLITE_FILE } from '@app/persistence';
import { ReplicaRegistry } from '@app/tlog';
import { createApp } from '../bootstrap';
import { UnsealedTailSweep } from '../unsealed-tail-sweep';

/**
 * Runs a one-off job (`npm run …`, `node …/admin.js …`) inside the app, built from the same environment as the
 * server (DATA_DIR or DATABASE_URL, keys) with warning-level logs, and closes the app after.
 * A config error or a failure is one line on stderr and exit code 1; the job may set
 * `process.exitCode` itself for a partial success.
 */
export function runAppJob(failure: string, job: (app: INestApplication) => Promise<void>): void {
  const main = async (): Promise<void> => {
    await refuseMissingStore();
    const { app } = await createApp({ LOG_LEVEL: 'warn', ...process.env }, {}, 'job');
    try {
      await app.init();
      // nor sweeps the logs for unsealed entries (the servers do; ledger:seal-foreign on demand)
      await app.get(UnsealedTailSweep, { strict: false }).stop();
      // a job is not a server: it must not count in the replica registry as one that holds (or
      // lacks) a vault key version (the replicas' /health, keys:reseal) nor as one tagging
      // under its store-MAC key (keys:retag) while it runs
      await app.get(ReplicaRegistry, { strict: false }).stop();
      await job(app);
    } finally {
      await app.close();
    }
  };
  main().catch((error: unknown) => {
    process.stderr.write(
      error instanceof ConfigError
        ? `config error: ${error.message}\n`
        : `${failure}: ${(error as Error).message}\n`,
    );
    process.exit(1);
  });
}

/**
 * A job works on the server's store: with no DATABASE_URL, the SQLite file must already be in
 * DATA_DIR. Otherwise booting would make a fresh empty database (and, outside production, new
 * secrets) there and the job would report success on it.
 */
async function refuseMissingStore(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (url) return refuseEmptyDatabase(url);
  const file = join(resolve(process.env.DATA_DIR || './data'), SQLITE_FILE);
  if (!existsSync(file))
    throw new ConfigError(
      'DATA_DIR',
      `no store at ${file}: run the job with the server's DATA_DIR (or DATABASE_URL)`,
    );
}

/**
 * The same on MongoDB: a database name with a typo is created on first write, so a database
 * with no collection at all is refused before the app boots (and makes its indexes) there.
 */
async function refuseEmptyDatabase(url: string): Promise<void> {
  if (!/^mongodb(\+srv)?:\/\//.test(url)) return; // the app's config check names it
  const { createConnection } = await import('mongoose');
  const connection = createConnection(url, { serverSelectionTimeoutMS: 10_000 });
  const name =
    connection.name || new URL(url.replace(/^mongodb\+srv:/, 'mongodb:')).pathname.slice(1);
  let names: string[];
  try {
    await connection.asPromise();
    names = (await connection.db!.listCollections({}, { nameOnly: true }).toArray()).map(
      (c) => c.name,
    );
  } finally {
    await connection.close();
  }
  if (names.length === 0)
    throw new ConfigError(
      'DATABASE_URL',
      `no store in database "${name}": run the job with the server's DATABASE_URL`,
    );
}
