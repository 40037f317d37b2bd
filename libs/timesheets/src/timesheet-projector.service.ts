import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import {
  Clock,
  ShutdownDeadline,
  Counter,
  Gauge,
  localDay,
  MetricsRegistry,
  nextDay,
  startOfLocalDay,
} from '@app/common';
import { workforceConfig, WorkforceService, WorkforceSettings } from '@app/workforce';
import { refuseTamperedSite } from './site-integrity';
import { AttendanceLog, ChainStop, LedgerService } from '@app/offline-sync';
import { computeDays } from './domain/timesheet-day';
import { isPunchLike, projectLink, resolveTree, TimesheetEntry } from './domain/timesheet-entry';
import {
  TamperedRow,
  TimesheetSeal,
  TimesheetsTamperedError,
} from './infrastructure/persistence/timesheet-seal';
import {
  DayPage,
  DayQuery,
  DayReplacement,
  PendingDays,
  RebuildMark,
  TimesheetRepository,
} from './infrastructure/persistence/timesheet.repository';
import { timesheetsConfig, TimesheetsSettings } from './timesheets.config';
import { ledgerUnverifiedError, rebuildingError, TimesheetsError } from './timesheets.errors';

/**
 * Links read and stored between two turns of the event loop in a catch-up: a page (read,
 * projected and stored in one transaction) is one unbroken run, ~5 ms of CPU at 250 links
 * (1,000 held the loop 20–80 ms on a shared machine at 1M links).
 */
export const CATCH_UP_PAGE = 250;
/** The longest run of projection work between two turns of the event loop, in ms. */
const SLICE_MS = 10;
/** Days recomputed from one read of a worker's punches (a long span is cut into these). */
const WINDOW_DAYS = 7;
/**
 * Workers with days waiting to be recomputed, at most, before a catch-up recomputes them: a
 * bound on the memory of their spans (~100 bytes each), not a cost rule. A lower bound made a
 * catch-up over a site of that many workers recompute them every few pages, each time reading
 * their whole windows again (at 1M links of 5,000 workers, ~130 punch reads per link).
 */
const MAX_PENDING_WORKERS = 100_000;

/**
 * Links that project no entry a start looks for among the seqs its count misses, at most
 * (`onlyNoEntryMissing`): more is taken for a hole, the chain re-read.
 */
const MAX_NO_ENTRY_LINKS = 100;
/** Stored seqs read at once in that walk. */
const SEQ_PAGE = 5000;

/** Per worker, the earliest and latest time of the entries taken since their days were recomputed. */
type Touched = Map<string, { min: number; max: number }>;
/** Pending marks read per page (at start-up). */
const PENDING_PAGE = 1000;
/**
 * How often, at most, a catch-up of a site counts its stored entries against their highest seq
 * (a deleted entry row: LV #6), and reads and proves again the sealed link its read model
 * stopped before when the stored link has not changed (LV #4), per site, in ms.
 */
export const RECHECK_MS = 60_000;

/** Workers of a site read per page when its workers' other sites are looked up (`catchUpOthers`). */
const WORKER_PAGE = 500;

/** Links of a ledger watch run's budget one site's visit is charged, besides its links. */
const WATCH_SITE_COST = 50;
/** Entries of the entry watch's budget one site's visit is charged, besides its rows (a read). */
const ENTRY_SITE_COST = 10;
/** Rows of a site's finding the entry watch keeps, to read again at the site's reads. */
const ENTRY_FOUND_ROWS = 20;

/** A seq a ledger link can have (a whole number from 1): a read-model row at another is junk. */
function isLinkSeq(seq: number | undefined): boolean {
  return seq !== undefined && Number.isInteger(seq) && seq >= 1;
}

/** A sealed link the site's read model stops before (it fails its check: LV #4). */
export interface StoppedSite {
  siteId: string;
  seq: number;
  reason: ChainStop['reason'];
  /** When this process first found it. */
  since: number;
}

/**
 * Punches an apply just stored, all of them new (so stored exactly as held), by worker: the
 * recompute reads the rest of its window from the store and takes these from hand.
 */
interface InHand {
  fromSeq: number;
  toSeq: number;
  byWorker: Map<string, TimesheetEntry[]>;
}

function touch(touched: Touched, workerId: string, at: number | undefined): void {
  if (at === undefined) return;
  const span = touched.get(workerId);
  if (!span) touched.set(workerId, { min: at, max: at });
  else if (at < span.min) span.min = at;
  else if (at > span.max) span.max = at;
}

function merge(into: Touched, from: Touched): void {
  for (const [workerId, { min, max }] of from) {
    touch(into, workerId, min);
    touch(into, workerId, max);
  }
}

/** An entry the recompute holds in hand (stored as held, by this process, now). */
function isHeld(e: TimesheetEntry, inHand: InHand): boolean {
  return e.seq >= inHand.fromSeq && e.seq <= inHand.toSeq;
}

function marks(siteId: string, touched: Touched): PendingDays[] {
  return [...touched].map(([workerId, { min, max }]) => ({ siteId, workerId, min, max }));
}
/** Workers whose days are replaced in one store call (one transaction on SQLite). */
const REPLACE_BATCH = 500;

/** A site's rebuild mark holds another process's live lease (503 `timesheets_rebuilding`). */
function isRebuilding(error: unknown): boolean {
  return error instanceof TimesheetsError && error.code === 'timesheets_rebuilding';
}

/** A site whose stored record does not verify (refuseTamperedSite): its days are not computed. */
function isSiteTampered(error: unknown): boolean {
  return error instanceof TimesheetsError && error.code === 'site_tampered';
}

/** What a read of the read model checks again after reading (`assertUnchanged`). */
export interface ReadBasis {
  /** The chain's head the read model was brought up to. */
  headSeq: number;
  /** The site's rebuild generation then (0: never rebuilt with a mark). */
  generation: number;
}

/**
 * Keeps the timesheet read model in step with the ledger: fed by LedgerService's one
 * "entries appended" hook, it stores each entry, resolves the correction tree an entry joins,
 * and recomputes the worker-days the change can reach (± the longest shift). The hook (called
 * once the append is sealed, or its seal failed) only queues the work, which starts on the
 * loop's next turn: an append (a sync batch) answers without waiting for it. The work is
 * serialized per process. The read model's own progress (its highest seq per site)
 * is the cursor: a gap (a failed hook, a crash between the commit and the projection,
 * another replica's append) is filled from the ledger before new entries are taken, and
 * before every read (`ensureReadable`, which also waits for the queued work), so no read
 * misses a punch committed before it. A catch-up stops at the chain head it read when it
 * started: on a site whose syncs arrive faster than they are projected, a catch-up that
 * followed the head would never end (and the reads waiting for it with it); what arrives
 * meanwhile is the next catch-up's, which starts where this one ended. Every write of entries also writes a durable "days pending
 * recompute" mark for the workers and times they reach, cleared with the recomputed days; the
 * marks left by a crash are recomputed at start-up (and by the site's next catch-up).
 */
