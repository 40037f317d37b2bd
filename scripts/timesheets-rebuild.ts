/**
 * `npm run timesheets:rebuild`: forgets the timesheet read model and builds it again from
 * every site's ledger chain (the ledger is the record; the read model is derived). Run it with
 * the same environment as the server (DATA_DIR or DATABASE_URL). Safe while the server runs:
 * appends that land during the rebuild are taken by the server's own catch-up.
 */
import 'reflect-metadata';
import { ConfigError } from '@app/common';
import { createApp } from '@app/api/bootstrap';
import { TimesheetProjector } from '@app/timesheets';

async function main(): Promise<void> {
  const { app } = await createApp({ LOG_LEVEL: 'warn', ...process.env });
  try {
    await app.init();
    const started = Date.now();
    const report = await app.get(TimesheetProjector).rebuildAll();
    process.stdout.write(
      `timesheets rebuilt: ${report.sites} sites, ${report.entries} ledger entries read in ${Date.now() - started} ms\n`,
    );
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    error instanceof ConfigError
      ? `config error: ${error.message}\n`
      : `timesheets rebuild failed: ${(error as Error).message}\n`,
  );
  process.exit(1);
});
