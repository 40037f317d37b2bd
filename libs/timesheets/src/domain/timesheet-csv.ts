import { PayrollWorkerView, TimesheetDayView } from '../dto/timesheet.dto';

export const CSV_HEADER = [
  'worker_id',
  'worker_name',
  'worker_phone',
  'date',
  'first_in',
  'last_out',
  'hours',
  'flags',
  'corrected',
  'ledger_seqs',
];

/**
 * The first cell of the last line of an export cut off by an error after its first rows were
 * sent (a damaged stored row further on): `#export_incomplete,<error code>`, and the connection
 * is closed before the body's end. A whole export never holds it (no worker id starts with #).
 */
export const CSV_CUT_MARKER = '#export_incomplete';

/** Who a row is for, as the payroll needs it (name and phone, never a platform id). */
export interface CsvPerson {
  name: string;
  phone: string;
}

/**
 * The first characters that make a spreadsheet read a cell as a formula (OWASP, CSV
 * Injection; ASVS adds NUL): `=`, `+`, `-`, `@`, a tab, a carriage return and NUL.
 */
const FORMULA_START = /^[=+\-@\t\r\0]/;

/**
 * A phone as the payroll has it: `+`, then digits, optionally in groups separated by single
 * spaces (`+919810000001`, `+91 98100 00001`). A spreadsheet reads it as a formula of one
 * unary plus over number literals: no function to call (HYPERLINK, WEBSERVICE, IMPORTXML), no
 * cell or sheet reference to leak, no DDE (`cmd|`), no string; its worst is a number shown
 * without the `+` (or an error value for the spaced form), never a call. So it is written as
 * it is: the payroll software the export is imported into keeps a single quote literally.
 * Anything else after a `+` (a letter, `|`, `(`, `-`, a second `+`, two spaces) keeps the
 * quote, and so does a longer number than E.164's 15 digits: a spreadsheet keeps 15 digits of
 * a number and would round the rest away (the quote keeps it text).
 */
const PHONE_ONLY = /^\+\d+(?: \d+)*$/;
const E164_MAX_DIGITS = 15;

function isPhoneOnly(value: string): boolean {
  return PHONE_ONLY.test(value) && value.replace(/\D/g, '').length <= E164_MAX_DIGITS;
}

/**
 * One RFC 4180 field. A value a spreadsheet would run as a formula (it starts with one of
 * FORMULA_START) is neutralized as OWASP says: a single quote before it, and the cell quoted;
 * but a phone-shaped value (PHONE_ONLY: `+` and 1 to 15 digits, arithmetic with nothing to run) is
 * left as it is. Otherwise quoted when it holds a comma, a semicolon (the list separator of many locales: a
 * spreadsheet there would split the field and read a part starting with `=` as a formula), a
 * quote, CR or LF; quotes are doubled.
 */
export function csvField(value: string): string {
  if (FORMULA_START.test(value) && !isPhoneOnly(value)) return `"'${value.replace(/"/g, '""')}"`;
  return /[",;\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * A number the server computed (hours, seconds, counts, their change since a close, which may
 * be negative): written as its digits, never quoted. The formula guard of `csvField` is for
 * text that came from users (names, phones, ids); a number is no formula, and `'-9.00` would
 * be read as text by the payroll software, so a negative change would not be paid back.
 */
export class CsvNumber {
  readonly text: string;

  constructor(value: number, fractionDigits?: number) {
    if (!Number.isFinite(value)) throw new RangeError('a CSV number must be finite');
    this.text = fractionDigits === undefined ? String(value) : value.toFixed(fractionDigits);
  }
}

/** A number cell (`CsvNumber`): `digits` fixed decimals, or the number as it is. */
export function csvNumber(value: number, fractionDigits?: number): CsvNumber {
  return new CsvNumber(value, fractionDigits);
}

/** A CSV cell: text (user input, guarded by `csvField`) or a number the server computed. */
export type CsvCell = string | CsvNumber;

export function csvLine(fields: readonly CsvCell[]): string {
  return `${fields.map((f) => (f instanceof CsvNumber ? f.text : csvField(f))).join(',')}\r\n`;
}

/**
 * One row per worker-day. `worker_name` and `worker_phone` are the worker's as they are now
 * (empty for a worker the store no longer has). `flags` lists `type@seq` (fraud as
 * `fraud:<type>@seq`, a dismissed one as `fraud_dismissed:<type>@seq`, a shift at another site as `overlaps_other_site:<siteId>@seq`, or
 * `overlaps_other_site@seq` to a thekedar that does not work at that site)
 * separated by `; `, `ledger_seqs` the site's ledger seqs behind the day
 * separated by spaces.
 */
export function csvRow(d: TimesheetDayView, person?: CsvPerson): string {
  return csvLine([
    d.workerId,
    person?.name ?? '',
    person?.phone ?? '',
    d.date,
    d.firstIn ?? '',
    d.lastOut ?? '',
    csvNumber(d.hours, 2),
    d.flags.map((f) => `${f.type}${f.detail ? `:${f.detail}` : ''}@${f.seq}`).join('; '),
    d.corrected ? 'true' : 'false',
    d.seqs.join(' '),
  ]);
}

/** The columns of `payroll.csv`: the payroll JSON's, one row per worker. */
export const PAYROLL_CSV_HEADER = [
  'worker_id',
  'worker_name',
  'worker_phone',
  'days_present',
  'hours',
  'worked_seconds',
  'flagged_days',
  'corrected_days',
  'since_close_days_present',
  'since_close_hours',
  'since_close_worked_seconds',
  'since_close_flagged_days',
  'refused_punches',
];

/**
 * One payroll row: a worker's totals, and its change since the close when the period is a
 * closed one (empty cells otherwise).
 */
export function payrollCsvRow(w: PayrollWorkerView): string {
  const since = w.sinceClose;
  return csvLine([
    w.workerId,
    w.name ?? '',
    w.phone ?? '',
    csvNumber(w.daysPresent),
    csvNumber(w.hours, 2),
    csvNumber(w.workedSeconds),
    csvNumber(w.flaggedDays),
    csvNumber(w.correctedDays),
    since ? csvNumber(since.daysPresent) : '',
    since ? csvNumber(since.hours, 2) : '',
    since ? csvNumber(since.workedSeconds) : '',
    since ? csvNumber(since.flaggedDays) : '',
    csvNumber(w.refusedPunches),
  ]);
}
