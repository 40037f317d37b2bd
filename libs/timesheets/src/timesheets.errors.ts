import { CodeOf, DomainError } from '@app/common';

/** What timesheet reads and corrections refuse with. */
export const TIMESHEETS_ERRORS = {
  module: 'timesheets',
  codes: {
    period_too_long: 'the period covers more days than TIMESHEET_MAX_PERIOD_DAYS',
    invalid_cursor:
      'the cursor is not one this endpoint gave for this listing (the same site, from, to and workerId)',
    site_not_found: 'no site has this siteId',
    worker_not_in_crew: 'a thekedar reads and corrects only the workers it onboarded',
    entry_not_found: 'this site has no ledger entry with that seq',
    not_correctable: 'the target entry is not a punch or a correction',
    cross_site_correction: "a correction goes to the chain of its target's site",
    correction_id_conflict: 'the correctionId is already used by another entry',
    already_voided: 'the target entry is already voided',
    time_in_future: '`at` is later than the server clock plus SYNC_MAX_CLOCK_SKEW_SECONDS',
    unexpected_time: 'a void and an acknowledge_over_max_hours take no `at`',
    time_required: 'add_check_out, add_check_in and move need `at`, add_shift `at` and `until`',
    check_out_out_of_range:
      'an added check-out is not after its check-in, is more than TIMESHEET_MAX_SHIFT_HOURS after it (the message names the limit; where shifts longer than it are real, raise TIMESHEET_MAX_SHIFT_HOURS, up to 36), or is not before the next punch',
    check_in_out_of_range:
      'an added check-in is not before its check-out, is more than TIMESHEET_MAX_SHIFT_HOURS before it, or is not after the previous punch',
    move_out_of_range:
      "a move's `at` is more than TIMESHEET_MAX_SHIFT_HOURS from the time the entry was recorded at",
    move_breaks_shift:
      'a move would leave a punch it does not move without the partner it has: a check-out moved before its check-in or past the next check-in, a check-in after its check-out, or either moved so far from its partner that the shift would last longer than TIMESHEET_MAX_SHIFT_HOURS (the message then names the shift, how long it would last and the limit)',
    already_checked_out: 'the check-in already has a check-out (a punch, or an added one)',
    already_checked_in: 'the check-out already has a check-in (a punch, or an added one)',
    not_a_check_in: 'add_check_out targets a check-in punch',
    not_a_check_out: 'add_check_in targets a check-out punch',
    not_a_punch: 'move targets a punch or an added check-out or check-in',
    target_voided: 'the target entry is voided',
    not_over_max_hours:
      "acknowledge_over_max_hours: the target is not the entry its day's over_max_hours flag names (the shift that takes the day past TIMESHEET_MAX_SHIFT_HOURS), or the day has no such flag",
    already_acknowledged:
      "acknowledge_over_max_hours: the day's over_max_hours is acknowledged already, and nothing of the day changed since",
    worker_not_found:
      'add_shift: no worker has this workerId; the timesheets, CSV and payroll reads: `workerId` names no worker, or a worker never assigned to this site',
    worker_not_at_site:
      'add_shift: the worker was never assigned to this site, was moved off it before the shift began, or was deactivated when it began (a site given to the worker later counts for shifts before it, within TIMESHEET_BACKFILL_DAYS)',
    shift_too_old:
      'add_shift: `at` is more than TIMESHEET_BACKFILL_DAYS days before the server clock (a mistyped year?); older history is not recorded by a correction',
    shift_out_of_range:
      'add_shift: `until` is not after `at`, or is more than TIMESHEET_MAX_SHIFT_HOURS after it (the message names the limit; where shifts longer than it are real, raise TIMESHEET_MAX_SHIFT_HOURS, up to 36: it moves the pairing, overlap and recompute windows together)',
    shift_overlap:
      "a correction would make an added shift overlap another shift or punch of the worker (the hours would count twice): an add_shift over the worker's shifts or punches, or a punch added or moved into an added shift",
    timesheets_rebuilding:
      "the site's timesheet read model is being rebuilt (`npm run timesheets:rebuild`): no read or correction of it until the rebuild ends or its lease expires; retry after `Retry-After` seconds",
    timesheets_tampered:
      "rows of the site's timesheet read model do not carry the server's tag, or an entry is older than the corrections stored with it (written or changed outside the server, or put back from before a correction: docs/architecture.md, \"Tagged rows\"): a day is recomputed from its entries at once and the read answers; an entry (the read model's copy of a ledger link) cannot be, so reads of the site answer this until an operator runs `npm run timesheets:rebuild` (reported on /health and by mdai_timesheet_rows_tampered_total). A correction also answers it when its target's ledger link fails the check the read model reads the chain with (hashed again, chained, in the signed tree or tagged: rewritten in the store): this request appends nothing (a correction already sent with its correctionId stays; a retry of one gets this answer too), the store is restored from a backup",
    site_tampered:
      "the site's stored record (its time zone, which decides the local day each punch falls on, or its geofence) does not verify under the server's store-MAC tag (SiteSeal: changed outside the server): its timesheets, payroll and CSV exports and corrections are refused (never paid over days cut in another zone) until an operator restores the site's record from a backup (`errors` names the siteId)",
    worker_tampered:
      "a payroll or timesheet CSV export of the site names a worker whose stored record (name, phone, sites…) does not verify under the server's store-MAC tag (changed outside the server: it would pay another phone), or whose record is missing (deleted outside the server: the server never deletes a worker, and its entries would be paid to no one's phone): the export is refused until an operator restores the worker's record from a backup; `errors` names the workerIds. A correction adding a shift for such a worker is refused the same (its status and sites are not the server's)",
    timesheets_key_unavailable:
      "a correction: its target's ledger link is tagged under a store-MAC key this server does not hold (a rolling STORE_MAC_KEY rotation: another replica already tags under the new key; or the key was dropped from STORE_MAC_RETIRED_KEYS): this request appended nothing (a correction already sent with its correctionId stays); retry after `Retry-After` seconds (a replica holding the key answers; if every one answers this, add the key to STORE_MAC_RETIRED_KEYS). Answered for 10 minutes per target from the first correction of it a server met; after that the link is taken as changed outside the server: timesheets_tampered",
    timesheets_ledger_unverified:
      "a sealed link of the site's ledger fails its check (hashed again, chained, in the signed checkpoint: rewritten or deleted in the database after its seal): the read model stops before it, so reads and corrections of the site answer this (never a pay without the punches after it) until the link is put back as it was sealed (reported on /health, `timesheets.stoppedSites`, and by mdai_timesheet_sites_stopped; checked again when the stored link changes, or once a minute)",
    timesheets_behind: 'the timesheet read model is catching up with the ledger; retry',
    timesheets_catching_up:
      "a correction: the site's timesheet read model on this server is further behind its ledger than TIMESHEET_CORRECTION_MAX_LAG links, or did not catch up within TIMESHEET_CORRECTION_WAIT_MS; nothing was appended, the catch-up goes on: retry after `Retry-After` seconds",
    correction_contended:
      "the corrected worker's entries kept changing (its other corrections, its synced punches) while the correction was checked; retry",
    period_closed:
      "a thekedar's correction touches a day of a closed payroll period (an admin closed it once paid: POST /api/v5/sites/:siteId/payroll/closes): ask an admin, whose correction is allowed and shows in that period's payroll as a change since the close",
    period_overlaps_close:
      'a payroll close overlaps a closed period of the site other than the same one (the same period again answers 200 with the stored close): a day is closed once',
    period_not_over:
      "a payroll close of a period whose last day is not over yet at the site (today in the site's time zone or later)",
    payroll_close_tampered:
      'a payroll close of the period does not verify under the server\'s store-MAC tag (changed outside the server): the totals it recorded cannot be trusted, so the payroll of a period it overlaps is refused until an operator restores the row from a backup (listings show it with `integrity: "tampered"`)',
    payroll_close_chain_broken:
      "the site's closes do not form the chain the server wrote (each close names the one recorded before it, and a tagged head names the latest): a close was deleted, reordered or changed in the database outside the server (a deleted close would read as an open period, paid again), the site's payroll-closes log in the transparency log sealed more closes than are stored (every close deleted with its head, a head put back from an older copy), or a close of an earlier release fails its tag and is not re-linked: the site's payroll reads and CSV, closes and thekedar corrections are refused until an operator restores the closes from a backup (when the transparency log signed more closes of the site than are stored, restore the whole store: the closes with the log's checkpoints and nodes of the site, from the same backup) (its listing says `chain: \"broken\"`; the server logs what breaks it)",
    payroll_close_raced:
      'another server recorded a close of the site at the same moment (MongoDB: the chain of closes moved under this one): nothing was recorded; send the close again',
  },
} as const;

