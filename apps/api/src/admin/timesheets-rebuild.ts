/**
 * `npm run timesheets:rebuild`: forgets the timesheet read model and builds it again from
 * every site's ledger chain (the ledger is the record; the read model is derived). Run it with
 * the same environment as the server (DATA_DIR or DATABASE_URL). Appends that land during the
 * rebuild are taken by the server's own catch-up, but a site being rebuilt has a partial read
 * model that a running server reads as it is: make no corrections meanwhile (architecture.md,
 * Timesheets), or stop the API first.
 */
import { TimesheetProjector } from '@app/timesheets';
import { runAppJob } from './app-job';

export function timesheetsRebuild(): void {
  runAppJob('timesheets rebuild failed', async (app) => {
    const started = Date.now();
    const report = await app.get(TimesheetProjector).rebuildAll();
    process.stdout.write(
      `timesheets rebuilt: ${report.sites} sites, ${report.entries} ledger entries read in ${Date.now() - started} ms\n`,
    );
  });
}
