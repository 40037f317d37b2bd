import 'reflect-metadata';
import { INestApplication } from '@nestjs/common';
import { ConfigError } from '@app/common';
import { createApp } from '@app/api/bootstrap';

/**
 * Runs a one-off job (`npm run …`) inside the app, built from the same environment as the
 * server (DATA_DIR or DATABASE_URL, keys) with warning-level logs, and closes the app after.
 * A config error or a failure is one line on stderr and exit code 1; the job may set
 * `process.exitCode` itself for a partial success.
 */
export function runAppJob(failure: string, job: (app: INestApplication) => Promise<void>): void {
  const main = async (): Promise<void> => {
    const { app } = await createApp({ LOG_LEVEL: 'warn', ...process.env });
    try {
      await app.init();
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
