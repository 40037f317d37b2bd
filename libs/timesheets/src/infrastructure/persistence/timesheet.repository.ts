import { TimesheetDay } from '../../domain/timesheet-day';
import { TimesheetEntry } from '../../domain/timesheet-entry';

export interface DayReplacement {
  siteId: string;
  workerId: string;
  fromDay: string;
  toDay: string;
  days: TimesheetDay[];
}

export interface DayQuery {
  siteId: string;
  /** Local days, inclusive. */
  fromDay: string;
  toDay: string;
  /** Only these workers (a thekedar's crew, or one worker); all when absent. */
  workerIds?: string[];
  /** Keyset: only days after this (workerId, day) in (workerId, day) order. */
  after?: { workerId: string; day: string };
  limit: number;
}

/**
 * The timesheet read model: a copy of the ledger entries timesheets need (with their derived
 * correction state) and the worker-days computed from them. Rebuildable from the ledger.
 */
export abstract class TimesheetRepository {
  /** Stores new entries (an entry already stored, same site and seq, is left as it is). */
  abstract insertEntries(entries: TimesheetEntry[]): Promise<void>;
  /** Overwrites the derived state (effectiveAt, voided, correctedBy) of stored entries. */
  abstract updateEntryStates(entries: TimesheetEntry[]): Promise<void>;
  abstract findEntries(siteId: string, seqs: number[]): Promise<TimesheetEntry[]>;
  /** Corrections whose target is one of `seqs`. */
  abstract findCorrectionsOf(siteId: string, seqs: number[]): Promise<TimesheetEntry[]>;
  /** A worker's punch-like entries (voided too) with effectiveAt in [fromMs, toMs), by time. */
  abstract listPunches(
    siteId: string,
    workerId: string,
    fromMs: number,
    toMs: number,
  ): Promise<TimesheetEntry[]>;
  /** Up to `limit` entries of a site with seq > afterSeq, by seq. */
  abstract listEntries(siteId: string, afterSeq: number, limit: number): Promise<TimesheetEntry[]>;
  /** The highest seq stored for the site (0 when none), and how many entries are stored. */
  abstract progress(siteId: string): Promise<{ maxSeq: number; count: number }>;
  /** For each replacement, the worker's days in [fromDay, toDay] become `days` (all inside that range). */
  abstract replaceDays(replacements: DayReplacement[]): Promise<void>;
  /** Days in (workerId, day) order. */
  abstract listDays(query: DayQuery): Promise<TimesheetDay[]>;
  /** Forgets everything about a site (before a rebuild). */
  abstract clearSite(siteId: string): Promise<void>;
}