@Injectable()
export class TimesheetProjector
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger(TimesheetProjector.name);
  private readonly maxShiftMs: number;
  private readonly defaultZone: string;
  private readonly zones = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Per site, the seq up to which this process knows the read model holds every entry. */
  private readonly applied = new Map<string, number>();
  /** When the projection last let the event loop turn (`performance.now()`). */
  private turnedAt = 0;
  /** This process's id as a rebuild mark's holder. */
  private readonly owner = randomUUID();
  private readonly leaseMs: number;
  /** Per site, the rebuild generation this process last saw (its cursor is from after it). */
  private readonly seenGeneration = new Map<string, number>();
  /** The sites whose rebuild mark this process holds: siteId → generation. */
  private readonly holding = new Map<string, number>();

  /** Sites whose entries failed their tags, and when first seen (until a rebuild of the site). */
  private readonly tampered = new Map<string, { since: number; rows: number }>();
  private readonly tamperedRows?: Counter<'kind'>;
  /**
   * Sites whose read model stops before a sealed link that fails its check: the link's seq,
   * its stored recordHash then, and when it was last read and proved (`RECHECK_MS`).
   */
  private readonly stops = new Map<
    string,
    {
      seq: number;
      reason: ChainStop['reason'];
      /** undefined: no link stored at `seq` (`link_missing`); a link stored there is read again. */
      recordHash?: string;
      since: number;
      checkedAt: number;
    }
  >();
  /**
   * Per site, the seqs of links this process read that project no entry (a link of another
   * kind, sealed by an operator's `ledger:seal-foreign`): the count of stored entries up to a
   * position is the position less these, so such a link is no hole re-read every minute.
   */
  private readonly noEntry = new Map<string, Set<number>>();
  /**
   * Sites whose workers' other sites this process has caught up (`catchUpOthers`) since it
   * started or the read model was reset.
   */
  private readonly othersRead = new Set<string>();
  /**
   * Per site not yet in `othersRead`, the other sites its catch-up of them left (rebuilt by
   * another process, or stopped): the next read tries these alone, without listing the site's
   * workers again.
   */
  private readonly othersLeft = new Map<string, Set<string>>();
  /** Per site, its catch-up of its workers' other sites under way (its queued steps). */
  private readonly othersCatchingUp = new Map<string, Promise<void>>();
  /** Per site, when its read last warned of another site of its workers that stops. */
  private readonly othersStopWarnedAt = new Map<string, number>();
  /** Per site, when its read last warned of another site of its workers that reads tampered. */
  private readonly othersTamperedWarnedAt = new Map<string, number>();
  /** Per site, when a catch-up last counted its stored entries (`RECHECK_MS`). */
  private readonly countedAt = new Map<string, number>();
  /**
   * The ledger watch: per site, the seq up to which its pass over the sealed links the read
   * model took has checked them again (a pass starts over from 0 once it reaches the cursor).
   */
  private readonly watchedThrough = new Map<string, number>();
  /** The site the watch's next run starts with (round robin over the sites read). */
  private watchTurn = 0;
  /**
   * The entry watch (the same runs, after the links): per site, the seq up to which its pass
   * over the stored entries has read them with their tags checked; the site its next visit
   * starts with; and the sites whose entries it found failing their tags (the rows, at most
   * ENTRY_FOUND_ROWS), whose reads answer 503 `timesheets_tampered` while those rows still fail.
   */
  private readonly entriesWatchedThrough = new Map<string, number>();
  private entryTurn = 0;
  private readonly entryFound = new Map<string, TimesheetsTamperedError>();
  private readonly watchEntries: number;
  private watchTimer?: NodeJS.Timeout;
  private watchRun?: Promise<unknown>;
  private closing = false;
  private readonly watchMs: number;
  private readonly watchLinks: number;

  constructor(
    private readonly repo: TimesheetRepository,
    private readonly ledger: LedgerService,
    private readonly workforce: WorkforceService,
    @Inject(timesheetsConfig.KEY) settings: TimesheetsSettings,
    @Inject(workforceConfig.KEY) workforceSettings: WorkforceSettings,
    @Optional() private readonly seal?: TimesheetSeal,
    @Optional() metrics?: MetricsRegistry,
    @Optional() private readonly clock?: Clock,
    @Optional() private readonly shutdown?: ShutdownDeadline,
  ) {
    if (metrics) {
      const stops = this.stops;
      new Gauge({
        name: 'mdai_timesheet_sites_stopped',
        help: 'Sites whose timesheet read model stops before a sealed ledger link that fails its check (changed in the database after its seal): their reads answer 503 timesheets_ledger_unverified until the link is put back; /health names them',
        registers: [metrics],
        collect() {
          this.set(stops.size);
        },
      });
      this.tamperedRows = new Counter({
        name: 'mdai_timesheet_rows_tampered_total',
        help: 'Timesheet read-model rows read whose tag did not verify, or entries older than the corrections stored with them (changed outside the server), by kind: a day is recomputed from its entries, an entry needs npm run timesheets:rebuild; day_legacy: a MongoDB day whose tag verifies only without its basis, recomputed (tagged by a server from before the basis was bound, or its basis raised from 0), counted so while the store may still hold days of that older server',
        labelNames: ['kind'],
        registers: [metrics],
      });
    }
    this.maxShiftMs = settings.maxShiftHours * 3_600_000;
    this.leaseMs = settings.rebuildLeaseSeconds * 1000;
    this.watchMs = settings.ledgerCheckMs;
    this.watchLinks = settings.ledgerCheckLinks;
    this.watchEntries = settings.entryCheckRows;
    this.defaultZone = workforceSettings.defaultTimeZone;
  }

  onModuleInit(): void {
    this.ledger.onAppended(async (logs) => {
      // from the loop's next turn: the append's own request (its answer is built in
      // microtasks) answers first, and the projection is not on its path
      this.serialized(async () => {
        // a close under way: left to the next process's catch-up (`beforeApplicationShutdown`)
        if (this.closing) return [];
        await this.letLoopTurn();
        return this.closing ? [] : this.take(logs);
      })
        .then((behind) => this.catchUpBehind(behind))
        .catch((error: unknown) => {
          // the entries are in the ledger: the next append or read of the site catches up
          if (error instanceof TimesheetsTamperedError) this.noteTampered(error);
          this.logger.warn(
            { err: error as Error },
            'Timesheet read model could not take an append',
          );
        });
    });
  }

  /** Recomputes the days a crash left pending (queued: reads wait for it, the start does not). */
  onApplicationBootstrap(): void {
    // first (reads and the pending recompute queue behind it): a store tagged under another
    // key, or from before the tags, is cleared and re-read from the ledger
    this.serialized(() => this.reseal()).catch((error: unknown) => {
      this.logger.error({ err: error as Error }, 'Timesheet read model not re-tagged');
    });
    this.serialized(() => this.recomputePending()).catch((error: unknown) => {
      // the marks stay: each site's next catch-up takes its own
      this.logger.warn({ err: error as Error }, 'Timesheet days pending recompute not recomputed');
    });
    this.scheduleWatch();
  }

  /** The next run of the ledger watch, `ledgerCheckMs` after the last one ended. */
  private scheduleWatch(): void {
    if (this.closing) return;
    this.watchTimer = setTimeout(() => {
      this.watchRun = this.watchLedger()
        .catch((error: unknown) => {
          this.logger.warn({ err: error as Error }, 'Ledger watch run failed');
        })
        .finally(() => {
          this.watchRun = undefined;
          this.scheduleWatch();
        });
    }, this.watchMs);
    this.watchTimer.unref();
  }

  /**
   * One run of the ledger watch (review of the outside tester, MED: a sealed link changed in
   * the database behind the read model's cursor was never read again, so the site was paid
   * from it until a rebuild). Each step of a run (a stopped link read again, a page of links
   * checked) is queued with the projection's work on its own: it never races a catch-up or a
   * rebuild of the same site, and a read or catch-up queued meanwhile waits at most one step,
   * not the whole run (review: a run of 2,000 links held the queue 240 ms median, 893 ms p99 on
   * a loaded machine). Each step reads again what it stands on (the site's cursor, its sealed
   * size, whether it stops, where its pass is), as work queued between two steps may have moved
   * them. It first reads again the links sites stop before, each when its stored row changed or
   * once per RECHECK_MS: one that checks now clears the stop. Then it checks up to
   * `ledgerCheckLinks` sealed links the read model already took, page by page, going on where
   * the last run ended, site after site: a link that fails (`readAuthenticatedChain`: hashed
   * again from its stored texts, chained to the stored link before it, the page's last one
   * proved in the signed checkpoint) stops the site's reads (503
   * `timesheets_ledger_unverified`, `/health`) as a catch-up's stop does. A site's pass over N
   * links takes about N / ledgerCheckLinks runs (sites take turns: a run that ends within a
   * site's pass goes on with the next site, and comes back to it). Returns the queue turns the
   * run took (its steps).
   */
  async watchLedger(): Promise<number> {
    let turns = 0;
    // the loop turns before each step is queued: what arrived meanwhile (a read, an append's
    // projection) queues before it
    const step = async <T>(work: () => Promise<T>): Promise<T> => {
      await yieldToLoop();
      turns += 1;
      return this.serialized(work);
    };
    for (const siteId of [...this.stops.keys()]) {
      if (this.closing) return turns;
      await step(() => this.recheckStop(siteId));
    }
    const sites = [...this.applied.keys()];
    let budget = this.watchLinks;
    for (let visited = 0; visited < sites.length && budget > 0; visited++) {
      const siteId = sites[this.watchTurn++ % sites.length];
      for (let more = true; more && budget > 0;) {
        if (this.closing) return turns;
        more = await step(async () => {
          const page = await this.watchPage(siteId, budget);
          budget -= page.checked;
          return page.more;
        });
      }
      // a site's visit costs reads of its own (its checkpoint, a proof a page): charged after
      // it, so a run over many small sites is bounded too
      budget -= WATCH_SITE_COST;
    }
    // the read model's own copies of the links (review: a changed punch copy was found only
    // when a recompute of its days or a rebuild read it): read with the tag check the
    // recompute's reads make, page by page, each page a step of its own
    let rows = this.watchEntries;
    for (let visited = 0; visited < sites.length && rows > 0; visited++) {
      const siteId = sites[this.entryTurn++ % sites.length];
      for (let more = true; more && rows > 0;) {
        if (this.closing) return turns;
        more = await step(async () => {
          const page = await this.watchEntryPage(siteId, rows);
          rows -= page.checked;
          return page.more;
        });
      }
      rows -= ENTRY_SITE_COST;
    }
    return turns;
  }

  /**
   * One page of the site's pass over its stored entries (up to CATCH_UP_PAGE, and `budget`),
   * read with their tags checked (`listEntries`, the check every read of entries makes). A page
   * that fails is the site's finding: noted once (logged, counted, /health `tamperedSites`), and
   * the site's reads answer 503 `timesheets_tampered` while its rows still fail
   * (`ensureReadable`); the site is not read again by the watch meanwhile.
   */
  private async watchEntryPage(
    siteId: string,
    budget: number,
  ): Promise<{ checked: number; more: boolean }> {
    if (!this.applied.has(siteId) || this.entryFound.has(siteId)) {
      return { checked: 0, more: false };
    }
    const after = this.entriesWatchedThrough.get(siteId) ?? 0;
    const limit = Math.min(CATCH_UP_PAGE, budget);
    let page: TimesheetEntry[];
    try {
      page = await this.repo.listEntries(siteId, after, limit);
    } catch (error) {
      if (!(error instanceof TimesheetsTamperedError) || error.rowKind !== 'entry') throw error;
      // a row at a seq no link has (0, below, between two) is the minute's count's to report
      // (review M2: reported, the site's reads kept); the page's every failing row is named,
      // so the pass goes on after the last of them
      const copies = error.rows.filter((r) => isLinkSeq(r.seq));
      if (copies.length === 0) {
        this.entriesWatchedThrough.set(siteId, Math.max(...error.rows.map((r) => r.seq ?? 0)));
        return { checked: limit, more: true };
      }
      const found = new TimesheetsTamperedError(siteId, 'entry', copies.slice(0, ENTRY_FOUND_ROWS));
      this.entryFound.set(siteId, found);
      this.noteTampered(found);
      return { checked: limit, more: false };
    }
    if (page.length < limit) {
      // the pass reached the site's last entry: the next visit starts over
      this.entriesWatchedThrough.delete(siteId);
      return { checked: page.length, more: false };
    }
    this.entriesWatchedThrough.set(siteId, page[page.length - 1].seq);
    return { checked: limit, more: true };
  }

  /**
   * 503 `timesheets_tampered` while the rows the entry watch found failing their tags still
   * fail (read again, with the same check); once they verify (put back as the server wrote
   * them) the finding is dropped and the watch reads the site again.
   */
  private async refuseFoundEntries(siteId: string): Promise<void> {
    const found = this.entryFound.get(siteId);
    if (!found) return;
    const seqs = found.rows.flatMap((r) => (r.seq === undefined ? [] : [r.seq]));
    try {
      await this.repo.findEntries(siteId, seqs);
    } catch (error) {
      if (error instanceof TimesheetsTamperedError) throw found;
      throw error;
    }
    this.entryFound.delete(siteId);
    this.logger.log(
      { siteId, rows: seqs.length },
      'Timesheet entries the entry watch found changed verify again (put back)',
    );
  }

  /**
   * Reads again the link the site stops before (when its stored row changed, or once per
   * RECHECK_MS): one that checks now clears the stop, and the site's pass goes on from it.
   */
  private async recheckStop(siteId: string): Promise<void> {
    const stop = this.stops.get(siteId);
    if (!stop) return;
    const now = this.now();
    if (
      now - stop.checkedAt < RECHECK_MS &&
      (await this.ledger.storedRecordHash(siteId, stop.seq)) === stop.recordHash
    ) {
      return;
    }
    const found = await this.checkLinks(siteId, stop.seq - 1, 1);
    if (found) {
      this.noteStop(siteId, found, now, -1);
      return;
    }
    this.stops.delete(siteId);
    // the pass goes on from the link put back
    this.watchedThrough.set(siteId, stop.seq);
    this.logger.log(
      { siteId, seq: stop.seq },
      'Timesheet read model reads past the sealed ledger link it stopped before (the link checks again)',
    );
  }

  /**
   * One page of the site's pass (up to CATCH_UP_PAGE links, and `budget`), read from where the
   * pass is now, up to the cursor and the sealed size as they are now (a rebuild or catch-up
   * queued before it may have moved them). `checked`: the links checked; `more`: whether the
   * site's visit goes on (not when it stops, was forgotten, or its pass reached the cursor:
   * the pass starts over at its next visit).
   */
  private async watchPage(
    siteId: string,
    budget: number,
  ): Promise<{ checked: number; more: boolean }> {
    const none = { checked: 0, more: false };
    if (this.stops.has(siteId) || !this.applied.has(siteId)) return none;
    const cursor = this.applied.get(siteId) ?? 0;
    const through = Math.min(cursor, await this.ledger.sealedSize(siteId));
    let after = this.watchedThrough.get(siteId) ?? 0;
    if (after >= through) after = 0;
    if (after >= through) return none;
    const limit = Math.min(CATCH_UP_PAGE, through - after, budget);
    const found = await this.checkLinks(siteId, after, limit);
    if (found) {
      // behind the cursor: kept by the catch-ups (they start after it) until a run of the
      // watch, or a rebuild's read from 0, finds the link as sealed again
      this.noteStop(siteId, found, this.now(), -1);
      return { checked: limit, more: false };
    }
    this.watchedThrough.set(siteId, after + limit);
    return { checked: limit, more: after + limit < through };
  }

  /**
   * Checks the `limit` links after `after` (`readAuthenticatedChain`); the first sealed one
   * that fails, or is missing, when one does.
   */
  private async checkLinks(
    siteId: string,
    after: number,
    limit: number,
  ): Promise<ChainStop | undefined> {
    let stopped: ChainStop | undefined;
    const page = await this.ledger.readAuthenticatedChain(siteId, after, limit, (s) => {
      stopped = s;
    });
    if (stopped) return stopped.sealed ? stopped : undefined;
    if (page.length < limit) {
      // the page ends short of links the read model took: a deleted link at its end
      return { seq: after + page.length + 1, reason: 'link_missing', sealed: true };
    }
    return undefined;
  }

  /**
   * When the read model's rows may be tagged under a key this server does not hold (a store
   * from before the tags: none recorded; a store-MAC key dropped from STORE_MAC_RETIRED_KEYS,
   * or a signing-key-derived key no longer accepted), forgets every site's read model (each
   * site's next read re-reads its chain from the ledger, tagging the rows anew): those rows
   * would not verify, and none can be re-tagged without being recomputed. The store records
   * every key rows were tagged under since the last reset: this start's key is added before it
   * writes a row, so a later start that drops any of them resets, and one that holds them all
   * keeps every row (a rotation of the log signing key changes none).
   */
  private async reseal(): Promise<void> {
    if (!this.seal) return;
    const stored = await this.repo.sealKids();
    if (stored === 'malformed') {
      // the list of keys the rows were tagged under was written outside the server: which keys
      // those are is unknown, so the rows are taken as tagged under one not held (review L1:
      // the start's re-tag threw on it, every start)
      this.logger.warn(
        { kid: this.seal.kid },
        'Timesheet read model key list (timesheet_seal.kids) is not a list of key ids (changed outside the server): cleared, each site re-read from the ledger at its next read',
      );
    } else {
      const lost = stored?.filter((kid) => !this.seal!.knows(kid));
      if (stored !== undefined && lost!.length === 0) {
        if (!stored.includes(this.seal.kid)) await this.repo.addSealKid(this.seal.kid);
        return;
      }
      const details = { storedKids: stored ?? null, notHeld: lost ?? null, kid: this.seal.kid };
      if (await this.repo.isEmpty()) {
        // a fresh install (or a read model with nothing in it): nothing is lost, nothing to warn of
        this.logger.log(details, 'Timesheet read model empty: tagged under this server key');
      } else {
        this.logger.warn(
          details,
          'Timesheet read model tagged under a key not held (or untagged): cleared, each site re-read from the ledger at its next read',
        );
      }
    }
    await this.repo.resetAll(this.seal.kid);
    this.applied.clear();
    this.othersRead.clear();
    this.othersLeft.clear();
  }

  /**
   * A page of days whose tags all verify. Days whose tag fails (changed outside the server)
   * are recomputed from the worker's entries, as a catch-up does, logged and counted, and the
   * page is read again; an entry whose tag fails (read here or by the recompute) cannot be
   * recomputed but from the ledger: 503 `timesheets_tampered`, and the site is reported on
   * /health until `npm run timesheets:rebuild` rebuilds it.
   */
  async readDays(query: DayQuery): Promise<DayPage> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.repo.listDays(query);
      } catch (error) {
        if (!(error instanceof TimesheetsTamperedError)) throw error;
        this.noteTampered(error);
        if (error.rowKind !== 'day' || attempt > 0) throw error;
        await this.repairDays(error.siteId, error.rows);
      }
    }
  }

  /**
   * Logs and counts rows whose tag failed (ids only), and remembers a site whose entries did
   * for /health. Returns the error.
   */
  noteTampered(error: TimesheetsTamperedError): TimesheetsTamperedError {
    // days tagged before their tags bound the basis (MongoDB, while the store may still hold
    // such days): recomputed, counted apart from changed days (review LV #10)
    const rows = error.rows.filter((r) => !r.legacy);
    const legacy = error.rows.length - rows.length;
    if (legacy > 0) {
      this.tamperedRows?.inc({ kind: 'day_legacy' }, legacy);
      this.logger.warn(
        {
          siteId: error.siteId,
          days: legacy,
          workerIds: [...new Set(error.rows.filter((r) => r.legacy).map((r) => r.workerId))].slice(
            0,
            20,
          ),
        },
        'Timesheet days tagged before their tags covered the basis: recomputed and tagged again',
      );
    }
    if (rows.length === 0) return error;
    this.tamperedRows?.inc({ kind: error.rowKind }, rows.length);
    for (const row of rows.slice(0, 20)) {
      this.logger.error(
        { siteId: error.siteId, workerId: row.workerId, day: row.day, seq: row.seq },
        error.rowKind === 'day'
          ? 'Timesheet day changed outside the server (tag does not verify): recomputed from its entries'
          : error.stale
            ? 'Timesheet entry changed outside the server (older than the corrections stored with it: put back from before one): run npm run timesheets:rebuild'
            : 'Timesheet entry changed outside the server (tag does not verify): run npm run timesheets:rebuild',
      );
    }
    if (error.rowKind === 'entry') {
      const seen = this.tampered.get(error.siteId);
      this.tampered.set(error.siteId, {
        since: seen?.since ?? Date.now(),
        rows: (seen?.rows ?? 0) + rows.length,
      });
    }
    return error;
  }

  /**
   * Sites whose read-model entries failed their tags since start, until a rebuild of the site
   * (this process's, or another's once this one reads the site again).
   */
  tamperedSites(): Array<{ siteId: string; since: number; rows: number }> {
    return [...this.tampered].map(([siteId, t]) => ({ siteId, ...t }));
  }

  /** Recomputes the workers' days named (each worker's span of them) from their entries. */
  private repairDays(siteId: string, rows: TamperedRow[]): Promise<void> {
    return this.serialized(async () => {
      await this.checkSite(siteId);
      const zone = await this.zoneOf(siteId);
      const spans = new Map<string, { from: string; to: string }>();
      for (const { workerId, day } of rows) {
        if (day === undefined) continue;
        const span = spans.get(workerId);
        if (!span) spans.set(workerId, { from: day, to: day });
        else {
          if (day < span.from) span.from = day;
          if (day > span.to) span.to = day;
        }
      }
      const replacements: DayReplacement[] = [];
      try {
        for (const [workerId, { from, to }] of spans) {
          replacements.push(await this.recompute(siteId, workerId, zone, from, to, new Set()));
        }
      } catch (error) {
        if (error instanceof TimesheetsTamperedError) this.noteTampered(error);
        throw error;
      }
      await this.repo.replaceDays(replacements);
    });
  }

  /**
   * Lets the projection step under way finish before the store closes, within the shutdown's
   * deadline (SHUTDOWN_GRACE_MS from the drain's start). The appends' steps still queued are
   * dropped (each one's links are in the ledger: the next process's first catch-up of the site
   * takes them), and the watch takes no further step: the queue no longer holds the close for as
   * long as it takes to empty (a tester's, fed by the syncs a listener still open took: 128 s).
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.watchTimer);
    const settled = this.shutdown
      ? await this.shutdown.within(Promise.all([this.watchRun, this.queue]))
      : await Promise.all([this.watchRun, this.queue]).then(() => true);
    if (!settled) {
      this.logger.warn(
        'Timesheet projection still running at the shutdown deadline: left unfinished (the next start catches the sites up)',
      );
    }
  }

  /** The site's IANA zone (sites without one use SITE_DEFAULT_TIME_ZONE). */
  async zoneOf(siteId: string): Promise<string> {
    let zone = this.zones.get(siteId);
    if (!zone) {
      const sites = await this.workforce.findSites([siteId]);
      // a zone nobody vouches for would cut the days (and pay) elsewhere: 503 site_tampered
      refuseTamperedSite(this.workforce, sites, 'a timesheet projection');
      zone = sites[0]?.timeZone ?? this.defaultZone;
      this.zones.set(siteId, zone);
    }
    return zone;
  }

  /**
   * Brings the site's read model up to its chain head as read now (links appended meanwhile are
   * the next catch-up's), after the projection work queued before it: what a read of the read
   * model waits for. 503 `timesheets_rebuilding` while another process rebuilds the site.
   * Returns the head it was brought up to (what a correction's rules were checked against,
   * `LedgerService.appendAtHead`) and the generation to check again once read
   * (`assertUnchanged`).
   */
  async ensureReadable(siteId: string): Promise<ReadBasis> {
    const noted = (error: unknown) => {
      if (error instanceof TimesheetsTamperedError) this.noteTampered(error);
      return error;
    };
    try {
      await this.catchUpOthers(siteId);
    } catch (error) {
      throw noted(error);
    }
    return this.serialized(async () => {
      try {
        await this.catchUp(siteId);
      } catch (error) {
        throw noted(error);
      }
      // the model holds the links before a sealed one that fails its check, not the site's
      const stop = this.stops.get(siteId);
      if (stop) throw ledgerUnverifiedError(stop.seq);
      await this.refuseFoundEntries(siteId);
      return {
        headSeq: this.applied.get(siteId) ?? 0,
        generation: this.seenGeneration.get(siteId) ?? 0,
      };
    });
  }

  /**
   * After a read of the site's read model: 503 `timesheets_rebuilding` when a rebuild holds
   * the site now or started since `ensureReadable` (a read that spans a rebuild's clear may
   * hold a partial model's numbers, even when the rebuild is over by now).
   */
  async assertUnchanged(siteId: string, basis: ReadBasis): Promise<void> {
    const mark = await this.repo.rebuildMark(siteId);
    if (!mark) return;
    const now = Date.now();
    if (this.isLive(mark, now)) throw rebuildingError(mark.expiresAt, now);
    if (mark.generation !== basis.generation) throw rebuildingError(now + 1000, now);
  }

  /**
   * Forgets the site's read model and builds it again from its chain, under the site's rebuild
   * mark: taken before the clear (waiting while another process's lease is live), renewed every
   * third of TIMESHEET_REBUILD_LEASE_SECONDS while the site is refilled, ended after. Returns
   * the entries read. `others`: the other sites of its workers are caught up first
   * (`catchUpOthers`); not in a rebuild of every site, whose later sites' rebuilds reach the
   * days of the earlier ones.
   */
  async rebuildSite(siteId: string, others = true): Promise<number> {
    // before the mark is taken: its steps queue as a read's do, and hold no lease
    if (others) await this.catchUpOthers(siteId);
    return this.serialized(async () => {
      const mark = await this.takeMark(siteId);
      this.holding.set(siteId, mark.generation);
      this.seenGeneration.set(siteId, mark.generation);
      const renewal = this.renewing(mark);
      // a link the site stopped before is read and proved again
      const stop = this.stops.get(siteId);
      if (stop) stop.checkedAt = -Infinity;
      try {
        await this.repo.clearSite(siteId);
        this.applied.set(siteId, 0);
        const entries = await this.catchUp(siteId);
        this.tampered.delete(siteId);
        this.entryFound.delete(siteId);
        this.entriesWatchedThrough.delete(siteId);
        this.logger.log({ siteId, entries }, 'Timesheet read model rebuilt');
        return entries;
      } catch (error) {
        // the next catch-up of any process takes the partial read model from its progress
        this.applied.delete(siteId);
        throw error;
      } finally {
        clearInterval(renewal);
        this.holding.delete(siteId);
        await this.repo.endRebuild(siteId, this.owner, mark.generation);
      }
    });
  }

  /** The site's rebuild mark for this process, once no other holds it live. */
  private async takeMark(siteId: string): Promise<RebuildMark> {
    for (;;) {
      const now = Date.now();
      const mark = await this.repo.startRebuild(siteId, this.owner, now + this.leaseMs, now);
      if (mark) return mark;
      this.logger.warn({ siteId }, 'Timesheet rebuild waits: another rebuild holds the site');
      await sleep(1000);
    }
  }

  /** Renews the lease every third of it; a lease another rebuild took stops this one (`checkSite`). */
  private renewing(mark: RebuildMark): NodeJS.Timeout {
    const timer = setInterval(() => {
      const { siteId, generation } = mark;
      this.repo
        .renewRebuild(siteId, this.owner, generation, Date.now() + this.leaseMs)
        .then((renewed) => {
          if (!renewed && this.holding.get(siteId) === generation) {
            this.logger.warn({ siteId }, 'Timesheet rebuild lost its lease to another rebuild');
          }
        })
        .catch((error: unknown) =>
          this.logger.warn({ err: error as Error, siteId }, 'Timesheet rebuild lease not renewed'),
        );
    }, this.leaseMs / 3);
    timer.unref();
    return timer;
  }

  private isLive(mark: RebuildMark, now: number): boolean {
    return mark.expiresAt > now && this.holding.get(mark.siteId) !== mark.generation;
  }

  /**
   * Before the projection reads or writes a site: throws `timesheets_rebuilding` while another
   * process's rebuild mark on it is live, and forgets the site's cursor when its generation is
   * not the one this process last saw (a rebuild cleared the site since: the next catch-up takes
   * the read model from its stored progress and pending marks, finishing a rebuild that died).
   * A rebuild of this process whose mark another took stops here.
   */
  private async checkSite(siteId: string): Promise<void> {
    const mark = await this.repo.rebuildMark(siteId);
    if (!mark) return;
    const held = this.holding.get(siteId);
    if (held !== undefined && held !== mark.generation) {
      throw new Error(`Timesheet rebuild of site ${siteId} lost its lease to another rebuild`);
    }
    const now = Date.now();
    if (this.seenGeneration.get(siteId) !== mark.generation) {
      this.applied.delete(siteId);
      // rebuilt since (by `npm run timesheets:rebuild`, another process): entries re-read
      this.tampered.delete(siteId);
      this.entryFound.delete(siteId);
      this.entriesWatchedThrough.delete(siteId);
      this.seenGeneration.set(siteId, mark.generation);
    }
    if (this.isLive(mark, now)) {
      this.applied.delete(siteId);
      throw rebuildingError(mark.expiresAt, now);
    }
  }

  /**
   * The key ids the read model's rows were tagged under since its last reset (undefined: never
   * reset, no rows tagged), for `keys:retag`'s report: the first start that does not hold one of
   * them clears the read model and re-reads every site from the ledger. A malformed stored list
   * answers undefined too: the next start clears the read model whatever keys it holds.
   */
  async sealKids(): Promise<string[] | undefined> {
    const kids = await this.repo.sealKids();
    return kids === 'malformed' ? undefined : kids;
  }

  /** Rebuilds every site's read model from its chain; returns sites and entries read. */
  async rebuildAll(): Promise<{ sites: number; entries: number }> {
    let sites = 0;
    let entries = 0;
    for (let after = ''; ;) {
      const ids = await this.workforce.listSiteIds(after, 100);
      for (const id of ids) {
        entries += await this.rebuildSite(id, false);
        sites += 1;
      }
      if (ids.length < 100) return { sites, entries };
      after = ids[ids.length - 1];
    }
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const start = () => {
      // a slice of work starts (the previous one ended with its own turn or a short run)
      this.turnedAt = performance.now();
      return work();
    };
    const run = this.queue.then(start, start);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Takes an append's links (in one queued step). Returns the sites whose read model was behind
   * the links and whose workers' other sites this process has not caught up yet: their
   * catch-up (`catchUpBehind`) takes steps of its own after this one (`catchUpOthers`).
   */
  private async take(logs: AttendanceLog[]): Promise<string[]> {
    const behind: string[] = [];
    const bySite = new Map<string, AttendanceLog[]>();
    for (const log of logs) {
      const list = bySite.get(log.siteId);
      if (list) list.push(log);
      else bySite.set(log.siteId, [log]);
    }
    for (const [siteId, siteLogs] of bySite) {
      try {
        await this.checkSite(siteId);
      } catch (error) {
        // another process rebuilds the site: its catch-up takes these links, and this
        // process's next catch-up after the rebuild whatever it did not
        if (isRebuilding(error)) continue;
        throw error;
      }
      let first = siteLogs[0].seq;
      let last = first;
      for (const l of siteLogs) {
        if (l.seq < first) first = l.seq;
        if (l.seq > last) last = l.seq;
      }
      // taken already: a catch-up queued before this step (a read's, a correction's, an
      // earlier append's) read the chain past them. Each append's step used to catch the site
      // up again whenever the links before its own were another process's: on a site whose
      // other replica appends between this one's syncs, every sync queued a whole catch-up
      // (several store round trips and a recompute, with nothing new to read), and once a step cost
      // more than the time between syncs (MongoDB under load) the queue grew without end, a
      // correction's step behind all of them (timesheets-corrections-busy: unanswered past
      // 300 s). Now a step behind a catch-up that took its links costs nothing.
      const applied = this.applied.get(siteId);
      if (applied !== undefined && applied >= last) continue;
      if (applied !== first - 1 && !this.othersRead.has(siteId)) {
        behind.push(siteId);
        continue;
      }
      await this.takeOrCatchUp(siteId, async () => {
        if (applied === first - 1) {
          const touched: Touched = new Map();
          const inHand = await this.apply(siteId, siteLogs, touched);
          await this.recomputeTouched(siteId, touched, inHand);
          this.applied.set(siteId, last);
        } else {
          await this.catchUp(siteId);
        }
      });
    }
    return behind;
  }

  /**
   * The catch-up of sites an append found behind, each after its workers' other sites
   * (`catchUpOthers`, a step each), in a step of its own.
   */
  private async catchUpBehind(sites: string[]): Promise<void> {
    for (const siteId of sites) {
      await this.catchUpOthers(siteId);
      await this.serialized(() => this.takeOrCatchUp(siteId, () => this.catchUp(siteId)));
    }
  }

  /** An append's links taken, or its site caught up; a rebuild meanwhile leaves them to it. */
  private async takeOrCatchUp(siteId: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (error) {
      // a rebuild that took the site since the check (its writes refused on SQLite): the
      // links are the rebuild's to take, or this process's catch-up's after it
      if (!isRebuilding(error)) throw error;
      this.applied.delete(siteId);
    }
  }

  /**
   * Takes the links of the site's chain the read model has not taken, up to the chain's head
   * as read when it starts (what is appended meanwhile is the next catch-up's: it starts where
   * this one ended, from `applied` or the store's progress). Returns the links read.
   */
  private async catchUp(siteId: string): Promise<number> {
    await this.checkSite(siteId);
    let after = this.applied.get(siteId);
    let touched: Touched = new Map();
    const now = this.now();
    if (after === undefined) {
      const { maxSeq, count } = await this.repo.progress(siteId);
      this.countedAt.set(siteId, now);
      // a hole (an append whose hook failed, a row deleted): take the chain again from the
      // start; stored entries are kept as they are, those missing stored again (with the
      // states of the trees they join), and every day they reach is recomputed
      after =
        count === maxSeq || (await this.onlyNoEntryMissing(siteId, maxSeq, maxSeq - count))
          ? maxSeq
          : 0;
      if (after === 0 && count > 0) this.warnHole(siteId, count, maxSeq);
      // days a crash left pending (when the start-up's recompute of them failed)
      touched = await this.pendingOf(siteId);
    } else if (after > 0 && now - (this.countedAt.get(siteId) ?? -Infinity) >= RECHECK_MS) {
      // with a position, once per RECHECK_MS: a row deleted since (a correction's, with its
      // target's row put back from before it) was paid until the next start (LV #6). Counted
      // up to the position only: another replica's entries above it, stored meanwhile in any
      // order, make no hole of it
      const { count, between } = await this.repo.countThrough(siteId, after);
      this.countedAt.set(siteId, now);
      let expected = after;
      for (const seq of this.noEntry.get(siteId) ?? []) if (seq <= after) expected--;
      if (count < expected) {
        this.warnHole(siteId, count, after);
        this.noEntry.delete(siteId);
        after = 0;
      } else if (count > expected || between > 0) {
        // more rows than links, or a row at a seq no link has between two (1.5, counted apart:
        // with the others it made up for a deleted row, review L3): reported as a changed entry
        // (timesheets_tampered on /health, the counter); re-reading the chain would not remove
        // it, only repeat every minute (review M2)
        this.noteTampered(
          new TimesheetsTamperedError(siteId, 'entry', [{ workerId: '', seq: after }]),
        );
      }
    }
    // a sealed link that failed its check: read and proved again only when its stored row
    // changed (a repair), or once per RECHECK_MS (a repair that kept its recordHash)
    const stop = this.stops.get(siteId);
    if (
      stop &&
      after === stop.seq - 1 &&
      touched.size === 0 &&
      now - stop.checkedAt < RECHECK_MS &&
      (await this.ledger.storedRecordHash(siteId, stop.seq)) === stop.recordHash
    ) {
      return 0;
    }
    // The bound: read after the cursor (a replica that took more since, on a shared store, only
    // shortens the catch-up). A site's seqs have no gaps, so the last page ends on it.
    // the checkpoint's size read before the head: a seal follows its links' commit, so a head
    // below it is a chain whose sealed tail was deleted (not another replica's append meanwhile)
    const sealed = await this.ledger.sealedSize(siteId);
    const head = await this.ledger.headSeq(siteId);
    // Entries are stored page by page (each page with its pending marks); the days they reach
    // are recomputed once, at the end (or when MAX_PENDING_WORKERS workers wait). Recomputing
    // as pages came read every touched worker's window again each time: quadratic when many
    // pages reach the same days (one worker's punches at one instant, or thousands of workers
    // each reached every few pages), and no read can use the days meanwhile (reads wait for
    // the catch-up). Each touched worker's span is recomputed in windows of WINDOW_DAYS, so one
    // recompute reads what each of its days needs once and a long span is cut into slices.
    // The in-process cursor (`applied`) moves only after a recompute, so a failed catch-up is
    // taken again from there; a process crash before the recompute leaves the pages' pending
    // marks (written with the entries), which the next start recomputes.
    // The ledger's reads and the read model's writes answer in microtasks (SQLite is
    // synchronous): a catch-up over a long chain would hold the event loop from its first page
    // to its last. It lets the loop turn after every page and within a recompute (one slice of
    // SLICE_MS: recomputes, then their days written); it stays inside `serialized`, so no other
    // projection work runs meanwhile.
    let read = 0;
    const from = after;
    let stopped: ChainStop | undefined;
    const onStop = (s: ChainStop) => {
      stopped = s;
    };
    for (let pages = 0; ; pages++) {
      const limit = Math.min(CATCH_UP_PAGE, head - after);
      let page: AttendanceLog[] = [];
      if (limit > 0) {
        await this.letLoopTurn();
        // a rebuild that starts meanwhile stops the catch-up (its writes are refused on SQLite)
        if (pages > 0) await this.checkSite(siteId);
        page = await this.ledger.readAuthenticatedChain(siteId, after, limit, onStop);
      }
      if (page.length > 0) {
        await this.apply(siteId, page, touched);
        after = page[page.length - 1].seq;
      }
      read += page.length;
      // a short page: the head was reached (or a link below it is not readable yet: the next
      // catch-up takes it)
      const done = page.length < limit || after >= head;
      if (done || touched.size >= MAX_PENDING_WORKERS) {
        await this.recomputeTouched(siteId, touched);
        touched = new Map();
        this.applied.set(siteId, after);
      }
      if (done) {
        // the sealed tail deleted (links S..head): nothing after the head to read and fail, so
        // the stop is at the first missing seq (it would otherwise be cleared, the site paid short)
        if (!stopped && head < sealed) {
          stopped = { seq: head + 1, reason: 'link_missing', sealed: true };
        }
        this.noteStop(siteId, stopped?.sealed ? stopped : undefined, now, from);
        return read;
      }
    }
  }

  /**
   * Review F1 (outside tester, MED-HIGH): a site's `overlaps_other_site` flags are computed from
   * the other sites' rows of the read model (`listOtherSitePunches`), so after a reset of the read
   * model (a store-MAC key dropped, the upgrade to tags, a restore) the first site read was paid
   * without the flags of shifts at sites not read yet (their rows were not re-read): the flag
   * depended on which site an operator opened first. Before this process's first catch-up of a
   * site (since it started, or the read model was reset), every other site of the site's workers
   * of more than one site (their assignments, as the workforce holds them now) that this process
   * has not caught up is caught up first: each once, paged and yielding as any catch-up, each in
   * a queued step of its own after a turn of the loop (as the ledger watch's pages: review MED,
   * one step for them all held the queue, and every read of another site, for all of them); the
   * site's own catch-up, queued after them, then reads their rows, and its recompute marks their
   * days back. A read of the site meanwhile waits for the same steps (`othersCatchingUp`), not a
   * second round of them. Must not be awaited inside a queued step (it queues its own).
   * A site caught up later (a worker assigned to it since) reaches this site's days with its own
   * recompute. An other site another process rebuilds is left to that rebuild (its recompute
   * reaches this site's days), and one whose model stops before a sealed link that fails its
   * check (`timesheets_ledger_unverified` on its reads) leaves the shifts after that link
   * unread: this site's reads answer without their flags, warned in the log (once a minute, and
   * the stopped site is on /health), and each read of the site tries that site again (those
   * sites alone: the site's workers are not listed again), so the flags come back by its
   * recompute once its link is put back. Its entries failing their tags
   * fail this site's read too (`timesheets_tampered`: its days would be computed from them).
   */
  private catchUpOthers(siteId: string): Promise<void> {
    if (this.othersRead.has(siteId)) return Promise.resolve();
    let running = this.othersCatchingUp.get(siteId);
    if (!running) {
      running = this.catchUpOthersInSteps(siteId).finally(() =>
        this.othersCatchingUp.delete(siteId),
      );
      this.othersCatchingUp.set(siteId, running);
    }
    return running;
  }

  private async catchUpOthersInSteps(siteId: string): Promise<void> {
    // the workers are listed outside the queue (the read model is not read)
    const others = this.othersLeft.get(siteId) ?? (await this.otherSitesOf(siteId));
    const behind = (other: string) => !this.applied.has(other) || this.stops.has(other);
    const left = new Set<string>();
    for (const other of others) {
      if (!behind(other)) continue;
      // the loop turns before each step is queued: what arrived meanwhile queues before it
      await yieldToLoop();
      await this.serialized(async () => {
        // read again: a step queued before this one may have caught it up
        if (!behind(other)) return;
        try {
          await this.catchUp(other);
        } catch (error) {
          // a tampered other site (review MED-3) is its own reads' 503, not this site's: left
          // (tried again at the next read), as a site another process rebuilds
          if (isSiteTampered(error)) this.warnOtherTampered(siteId, other);
          else if (!isRebuilding(error)) throw error;
          left.add(other);
          return;
        }
        const stop = this.stops.get(other);
        if (stop) {
          left.add(other);
          this.warnOtherStops(siteId, other, stop.seq);
        }
      });
    }
    if (left.size > 0) {
      this.othersLeft.set(siteId, left);
      return;
    }
    this.othersLeft.delete(siteId);
    this.othersRead.add(siteId);
  }

  /** The other sites of the site's workers who work at more than one (page by page). */
  private async otherSitesOf(siteId: string): Promise<Set<string>> {
    const others = new Set<string>();
    for (let afterId: string | undefined; ;) {
      const page = await this.workforce.listWorkers({ siteId, limit: WORKER_PAGE, afterId });
      for (const worker of page) for (const id of worker.siteIds) if (id !== siteId) others.add(id);
      if (page.length < WORKER_PAGE) return others;
      afterId = page[page.length - 1].id;
      await this.letLoopTurn();
    }
  }

  private warnOtherTampered(siteId: string, other: string): void {
    const now = this.now();
    if (now - (this.othersTamperedWarnedAt.get(siteId) ?? -Infinity) < RECHECK_MS) return;
    this.othersTamperedWarnedAt.set(siteId, now);
    this.logger.warn(
      { siteId, otherSiteId: other },
      "Timesheet days of a site read while another site of its workers reads tampered (site_tampered): overlaps_other_site with that site's shifts are not flagged until its record is restored",
    );
  }

  private warnOtherStops(siteId: string, other: string, seq: number): void {
    const now = this.now();
    if (now - (this.othersStopWarnedAt.get(siteId) ?? -Infinity) < RECHECK_MS) return;
    this.othersStopWarnedAt.set(siteId, now);
    this.logger.warn(
      { siteId, otherSiteId: other, seq },
      "Timesheet days of a site read while another site of its workers stops before a sealed ledger link that fails its check: overlaps_other_site with that site's shifts after the link are not flagged until it is put back",
    );
  }

  /**
   * Whether the `missing` seqs a start's count finds short of the site's highest stored entry
   * are all links that project no entry (a link of another kind, sealed by an operator): then
   * the read model is whole, and they are remembered (`noEntry`) for the minute's count. Such
   * a link made every start re-read the whole chain (review L4: the count stayed short of the
   * highest seq for good). The missing seqs are found by a walk of the stored seqs, and each
   * link read (checked) from the ledger; more than MAX_NO_ENTRY_LINKS of them is taken for a hole.
   */
  private async onlyNoEntryMissing(
    siteId: string,
    through: number,
    missing: number,
  ): Promise<boolean> {
    if (missing <= 0 || missing > MAX_NO_ENTRY_LINKS) return false;
    const gaps: number[] = [];
    let expected = 1;
    for (let after = 0; after < through && gaps.length < missing;) {
      const seqs = await this.repo.listSeqs(siteId, after, through, SEQ_PAGE);
      for (const seq of seqs) {
        for (; expected < seq && gaps.length <= missing; expected++) gaps.push(expected);
        expected = seq + 1;
      }
      if (seqs.length < SEQ_PAGE) break;
      after = seqs[seqs.length - 1];
      await this.letLoopTurn();
    }
    if (gaps.length !== missing) return false;
    for (const seq of gaps) {
      const [link] = await this.ledger.readAuthenticatedChain(siteId, seq - 1, 1);
      if (link?.seq !== seq || projectLink(link) !== undefined) return false;
    }
    let seqs = this.noEntry.get(siteId);
    if (!seqs) this.noEntry.set(siteId, (seqs = new Set()));
    for (const seq of gaps) seqs.add(seq);
    return true;
  }

  private warnHole(siteId: string, count: number, maxSeq: number): void {
    this.logger.warn(
      { siteId, count, maxSeq },
      'Timesheet read model has a gap; re-reading the chain',
    );
  }

  /**
   * Remembers where a catch-up of the site stopped before a sealed link that fails its check
   * (logged and counted when first found), or forgets a stop a catch-up read past (the link put
   * back as sealed). `from`: the seq the catch-up read after; a stop the ledger watch found at
   * or before it (behind the cursor) is not one this catch-up read, and stays (-1: the watch).
   */
  private noteStop(siteId: string, stop: ChainStop | undefined, now: number, from: number): void {
    const seen = this.stops.get(siteId);
    if (seen && from >= 0 && seen.seq <= from) return;
    if (!stop) {
      if (!seen) return;
      this.stops.delete(siteId);
      this.logger.log(
        { siteId, seq: seen.seq },
        'Timesheet read model reads past the sealed ledger link it stopped before (the link checks again)',
      );
      return;
    }
    const same = seen?.seq === stop.seq && seen.reason === stop.reason;
    if (!same) {
      this.logger.error(
        { siteId, seq: stop.seq, reason: stop.reason },
        "Sealed ledger link fails its check (changed in the database after its seal): the site's timesheet reads answer 503 timesheets_ledger_unverified until it is put back as sealed",
      );
    }
    this.stops.set(siteId, {
      seq: stop.seq,
      reason: stop.reason,
      recordHash: stop.recordHash,
      since: same ? seen.since : now,
      checkedAt: now,
    });
  }

  /**
   * Sites whose read model stops before a sealed ledger link that fails its check (their reads
   * answer 503 `timesheets_ledger_unverified`), until a catch-up reads past it.
   */
  stoppedSites(): StoppedSite[] {
    return [...this.stops].map(([siteId, s]) => ({
      siteId,
      seq: s.seq,
      reason: s.reason,
      since: s.since,
    }));
  }

  private now(): number {
    return this.clock ? this.clock.now().getTime() : Date.now();
  }

  /** Every site's pending marks, recomputed (they are cleared as their days are stored). */
  private async recomputePending(): Promise<void> {
    let after: { siteId: string; workerId: string } | undefined;
    for (;;) {
      const page = await this.repo.listPending(PENDING_PAGE, after);
      const bySite = new Map<string, Touched>();
      for (const p of page) {
        let touched = bySite.get(p.siteId);
        if (!touched) {
          touched = new Map();
          bySite.set(p.siteId, touched);
        }
        touched.set(p.workerId, { min: p.min, max: p.max });
      }
      for (const [siteId, touched] of bySite) {
        try {
          await this.checkSite(siteId);
          await this.recomputeTouched(siteId, touched);
        } catch (error) {
          // the marks stay: the site's catch-up after the rebuild takes them
          if (isRebuilding(error)) continue;
          if (isSiteTampered(error)) {
            // its marks stay (its reads answer 503 until it is restored); the others' go on
            this.logger.warn(
              { siteId, workers: touched.size },
              'Timesheet days pending recompute of a site that reads tampered (site_tampered) left: their marks stay until its record is restored',
            );
            continue;
          }
          throw error;
        }
        this.logger.log(
          { siteId, workers: touched.size },
          'Timesheet days pending recompute recomputed',
        );
      }
      if (page.length < PENDING_PAGE) return;
      after = page[page.length - 1];
    }
  }

  /** A site's pending marks as touched spans. */
  private async pendingOf(siteId: string): Promise<Touched> {
    const touched: Touched = new Map();
    let after: { siteId: string; workerId: string } | undefined;
    for (;;) {
      const page = await this.repo.listPending(PENDING_PAGE, after, siteId);
      for (const p of page) touched.set(p.workerId, { min: p.min, max: p.max });
      if (page.length < PENDING_PAGE) return touched;
      after = page[page.length - 1];
    }
  }

  /**
   * Stores the links' entries and resolves the corrections among them; notes the times they
   * reach in `touched`, and durably (pending marks written with the entries and the states).
   * Returns the punches stored when every entry was new and none is a correction (the
   * recompute then takes them from hand), else undefined.
   */
  private async apply(
    siteId: string,
    logs: AttendanceLog[],
    touched: Touched,
  ): Promise<InHand | undefined> {
    const entries: TimesheetEntry[] = [];
    const own: Touched = new Map();
    let corrections = false;
    for (const log of logs) {
      const e = projectLink(log);
      if (e === undefined) {
        let seqs = this.noEntry.get(siteId);
        if (!seqs) this.noEntry.set(siteId, (seqs = new Set()));
        seqs.add(log.seq);
        continue;
      }
      entries.push(e);
      if (e.kind === 'punch') touch(own, e.workerId, e.effectiveAt);
      else corrections = true;
    }
    if (entries.length === 0) return undefined;
    // corrections are resolved before anything is stored, so the entries, the states of their
    // trees and the marks are one write: no crash leaves a stored correction unapplied
    const states = corrections ? await this.resolveCorrections(siteId, entries, own) : [];
    if (states.length > 0) {
      const resolved = new Map(states.map((e) => [e.seq, e]));
      for (let i = 0; i < entries.length; i++)
        entries[i] = resolved.get(entries[i].seq) ?? entries[i];
    }
    // the trees were resolved from every entry up to the batch's last seq (taken in seq order)
    let basis = 0;
    for (const log of logs) if (log.seq > basis) basis = log.seq;
    const stored = await this.repo.insertEntries(entries, marks(siteId, own), states, basis);
    merge(touched, own);
    if (corrections) return undefined;
    if (stored !== entries.length) return undefined;
    const inHand: InHand = { fromSeq: entries[0].seq, toSeq: entries[0].seq, byWorker: new Map() };
    for (const e of entries) {
      if (e.seq < inHand.fromSeq) inHand.fromSeq = e.seq;
      if (e.seq > inHand.toSeq) inHand.toSeq = e.seq;
      const list = inHand.byWorker.get(e.workerId);
      if (list) list.push(e);
      else inHand.byWorker.set(e.workerId, [e]);
    }
    return inHand;
  }

  /**
   * Resolves the trees the entries' corrections join, from the store and the entries in hand
   * (not stored yet, or stored by an earlier attempt: then the stored copy is used); returns
   * the entries whose derived state changed, and touches their trees' punch-like entries.
   */
  private async resolveCorrections(
    siteId: string,
    entries: TimesheetEntry[],
    touched: Touched,
  ): Promise<TimesheetEntry[]> {
    const held = new Map(entries.map((e) => [e.seq, e]));
    const roots = new Set<number>();
    for (const c of entries) {
      if (c.kind !== 'correction') continue;
      const root = await this.rootOf(siteId, c, held);
      if (root !== undefined) roots.add(root);
    }
    const changed: TimesheetEntry[] = [];
    for (const root of roots) {
      const tree = await this.treeOf(siteId, root, held);
      const own = resolveTree(tree);
      for (const e of [...tree, ...own])
        if (isPunchLike(e)) touch(touched, e.workerId, e.effectiveAt);
      changed.push(...own);
    }
    return changed;
  }

  /**
   * Recomputes the days the touched workers' spans reach, WINDOW_DAYS at a time; a window's
   * days are written before the next slice of work, and a worker's pending mark is settled by
   * its last window (when every day of its span is stored).
   */
  private async recomputeTouched(
    siteId: string,
    touched: Touched,
    inHand?: InHand,
    propagate = true,
  ): Promise<void> {
    if (touched.size === 0) return;
    let replacements: DayReplacement[] = [];
    /** Other sites whose days of these workers the change may reach (`overlaps_other_site`). */
    const reached = new Map<string, Touched>();
    // read before any punch: a replica that stores entries of these workers meanwhile bumps
    // their versions, and its own recompute (of a higher basis) wins on a shared store
    const versions = await this.repo.versionsOf(siteId, [...touched.keys()]);
    // and the pending marks: one is cleared only if no write widened it since, and only if
    // every write that had marked it had stored its entries by now (the punches hold them)
    const marks = await this.repo.pendingBasis(siteId, [...touched.keys()]);
    const zone = await this.zoneOf(siteId);
    for (const [workerId, span] of touched) {
      const otherSites = new Set<string>();
      const lastDay = localDay(span.max + this.maxShiftMs, zone);
      for (let fromDay = localDay(span.min - this.maxShiftMs, zone); fromDay <= lastDay;) {
        // half the slice for recomputes, the other half for writing their days
        if (performance.now() - this.turnedAt > SLICE_MS / 2) {
          if (replacements.length > 0) await this.repo.replaceDays(replacements);
          replacements = [];
          await this.letLoopTurn();
        }
        const windowEnd = nextDay(fromDay, WINDOW_DAYS - 1);
        const toDay = windowEnd < lastDay ? windowEnd : lastDay;
        const replacement = await this.recompute(
          siteId,
          workerId,
          zone,
          fromDay,
          toDay,
          otherSites,
          inHand,
        );
        replacement.basis = versions.get(workerId) ?? 0;
        if (toDay === lastDay) {
          replacement.settles = span;
          replacement.mark = marks.get(workerId);
          if (propagate && otherSites.size > 0) {
            replacement.others = this.reachOthers(reached, otherSites, workerId, span);
          }
        }
        replacements.push(replacement);
        if (replacements.length === REPLACE_BATCH) {
          await this.repo.replaceDays(replacements);
          replacements = [];
        }
        fromDay = nextDay(toDay);
      }
    }
    if (replacements.length > 0) await this.repo.replaceDays(replacements);
    for (const [other, spans] of reached) await this.recomputeOtherSite(other, spans);
  }

  /**
   * The pending marks, at each other site where the worker has punches near the span, of the
   * days there that the span's entries may overlap, noted in `reached` too. The entries
   * change the spans within two longest shifts of them (a shift is paired within one and
   * lasts at most one); a span of the other site that overlaps one of those starts within
   * three, which its recompute of a mark two longest shifts wide reaches.
   */
  private reachOthers(
    reached: Map<string, Touched>,
    otherSites: Set<string>,
    workerId: string,
    span: { min: number; max: number },
  ): PendingDays[] {
    const margin = 2 * this.maxShiftMs;
    const min = span.min - margin;
    const max = span.max + margin;
    return [...otherSites].map((other) => {
      let spans = reached.get(other);
      if (!spans) {
        spans = new Map() as Touched;
        reached.set(other, spans);
      }
      touch(spans, workerId, min);
      touch(spans, workerId, max);
      return { siteId: other, workerId, min, max };
    });
  }

  /**
   * Recomputes the days another site's entries reached (`overlaps_other_site`), without
   * reaching further (its entries did not change: no site it overlaps needs its days again).
   * Their marks are stored: a site a rebuild holds, or a failure, leaves them to its next
   * catch-up or the next start. After a failure the site's position in this process is
   * forgotten, so that next catch-up reads the site's marks again (it reads them only when it
   * starts from no position: `pendingOf`), instead of leaving the days stale until a restart.
   */
  private async recomputeOtherSite(siteId: string, touched: Touched): Promise<void> {
    try {
      await this.checkSite(siteId);
      await this.recomputeTouched(siteId, touched, undefined, false);
    } catch (error) {
      if (isRebuilding(error)) return;
      this.applied.delete(siteId);
      this.logger.warn(
        { err: error as Error, siteId, workers: touched.size },
        "Timesheet days another site's entries reached not recomputed (their marks stay)",
      );
    }
  }

  /** Yields to the event loop (timers, I/O, other requests) before the next slice of work. */
  private async letLoopTurn(): Promise<void> {
    await yieldToLoop();
    this.turnedAt = performance.now();
  }

  /**
   * The entry at the top of a correction's chain of targets: a punch, or an added shift (a
   * correction of no entry, the root of its own tree).
   */
  private async rootOf(
    siteId: string,
    correction: TimesheetEntry,
    held: Map<number, TimesheetEntry>,
  ): Promise<number | undefined> {
    if (correction.targetSeq === undefined) return correction.seq;
    let target: number | undefined = correction.targetSeq;
    for (let depth = 0; target !== undefined && depth < 10_000; depth++) {
      const e: TimesheetEntry | undefined =
        held.get(target) ?? (await this.repo.findEntries(siteId, [target]))[0];
      if (!e) return undefined;
      if (e.kind === 'punch' || e.targetSeq === undefined) return e.seq;
      target = e.targetSeq;
    }
    return undefined;
  }

  /** A punch and every correction reaching it, stored copies first, then those only in hand. */
  private async treeOf(
    siteId: string,
    root: number,
    held: Map<number, TimesheetEntry>,
  ): Promise<TimesheetEntry[]> {
    const tree = await this.repo.findEntries(siteId, [root]);
    if (tree.length === 0 && held.has(root)) tree.push(held.get(root)!);
    for (let level = [root]; level.length > 0;) {
      const children = await this.repo.findCorrectionsOf(siteId, level);
      const stored = new Set(children.map((c) => c.seq));
      const targets = new Set(level);
      for (const e of held.values()) {
        if (e.targetSeq !== undefined && targets.has(e.targetSeq) && !stored.has(e.seq)) {
          children.push(e);
        }
      }
      tree.push(...children);
      level = children.map((c) => c.seq);
    }
    return tree;
  }

  /**
   * Recomputes the worker's days from `fromDay` to `toDay` (local days, inclusive), with the
   * worker's punches at other sites (the same indexed read: `listRecomputePunches`), whose
   * sites it adds to `otherSites`.
   */
  private async recompute(
    siteId: string,
    workerId: string,
    zone: string,
    fromDay: string,
    toDay: string,
    otherSites: Set<string>,
    inHand?: InHand,
  ): Promise<DayReplacement> {
    // a shift reaches at most maxShiftMs either side of its days: the punches of this margin
    // decide the days exactly (computeDays)
    const fromMs = startOfLocalDay(fromDay, zone) - this.maxShiftMs;
    const toMs = startOfLocalDay(nextDay(toDay), zone) + this.maxShiftMs;
    // the site's punches of the window (without those in hand) and, around it, the worker's at
    // the other sites: one read of the worker's entries by time across sites. Another site's
    // shift that overlaps one of these days' starts within a longest shift of the window's days,
    // and is paired from the punches within a longest shift of it
    const read = await this.repo.listRecomputePunches(
      siteId,
      workerId,
      { fromMs, toMs },
      { fromMs: fromMs - this.maxShiftMs, toMs: toMs + this.maxShiftMs },
      inHand,
    );
    let punches = read.own;
    const others = read.others;
    const held = inHand?.byWorker.get(workerId);
    if (held) {
      // the same rows the store would give (every held entry was stored as held); computeDays
      // orders them by time and seq
      const inWindow = held.filter(
        (e) => isPunchLike(e) && e.effectiveAt! >= fromMs && e.effectiveAt! < toMs,
      );
      punches = punches.length === 0 ? inWindow : punches.concat(inWindow);
    }
    for (const e of others) otherSites.add(e.siteId);
    await this.checkStates(siteId, inHand ? punches.filter((e) => !isHeld(e, inHand)) : punches);
    if (others.length > 0) {
      const bySite = new Map<string, TimesheetEntry[]>();
      for (const e of others) {
        const list = bySite.get(e.siteId);
        if (list) list.push(e);
        else bySite.set(e.siteId, [e]);
      }
      for (const [other, entries] of bySite) await this.checkStates(other, entries);
    }
    const days = computeDays(siteId, workerId, punches, zone, this.maxShiftMs, others).filter(
      (d) => d.day >= fromDay && d.day <= toDay,
    );
    return { siteId, workerId, fromDay, toDay, days };
  }

  /**
   * Review T3, H-B: refuses (`timesheets_tampered`, kind entry) stored entries whose derived
   * state (voided, effectiveAt, correctedBy) is older than the corrections stored with them: an
   * entry row saved before a void (or a move, or the void of a void) and written back after it
   * carries its old tag, which verifies, since the tag binds the content, not its time. The
   * corrections that reach each entry are read from the store (tagged rows too: their targets,
   * actions and times are what the tree is resolved from, and a writer cannot change those), one
   * read per level of the trees (one, for entries nobody corrected). An entry is stale when a
   * stored correction of its tree is missing from its `correctedBy`, or when its tree is all
   * stored and resolves (`resolveTree`) to another state. A `correctedBy` naming a correction not
   * stored is not judged: on MongoDB the states of a tree are written before the correction's
   * entry, so a recompute may read them in between (a correction row deleted is the gap tags do
   * not close, docs/architecture.md "Tagged rows").
   */
  private async checkStates(siteId: string, entries: TimesheetEntry[]): Promise<void> {
    if (!this.seal || entries.length === 0) return;
    const members = new Map<number, TimesheetEntry>();
    const children = new Map<number, number[]>();
    for (let level = entries.map((e) => e.seq); level.length > 0;) {
      const found = await this.repo.findCorrectionsOf(siteId, level);
      level = [];
      for (const c of found) {
        if (members.has(c.seq) || c.targetSeq === undefined) continue;
        members.set(c.seq, c);
        const list = children.get(c.targetSeq);
        if (list) list.push(c.seq);
        else children.set(c.targetSeq, [c.seq]);
        level.push(c.seq);
      }
    }
    const olderOf = (list: TimesheetEntry[]): TimesheetEntry[] =>
      list.filter((e) => {
        if (e.correctedBy.length === 0 && !children.has(e.seq)) return false;
        const subtree: TimesheetEntry[] = [];
        for (const stack = [...(children.get(e.seq) ?? [])]; stack.length > 0;) {
          const seq = stack.pop()!;
          subtree.push(members.get(seq)!);
          stack.push(...(children.get(seq) ?? []));
        }
        const named = new Set(e.correctedBy);
        return (
          subtree.some((c) => !named.has(c.seq)) ||
          (subtree.length === named.size &&
            resolveTree([e, ...subtree]).some((x) => x.seq === e.seq))
        );
      });
    let older = olderOf(entries);
    if (older.length === 0) return;
    // read again: another replica may have stored a correction (and its target's new state)
    // between this recompute's read of the entries and its read of their corrections; an
    // entry is stale only if its stored copy, read after the corrections, is still older
    older = olderOf(
      await this.repo.findEntries(
        siteId,
        older.map((e) => e.seq),
      ),
    );
    if (older.length === 0) return;
    const stale: TamperedRow[] = older.map((e) => ({ workerId: e.workerId, seq: e.seq }));
    throw new TimesheetsTamperedError(siteId, 'entry', stale, true);
  }

  /**
   * About how many links of the site's chain this process's next catch-up would read: from its
   * cursor (or, with none, the store's highest entry) to the head. A seek or two, no wait for
   * the queue and no count of the site's entries (a COUNT over a 1M-link site is ~0.4 s of a
   * blocked event loop): what a correction checks before it waits for `ensureReadable`. A gap
   * in the stored entries that the catch-up will re-read is not seen here; the correction's
   * wait bounds that. The cursor moves only once a catch-up has recomputed, so a catch-up under
   * way still counts whole. 503 `timesheets_rebuilding` while another process's rebuild holds
   * the site (its model is being refilled: its lag says nothing of when it is back).
   */
  async lagOf(siteId: string): Promise<number> {
    const mark = await this.repo.rebuildMark(siteId);
    const now = Date.now();
    if (mark && this.isLive(mark, now)) throw rebuildingError(mark.expiresAt, now);
    // its model stops before a sealed link that fails its check: no wait would end that
    const stop = this.stops.get(siteId);
    if (stop) throw ledgerUnverifiedError(stop.seq);
    const head = await this.ledger.headSeq(siteId);
    // a cursor from before a rebuild this process has not seen yet is not the model's
    let from =
      mark && this.seenGeneration.get(siteId) !== mark.generation
        ? undefined
        : this.applied.get(siteId);
    if (from === undefined) from = await this.repo.maxSeq(siteId);
    return Math.max(0, head - from);
  }
}
