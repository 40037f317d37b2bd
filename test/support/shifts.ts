import { LedgerService } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { TestApp } from './test-app';

/** `hour` hours into `day` (UTC), as an ISO time. */
export const hourOf = (day: string, hour: number): string =>
  new Date(Date.parse(`${day}T00:00:00.000Z`) + hour * 3_600_000).toISOString();

/**
 * Appends to the site's ledger, through the app's LedgerService: worker `a` works 8 h (08:00 to
 * 16:00 UTC) on `first` and on `second`, worker `b` 12 h (06:00 to 18:00) on `first`. The
 * appends' results, in that order (A's four punches, then B's two).
 */
export function appendTwoWorkersShifts(
  t: TestApp,
  siteId: string,
  a: string,
  b: string,
  first: string,
  second: string,
) {
  const punch = (workerId: string, type: 'check_in' | 'check_out', timestamp: string) =>
    punchEntry({ siteId, workerId, type, timestamp });
  return t.app
    .get(LedgerService)
    .append([
      punch(a, 'check_in', hourOf(first, 8)),
      punch(a, 'check_out', hourOf(first, 16)),
      punch(a, 'check_in', hourOf(second, 8)),
      punch(a, 'check_out', hourOf(second, 16)),
      punch(b, 'check_in', hourOf(first, 6)),
      punch(b, 'check_out', hourOf(first, 18)),
    ]);
}
