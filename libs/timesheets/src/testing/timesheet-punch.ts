import { TimesheetEntry } from '../domain/timesheet-entry';

/**
 * A read-model punch for specs: a check-in of worker `w1` at site `S` recorded and effective
 * at `seq` seconds, not voided nor corrected; `extra` overrides any field.
 */
export function timesheetPunch(seq: number, extra: Partial<TimesheetEntry> = {}): TimesheetEntry {
  return {
    siteId: 'S',
    seq,
    workerId: 'w1',
    packetId: `p${seq}`,
    kind: 'punch',
    punchType: 'check_in',
    at: 1_000 * seq,
    effectiveAt: 1_000 * seq,
    voided: false,
    correctedBy: [],
    lowTrust: false,
    ...extra,
  };
}
