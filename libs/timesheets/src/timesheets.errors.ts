import { CodeOf, DomainError } from '@app/common';

/** What timesheet reads and corrections refuse with. */
export const TIMESHEETS_ERRORS = {
  module: 'timesheets',
  codes: {
    invalid_period: '`to` is before `from`',
    period_too_long: 'the period covers more days than TIMESHEET_MAX_PERIOD_DAYS',
    invalid_cursor: 'the cursor is not one this endpoint gave',
    site_not_found: 'no site has this siteId',
    worker_not_in_crew: 'a thekedar reads and corrects only the workers it onboarded',
    entry_not_found: 'this site has no ledger entry with that seq',
    not_correctable: 'the target entry is not a punch or a correction',
    cross_site_correction: "a correction goes to the chain of its target's site",
    correction_id_conflict: 'the correctionId is already used by another entry',
    already_voided: 'the target entry is already voided',
    time_in_future: '`at` is in the future',
    unexpected_time: 'a void takes no `at`',
    time_required: 'add_check_out and move need `at`',
    check_out_out_of_range:
      'an added check-out is not after its check-in or is more than TIMESHEET_MAX_SHIFT_HOURS after it',
    not_a_check_in: 'add_check_out targets a check-in punch',
    not_a_punch: 'move targets a punch or an added check-out',
    target_voided: 'the target entry is voided',
    timesheets_behind: 'the timesheet read model is catching up with the ledger; retry',
  },
} as const;

export type TimesheetsErrorCode = CodeOf<typeof TIMESHEETS_ERRORS>;

export class TimesheetsError extends DomainError<TimesheetsErrorCode> {
  readonly module = TIMESHEETS_ERRORS.module;
}
