/**
 * `npm run timesheets:rebuild`: forgets the timesheet read model and builds it again from
 * every site's ledger chain (the ledger is the record; the read model is derived). Run it with
 * the same environment as the server (DATA_DIR or DATABASE_URL) and TIMESHEET_REBUILD_LEASE_SECONDS.
 * Each site is rebuilt under its rebuild mark (a lease in the store, renewed while it works):
 * meanwhile running servers answer that site's timesheet reads and corrections 503
 * `timesheets_rebuilding` and do not project into it; appends that land during the rebuild are
 * taken by the rebuild or by the servers' catch-up after it. A rebuild that dies blocks the site
 * until its lease expires; the servers then finish the site from what it stored
 * (docs/architecture.md, "The rebuild mark").
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
