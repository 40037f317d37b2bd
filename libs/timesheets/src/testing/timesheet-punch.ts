import { CorrectionAction } from '../domain/correction';
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

/**
 * A read-model correction for specs: `action` by worker `w1` at site `S`, not voided nor
 * corrected, with no target, time or punch type unless `extra` gives them (a void's
 * `targetSeq`; an added check-out's `punchType`, `at` and `effectiveAt`; an added shift's
 * `outAt` too).
 */
export function timesheetCorrection(
  seq: number,
  action: CorrectionAction,
  extra: Partial<TimesheetEntry> = {},
): TimesheetEntry {
  return {
    siteId: 'S',
    seq,
    workerId: 'w1',
    packetId: `c${seq}`,
    kind: 'correction',
    action,
    voided: false,
    correctedBy: [],
    lowTrust: false,
    ...extra,
  };
}
