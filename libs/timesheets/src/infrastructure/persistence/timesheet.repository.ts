import { TimesheetDay } from '../../domain/timesheet-day';
import { TimesheetEntry } from '../../domain/timesheet-entry';

/**
 * A stored list of store-MAC key ids as `sealKids` answers it: a non-empty array of non-empty
 * strings, else `malformed` (written outside the server).
 */
export function keyIds(value: unknown): string[] | 'malformed' {
  if (!Array.isArray(value) || value.length === 0) return 'malformed';
  return value.every((kid) => typeof kid === 'string' && kid.length > 0)
    ? (value as string[])
    : 'malformed';
}

export interface DayReplacement {
  siteId: string;
  workerId: string;
  fromDay: string;
  toDay: string;
  days: TimesheetDay[];
  /** The times whose days this replacement recomputed: a pending mark inside them is cleared. */
  settles?: { min: number; max: number };
  /**
   * The worker's write version (`versionsOf`) read before the punches these days come from.
   * On a store that replicas share, each day of a newer basis is kept, and a mark is settled
   * only as `mark` says; absent: unconditional.
   */
  basis?: number;
  /**
   * The worker's pending mark as `pendingBasis` read it before the punches these days come
   * from. On MongoDB a replacement of a `basis` clears a mark only if it is still that one
   * (no write has marked it since) and absent: it read no mark whose entries it surely saw.
   */
  mark?: string;
  /**
   * Pending marks of other sites (the same worker's days there that this recompute's entries
   * may overlap: `overlaps_other_site`), written with these days: on SQLite in the same
   * transaction, on MongoDB before the worker's own mark is settled (and bumping those
   * workers' versions there, so a recompute of theirs that read the old entries stays older).
   */
  others?: PendingDays[];
}

/**
 * A durable "days pending recompute" mark: entries at times in [min, max] (epoch ms) of the
 * worker are stored but the days they reach may not be recomputed yet. Written in the same
 * write as those entries, cleared with the recomputed days (docs/architecture.md, "Timesheets").
 */
export interface PendingDays {
  siteId: string;
  workerId: string;
  min: number;
  max: number;
}

/** Seqs a read leaves out (entries the caller holds in hand). */
export interface SeqRange {
  fromSeq: number;
  toSeq: number;
}

export interface DayQuery {
  siteId: string;
  /** Local days, inclusive. */
  fromDay: string;
  toDay: string;
  /** Only these workers (a thekedar's crew, or one worker); all when absent. */
  workerIds?: string[];
  /** Keyset: only days after this (workerId, day) in (workerId, day) order. */
  after?: DayKey;
  limit: number;
  /**
   * The most workers one page visits (SQLite; default DAY_PAGE_MAX_WORKERS): a page over many
   * workers with few days in the period ends there, short, with `next`.
   */
  maxWorkers?: number;
}

/** A worker-day's place in (workerId, day) order: a keyset cursor. */
export interface DayKey {
  workerId: string;
  day: string;
}

/** Workers one page of days visits at most, unless the query says otherwise. */
export const DAY_PAGE_MAX_WORKERS = 1000;

/**
 * A page of days in (workerId, day) order, and where the next page starts (`after` of the next
 * query): present when the page is full (there may be no more) or when it stopped early, short
 * or even empty, having visited `maxWorkers` workers; absent when no day of the query is left.
 */
export interface DayPage {
  days: TimesheetDay[];
  next?: DayKey;
}

/**
 * A site's rebuild mark (`npm run timesheets:rebuild`): a lease its rebuild holds from before it
 * clears the site's read model until the site is refilled, renewed while it works. While it is
 * live (expiresAt in the future, by the wall clock) other processes neither read the site's
 * read model nor project into it (docs/architecture.md, "The rebuild mark").
 */
export interface RebuildMark {
  siteId: string;
  /**
   * Grows by one with every rebuild started on the site (never reset, the row is never
   * deleted): a process that saw another generation before may hold a cursor or a read from
   * before a clear.
   */
  generation: number;
  /** The holder's id (one per process's repository: `startRebuild`). */
  owner: string;
  /** Epoch ms (wall clock) the lease ends at unless renewed; 0 once the rebuild has ended. */
  expiresAt: number;
}

/**
 * The timesheet read model: a copy of the ledger entries timesheets need (with their derived
 * correction state) and the worker-days computed from them. Rebuildable from the ledger.
 */
