import { LedgerEntryData } from '@app/offline-sync';

export const CORRECTION_ACTIONS = [
  'void',
  'add_check_out',
  'add_check_in',
  'move',
  'add_shift',
  'acknowledge_over_max_hours',
] as const;
export type CorrectionAction = (typeof CORRECTION_ACTIONS)[number];
/** The actions that correct an entry (all but add_shift, which records a shift of its own). */
export const TARGETED_ACTIONS = [
  'void',
  'add_check_out',
  'add_check_in',
  'move',
  'acknowledge_over_max_hours',
] as const;

/**
 * The longest shift an `add_shift` records: a real shift longer than the longest shift the
 * punches pair (`TIMESHEET_MAX_SHIFT_HOURS`, 16 by default; at most 36) is recorded as one
 * shift up to this hard cap, its day flagged `over_max_hours` until acknowledged. Beyond it
 * no one works one shift: it is a mistyped date or two shifts.
 */
export const LONG_SHIFT_MAX_HOURS = 36;

/** Who made a correction: an admin key, or a thekedar's signed request (kept verifiable). */
export type CorrectionAuthor =
  | { kind: 'admin'; actor: string }
  | {
      kind: 'thekedar';
      thekedarId: string;
      deviceId: string;
      /** x-request-timestamp and x-signature as sent: HMAC over `<requestTimestamp>.<JCS(request body)>`. */
      requestTimestamp: string;
      signature: string;
    };

/**
 * A timesheet correction as the ledger holds it (`data` of a link of the site's chain). Every
 * value is a string or an integer, so its JCS form (and the recordHash) is the same in any
 * language. `packetId` is the correction's id (the ledger's unique entry id).
 */
export interface CorrectionData {
  kind: 'timesheet_correction';
  packetId: string;
  siteId: string;
  workerId: string;
  action: CorrectionAction;
  /**
   * The corrected entry of the same chain, pinned by its recordHash (absent for add_shift,
   * which corrects no entry: it records a whole shift of `workerId`).
   */
  target?: { siteId: string; seq: number; recordHash: string };
  /**
   * ISO-8601 UTC: the check-out (add_check_out) or check-in (add_check_in) time, the new
   * time (move), or the added shift's check-in (add_shift).
   */
  at?: string;
  /** ISO-8601 UTC: the added shift's check-out (add_shift only). */
  until?: string;
  /**
   * acknowledge_over_max_hours only: the seqs of the day it acknowledges, as the read model
   * held the day when the correction was checked (ascending). The acknowledgement holds while
   * the day's seqs below its own are these (`overMaxHoursAcknowledgement`): an entry that
   * left the day, or joined it with an older seq, asks for a look again. Derived by the
   * server, not sent: a retry of the same correction is the same whatever the day holds now.
   */
  daySeqs?: number[];
  reason: string;
  by: CorrectionAuthor;
}

/** The punch an added-punch action stands for (undefined for void and move). */
export function addedPunchType(action: CorrectionAction): 'check_in' | 'check_out' | undefined {
  if (action === 'add_check_out') return 'check_out';
  if (action === 'add_check_in') return 'check_in';
  return undefined;
}

export function isCorrectionData(data: LedgerEntryData): data is CorrectionData & LedgerEntryData {
  return 'kind' in data && data.kind === 'timesheet_correction';
}