export type TimesheetsErrorCode = CodeOf<typeof TIMESHEETS_ERRORS>;

export class TimesheetsError extends DomainError<TimesheetsErrorCode> {
  readonly module = TIMESHEETS_ERRORS.module;
}

/** 503 `timesheets_rebuilding`, retried when the lease would end (at least 1 s, at most 30 s). */
export function rebuildingError(expiresAt: number, now = Date.now()): TimesheetsError {
  const error = new TimesheetsError(
    'timesheets_rebuilding',
    "The site's timesheets are being rebuilt from the ledger; retry",
  );
  error.retryAfterSeconds = Math.min(30, Math.max(1, Math.ceil((expiresAt - now) / 1000)));
  return error;
}

/**
 * 503 `timesheets_catching_up`: a correction that would wait too long for the read model (its
 * rules read it), retried after `seconds` (1 to 30): nothing of it was appended.
 */
export function catchingUpError(seconds: number, why: string): TimesheetsError {
  const error = new TimesheetsError(
    'timesheets_catching_up',
    `The site's timesheets on this server are catching up with its ledger (${why}); nothing was appended: retry`,
  );
  error.retryAfterSeconds = Math.min(30, Math.max(1, Math.ceil(seconds)));
  return error;
}

/**
 * 503 `timesheets_ledger_unverified`: the site's read model stops before a sealed link that
 * fails its check (`seq`, named; nothing of the link). Retried after a minute, when the link is
 * checked again.
 */
export function ledgerUnverifiedError(seq: number): TimesheetsError {
  const error = new TimesheetsError(
    'timesheets_ledger_unverified',
    `The site's ledger link ${seq} fails its check (changed in the database after its seal): its timesheets stop before it until the link is put back as sealed`,
  );
  error.retryAfterSeconds = 60;
  return error;
}