export abstract class TimesheetRepository {
  /**
   * Stores new entries (an entry already stored, same site and seq, is left as it is), widens
   * the pending marks to cover `pending` and overwrites the derived state of `states` (as
   * updateEntryStates), in one write on SQLite; on MongoDB the marks first, then the states,
   * then the entries (and the states again when another process stored some of the entries
   * first, with its own states). Returns how many entries were new.
   */
  abstract insertEntries(
    entries: TimesheetEntry[],
    pending?: PendingDays[],
    states?: TimesheetEntry[],
    stateBasis?: number,
  ): Promise<number>;
  /**
   * Overwrites the derived state (effectiveAt, voided, correctedBy) of stored entries; marks
   * as insertEntries. `stateBasis`: the highest seq of the site the states were resolved from
   * (a process takes a site's entries in seq order, so a tree resolved at a higher seq saw
   * every member up to it); on MongoDB, shared by replicas, a state written from a higher
   * basis is kept. SQLite has one writer process: unconditional.
   */
  abstract updateEntryStates(
    entries: TimesheetEntry[],
    pending?: PendingDays[],
    stateBasis?: number,
  ): Promise<void>;
  /** Up to `limit` pending marks after `after` in (siteId, workerId) order; one site's when `siteId` is given. */
  abstract listPending(
    limit: number,
    after?: { siteId: string; workerId: string },
    siteId?: string,
  ): Promise<PendingDays[]>;
  abstract findEntries(siteId: string, seqs: number[]): Promise<TimesheetEntry[]>;
  /** Corrections whose target is one of `seqs`. */
  abstract findCorrectionsOf(siteId: string, seqs: number[]): Promise<TimesheetEntry[]>;
  /**
   * A worker's punch-like entries (voided too) with effectiveAt in [fromMs, toMs), by time;
   * without those whose seq is in `except` when given.
   */
  abstract listPunches(
    siteId: string,
    workerId: string,
    fromMs: number,
    toMs: number,
    except?: SeqRange,
  ): Promise<TimesheetEntry[]>;
  /**
   * The worker's punch-like entries (voided too) at every site but `siteId`, with effectiveAt
   * in [fromMs, toMs), by time (then site and seq): one indexed read (the worker's entries by
   * time, across sites), empty for a worker who works at one site.
   */
  abstract listOtherSitePunches(
    siteId: string,
    workerId: string,
    fromMs: number,
    toMs: number,
  ): Promise<TimesheetEntry[]>;
  /**
   * A recompute's punches of the worker, in one read of the worker's entries by time across
   * sites (the index `listOtherSitePunches` reads), split by site: `own` is what
   * `listPunches(siteId, workerId, own.fromMs, own.toMs, except)` gives, `others` what
   * `listOtherSitePunches(siteId, workerId, others.fromMs, others.toMs)` gives (the same rows,
   * the same order, each row's tag checked the same way: the own site's first). Both ranges
   * half-open; the read spans both.
   */
  abstract listRecomputePunches(
    siteId: string,
    workerId: string,
    own: { fromMs: number; toMs: number },
    others: { fromMs: number; toMs: number },
    except?: SeqRange,
  ): Promise<{ own: TimesheetEntry[]; others: TimesheetEntry[] }>;
  /** Up to `limit` entries of a site with seq > afterSeq, by seq. */
  abstract listEntries(siteId: string, afterSeq: number, limit: number): Promise<TimesheetEntry[]>;
  /** The highest seq of the site's stored entries (0 for none): one seek. */
  abstract maxSeq(siteId: string): Promise<number>;
  /**
   * The highest seq stored for the site (0 when none), and how many entries are stored: of
   * whole seqs from 1 only, the seqs links have (a row at 0, below, or between two seqs is
   * written outside the server: review L3).
   */
  abstract progress(siteId: string): Promise<{ maxSeq: number; count: number }>;
  /**
   * How many entries of the site are stored with a whole seq in 1 ≤ seq ≤ `seq` (`count`: a
   * range of the key, so entries other processes store meanwhile, all above a position this
   * process reached, do not move it; a row with seq 0 or below, which no link has, is not
   * counted), and how many rows within that range have a seq between two whole ones
   * (`between`, e.g. 1.5: no link has it either, and counted with the others it made up for a
   * deleted row, review L3).
   */
  abstract countThrough(siteId: string, seq: number): Promise<{ count: number; between: number }>;
  /**
   * Up to `limit` whole seqs of the site's stored entries in (afterSeq, throughSeq], ascending:
   * a walk of the key, to find which seqs a short count misses (review L4).
   */
  abstract listSeqs(
    siteId: string,
    afterSeq: number,
    throughSeq: number,
    limit: number,
  ): Promise<number[]>;
  /**
   * For each replacement, the worker's days in [fromDay, toDay] become `days` (all inside that
   * range), and a pending mark of the worker inside `settles` is cleared (in the same write on
   * SQLite). On MongoDB a stored day of a newer `basis` is kept (another replica wrote it from
   * newer entries), a replacement with a basis clears a mark only if it is still the one its
   * `mark` names, and a reader never sees a day missing that both the old and the new days hold.
   */
  abstract replaceDays(replacements: DayReplacement[]): Promise<void>;
  /**
   * Each worker's write version: it grows with every write of the worker's entries or entry
   * states, after the write (0 when none). Read before a recompute's punches, it orders the
   * recomputes of processes sharing the store (`DayReplacement.basis`). SQLite has one writer
   * process, whose projector serializes its work: its versions are all 0 (no read).
   */
  abstract versionsOf(siteId: string, workerIds: string[]): Promise<Map<string, number>>;
  /**
   * Per worker, its pending mark as it stands, for a recompute to read before its punches
   * (`DayReplacement.mark`): given only for a mark every write of which has stored its entries
   * (so the punches read next hold them). SQLite stores marks and entries in one transaction
   * and has one writer process: none (no read).
   */
  abstract pendingBasis(siteId: string, workerIds: string[]): Promise<Map<string, string>>;
  /**
   * A page of days in (workerId, day) order. On SQLite its cost follows the days it returns
   * and the workers it visits (at most `maxWorkers`), not the site's rows: a short page may
   * have a `next`, so a reader of every day follows `next` until it is absent.
   */
  abstract listDays(query: DayQuery): Promise<DayPage>;
  /**
   * The ids of every store-MAC key the read model's rows may be tagged under: the key at the
   * last `resetAll` and each one `addSealKid` recorded since (a start records its key before it
   * writes); undefined when no reset ever ran (a store from before the tags). `malformed`
   * when the stored list is not a list of key ids (written outside the server: garbage, another
   * JSON type): the keys the rows were tagged under are unknown, and the caller resets as for a
   * key it does not hold (review L1: it threw, and the start's re-tag failed every time).
   */
  abstract sealKids(): Promise<string[] | 'malformed' | undefined>;
  /**
   * Adds `kid` to `sealKids` (nothing when no reset ever ran, or it is there already) in one
   * atomic write (review L2: two replicas starting at once must not lose one's key id).
   */
  abstract addSealKid(kid: string): Promise<void>;
  /**
   * Forgets every site's entries, days and pending marks and stores `kid` as the one key the
   * rows are tagged under: a start that does not hold every recorded key (the first start with
   * tags, a store-MAC key dropped from STORE_MAC_RETIRED_KEYS). Each site's next read re-reads
   * its chain from the ledger.
   */
  abstract resetAll(kid: string): Promise<void>;
  /** True when the read model holds no entry, day or pending day (a fresh store). */
  abstract isEmpty(): Promise<boolean>;
  /** Forgets everything about a site (before a rebuild), its pending marks too. */
  abstract clearSite(siteId: string): Promise<void>;
  /**
   * Takes the site's rebuild mark for `owner` until `expiresAt` (epoch ms), as the next
   * generation, unless another holder's mark is live at `now`: then undefined and nothing is
   * written. One atomic step (a transaction on SQLite, a conditional upsert on MongoDB), so two
   * rebuilds of one site never both hold it. On SQLite the writes of this repository to a site
   * whose live mark it does not hold are refused (`timesheets_rebuilding`) from then on.
   */
  abstract startRebuild(
    siteId: string,
    owner: string,
    expiresAt: number,
    now: number,
  ): Promise<RebuildMark | undefined>;
  /**
   * Moves the lease's end to `expiresAt` if the mark is still that generation of that owner
   * (even expired: no one took it meanwhile); false when it is not (another rebuild took it).
   */
  abstract renewRebuild(
    siteId: string,
    owner: string,
    generation: number,
    expiresAt: number,
  ): Promise<boolean>;
  /** Ends the lease (expiresAt 0) if the mark is still that generation of that owner. */
  abstract endRebuild(siteId: string, owner: string, generation: number): Promise<void>;
  /** The site's rebuild mark as stored (undefined: the site was never rebuilt with one). */
  abstract rebuildMark(siteId: string): Promise<RebuildMark | undefined>;
}
