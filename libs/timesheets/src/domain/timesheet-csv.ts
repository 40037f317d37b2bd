import { TimesheetDayView } from '../dto/timesheet.dto';

export const CSV_HEADER = [
  'worker_id',
  'date',
  'first_in',
  'last_out',
  'hours',
  'flags',
  'corrected',
  'ledger_seqs',
];

/** One RFC 4180 field: quoted when it holds a comma, a quote, CR or LF (quotes doubled). */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function csvLine(fields: string[]): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}

/**
 * One row per worker-day. `flags` lists `type@seq` (fraud as `fraud:<type>@seq`) separated by
 * `; `, `ledger_seqs` the site's ledger seqs behind the day separated by spaces.
 */
export function csvRow(d: TimesheetDayView): string {
  return csvLine([
    d.workerId,
    d.date,
    d.firstIn ?? '',
    d.lastOut ?? '',
    d.hours.toFixed(2),
    d.flags.map((f) => `${f.type}${f.detail ? `:${f.detail}` : ''}@${f.seq}`).join('; '),
    d.corrected ? 'true' : 'false',
    d.seqs.join(' '),
  ]);
}
