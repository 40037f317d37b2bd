import { LedgerService } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { recordWorkersOf } from './ledger-workers';
import { http, TestApp } from './test-app';
import { createSite } from './timesheet-client';

/** `hour` hours into `day` (UTC), as an ISO time. */
export const hourOf = (day: string, hour: number): string =>
  new Date(Date.parse(`${day}T00:00:00.000Z`) + hour * 3_600_000).toISOString();

/**
 * Appends to the site's ledger, through the app's LedgerService: worker `a` works 8 h (08:00 to
 * 16:00 UTC) on `first` and on `second`, worker `b` 12 h (06:00 to 18:00) on `first`. The
 * appends' results, in that order (A's four punches, then B's two).
 */
export async function appendTwoWorkersShifts(
  t: TestApp,
  siteId: string,
  a: string,
  b: string,
  first: string,
  second: string,
) {
  const punch = (workerId: string, type: 'check_in' | 'check_out', timestamp: string) =>
    punchEntry({ siteId, workerId, type, timestamp });
  const entries = [
    punch(a, 'check_in', hourOf(first, 8)),
    punch(a, 'check_out', hourOf(first, 16)),
    punch(a, 'check_in', hourOf(second, 8)),
    punch(a, 'check_out', hourOf(second, 16)),
    punch(b, 'check_in', hourOf(first, 6)),
    punch(b, 'check_out', hourOf(first, 18)),
  ];
  await recordWorkersOf(t.app, entries);
  return t.app.get(LedgerService).append(entries);
}

/** A site's timesheets of `day` (UTC), read with the admin key. */
export function timesheetsOf(t: TestApp, siteId: string, day: string) {
  return http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/timesheets?from=${day}&to=${day}`, {
    key: t.keys.admin,
  });
}

/** The seqs the site's `day` pays (200 expected). */
export async function paidSeqsOf(t: TestApp, siteId: string, day: string): Promise<number[]> {
  const res = await timesheetsOf(t, siteId, day);
  expect([res.status, res.body?.code]).toEqual([200, undefined]);
  return (res.body.days as Array<{ seqs: number[] }>).flatMap((d) => d.seqs).sort();
}

/**
 * A new UTC site whose three links on `day` (worker `a`'s shift 08:00–16:00, in one append;
 * worker `b`'s check-in at 09:00, in a second) are sealed and paid.
 */
export async function sealedThreeLinkSite(t: TestApp, day: string): Promise<string> {
  const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'UTC');
  const punch = (workerId: string, type: 'check_in' | 'check_out', hour: number) =>
    punchEntry({ siteId, workerId, type, timestamp: hourOf(day, hour) });
  const shift = [punch('a'.repeat(24), 'check_in', 8), punch('a'.repeat(24), 'check_out', 16)];
  const checkIn = [punch('b'.repeat(24), 'check_in', 9)];
  await recordWorkersOf(t.app, [...shift, ...checkIn]);
  const ledger = t.app.get(LedgerService);
  await ledger.append(shift);
  await ledger.append(checkIn);
  expect(await paidSeqsOf(t, siteId, day)).toEqual([1, 2, 3]);
  return siteId;
}
