import { CommonError } from '@app/common';
import { dayFlags, TimesheetDay } from '../../domain/timesheet-day';
import { TimesheetEntry } from '../../domain/timesheet-entry';

/**
 * An entry's fields as either store holds them, under the domain's names (each mapper renames
 * its columns): the kinds as text, an absent optional field as null (SQLite) or undefined
 * (MongoDB). What a stored entry means is decided once, here, for both stores.
 */
export interface StoredTimesheetEntry {
  siteId: string;
  seq: number;
  workerId: string;
  packetId: string;
  kind: string;
  punchType?: string | null;
  action?: string | null;
  targetSeq?: number | null;
  at?: number | null;
  effectiveAt?: number | null;
  outAt?: number | null;
  voided: boolean;
  lowTrust: boolean;
}

function isSet<T>(value: T | null | undefined): value is T {
  return value !== null && value !== undefined;
}

/** The domain entry a stored one holds: an absent optional field is left out, not undefined. */
export function entryFromStored(s: StoredTimesheetEntry, correctedBy: number[]): TimesheetEntry {
  return {
    siteId: s.siteId,
    seq: s.seq,
    workerId: s.workerId,
    packetId: s.packetId,
    kind: s.kind as TimesheetEntry['kind'],
    ...(s.punchType ? { punchType: s.punchType as TimesheetEntry['punchType'] } : {}),
    ...(s.action ? { action: s.action as TimesheetEntry['action'] } : {}),
    ...(isSet(s.targetSeq) ? { targetSeq: s.targetSeq } : {}),
    ...(isSet(s.at) ? { at: s.at } : {}),
    ...(isSet(s.effectiveAt) ? { effectiveAt: s.effectiveAt } : {}),
    ...(isSet(s.outAt) ? { outAt: s.outAt } : {}),
    voided: s.voided,
    correctedBy,
    lowTrust: s.lowTrust,
  };
}

/** A day as both stores keep it: its JSON text (its packets as [packetId, seq] pairs). */
export function dayToBody(day: TimesheetDay): string {
  return JSON.stringify(day);
}

/**
 * The day a stored body holds. Bodies written before the packets became pairs hold them as an
 * object keyed by packet id: read as pairs (by seq) too, until a recompute writes the day again.
 * Bodies written before `corrected` became one flag a day may hold several: read as one.
 */
export function dayFromBody(body: string, key = ''): TimesheetDay {
  let day: TimesheetDay;
  try {
    day = JSON.parse(body) as TimesheetDay;
  } catch {
    day = undefined as unknown as TimesheetDay;
  }
  if (typeof day !== 'object' || day === null || !Array.isArray(day.flags)) {
    throw new CommonError(
      'stored_record_invalid',
      `The stored timesheet day${key ? ` ${key}` : ''} (timesheet_days) is malformed; run timesheets:rebuild`,
    );
  }
  const packets = day.packets as unknown;
  if (!Array.isArray(packets)) {
    day.packets = Object.entries(packets as Record<string, number>).sort((a, b) => a[1] - b[1]);
  }
  let corrected = 0;
  for (const f of day.flags) if (f.type === 'corrected') corrected += 1;
  if (corrected > 1) day.flags = dayFlags(day.flags);
  return day;
}
