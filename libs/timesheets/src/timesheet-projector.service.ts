import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnModuleInit,
} from '@nestjs/common';
import { localDay, nextDay, startOfLocalDay } from '@app/common';
import { workforceConfig, WorkforceService, WorkforceSettings } from '@app/workforce';
import { AttendanceLog, LedgerService } from '@app/offline-sync';
import { computeDays } from './domain/timesheet-day';
import { isPunchLike, projectLink, resolveTree, TimesheetEntry } from './domain/timesheet-entry';
import {
  DayReplacement,
  TimesheetRepository,
} from './infrastructure/persistence/timesheet.repository';
import { timesheetsConfig, TimesheetsSettings } from './timesheets.config';

const PAGE = 1000;
/** Workers with days waiting to be recomputed, at most, before a catch-up recomputes them. */
const MAX_PENDING_WORKERS = 5000;

/** Per worker, the earliest and latest time of the entries taken since their days were recomputed. */
type Touched = Map<string, { min: number; max: number }>;
/** Workers whose days are replaced in one store call (one transaction on SQLite). */
const REPLACE_BATCH = 500;

/**
 * Keeps the timesheet read model in step with the ledger: fed by LedgerService's one
 * "entries appended" hook, it stores each entry, resolves the correction tree an entry joins,
 * and recomputes the worker-days the change can reach (± the longest shift). The hook only
 * queues the work, so an append (a sync batch) answers once the ledger has committed; the
 * work is serialized per process. The read model's own progress (its highest seq per site)
 * is the cursor: a gap (a failed hook, a crash between the commit and the projection,
 * another replica's append) is filled from the ledger before new entries are taken, and
 * before every read (`ensureCurrent`, which also waits for the queued work), so no read
 * misses a committed punch.
 */
@Injectable()
export class TimesheetProjector implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(TimesheetProjector.name);
  private readonly maxShiftMs: number;
  private readonly defaultZone: string;
  private readonly zones = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Per site, the seq up to which this process knows the read model holds every entry. */
  private readonly applied = new Map<string, number>();

  constructor(
    private readonly repo: TimesheetRepository,
    private readonly ledger: LedgerService,
    private readonly workforce: WorkforceService,
    @Inject(timesheetsConfig.KEY) settings: TimesheetsSettings,
    @Inject(workforceConfig.KEY) workforceSettings: WorkforceSettings,
  ) {
    this.maxShiftMs = settings.maxShiftHours * 3_600_000;
    this.defaultZone = workforceSettings.defaultTimeZone;
  }

  onModuleInit(): void {
    this.ledger.onAppended(async (logs) => {
      this.serialized(() => this.take(logs)).catch((error: unknown) => {
        // the entries are in the ledger: the next append or read of the site catches up
        this.logger.warn({ err: error as Error }, 'Timesheet read model could not take an append');
      });
    });
  }

  /** Lets queued projection work finish before the store closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.queue;
  }

  /** The site's IANA zone (sites without one use SITE_DEFAULT_TIME_ZONE). */
  async zoneOf(siteId: string): Promise<string> {
    let zone = this.zones.get(siteId);
    if (!zone) {
      const [site] = await this.workforce.findSites([siteId]);
      zone = site?.timeZone ?? this.defaultZone;
      this.zones.set(siteId, zone);
    }
    return zone;
  }

  /** Takes whatever the ledger holds for the site that the read model has not seen yet. */
  ensureCurrent(siteId: string): Promise<void> {
    return this.serialized(() => this.catchUp(siteId)).then(() => undefined);
  }

  /** Forgets the site's read model and builds it again from its chain. Returns the entries read. */
  rebuildSite(siteId: string): Promise<number> {
    return this.serialized(async () => {
      await this.repo.clearSite(siteId);
      this.applied.set(siteId, 0);
      const entries = await this.catchUp(siteId);
      this.logger.log({ siteId, entries }, 'Timesheet read model rebuilt');
      return entries;
    });
  }

  /** Rebuilds every site's read model from its chain; returns sites and entries read. */
  async rebuildAll(): Promise<{ sites: number; entries: number }> {
    let sites = 0;
    let entries = 0;
    for (let after = ''; ;) {
      const ids = await this.workforce.listSiteIds(after, 100);
      for (const id of ids) {
        entries += await this.rebuildSite(id);
        sites += 1;
      }
      if (ids.length < 100) return { sites, entries };
      after = ids[ids.length - 1];
    }
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async take(logs: AttendanceLog[]): Promise<void> {
    const bySite = new Map<string, AttendanceLog[]>();
    for (const log of logs) {
      const list = bySite.get(log.siteId);
      if (list) list.push(log);
      else bySite.set(log.siteId, [log]);
    }
    for (const [siteId, siteLogs] of bySite) {
      const first = Math.min(...siteLogs.map((l) => l.seq));
      const last = Math.max(...siteLogs.map((l) => l.seq));
      if (this.applied.get(siteId) === first - 1) {
        const touched: Touched = new Map();
        await this.apply(siteId, siteLogs, touched);
        await this.recomputeTouched(siteId, touched);
        this.applied.set(siteId, last);
      } else {
        await this.catchUp(siteId);
      }
    }
  }

  private async catchUp(siteId: string): Promise<number> {
    let after = this.applied.get(siteId);
    if (after === undefined) {
      const { maxSeq, count } = await this.repo.progress(siteId);
      // a hole (an append whose hook failed): take the chain again from the start; stored
      // entries are kept as they are and every day they reach is recomputed
      after = count === maxSeq ? maxSeq : 0;
      if (after === 0 && count > 0) {
        this.logger.warn(
          { siteId, count, maxSeq },
          'Timesheet read model has a gap; re-reading the chain',
        );
      }
    }
    // Entries are stored page by page; the days they reach are recomputed once the entries
    // taken since the last recompute outnumber the punches it read (and at the end). A
    // recompute reads every punch in its windows, so recomputing after every page is quadratic
    // when many pages reach the same days (one worker's punches at one instant); this way
    // each recompute is paid for by the entries before it, and a catch-up is linear in the
    // rows. Ordinary chains (days reached by a page or two) still recompute every page or so.
    // The in-process cursor (`applied`) moves only after a recompute, so a failed page is taken
    // again; a process crash between the stored entries and their recompute leaves those days
    // stale until `npm run timesheets:rebuild` (as a crash between one page's two writes did).
    let read = 0;
    let touched: Touched = new Map();
    let takenSinceRecompute = 0;
    let lastRecomputeRead = 0;
    for (;;) {
      const page = await this.ledger.readChain(siteId, after, PAGE);
      if (page.length > 0) {
        await this.apply(siteId, page, touched);
        after = page[page.length - 1].seq;
      }
      read += page.length;
      takenSinceRecompute += page.length;
      const done = page.length < PAGE;
      if (done || takenSinceRecompute >= lastRecomputeRead || touched.size >= MAX_PENDING_WORKERS) {
        lastRecomputeRead = await this.recomputeTouched(siteId, touched);
        touched = new Map();
        takenSinceRecompute = 0;
        this.applied.set(siteId, after);
      }
      if (done) return read;
    }
  }

  /** Stores the links' entries and resolves the corrections among them; notes the times they reach. */
  private async apply(siteId: string, logs: AttendanceLog[], touched: Touched): Promise<void> {
    const entries = logs.map(projectLink).filter((e): e is TimesheetEntry => e !== undefined);
    if (entries.length === 0) return;
    await this.repo.insertEntries(entries);
    const touch = (workerId: string, at: number | undefined) => {
      if (at === undefined) return;
      const span = touched.get(workerId);
      if (!span) touched.set(workerId, { min: at, max: at });
      else if (at < span.min) span.min = at;
      else if (at > span.max) span.max = at;
    };
    for (const e of entries) if (e.kind === 'punch') touch(e.workerId, e.effectiveAt);
    const roots = new Set<number>();
    for (const c of entries.filter((e) => e.kind === 'correction')) {
      const root = await this.rootOf(siteId, c);
      if (root !== undefined) roots.add(root);
    }
    for (const root of roots) {
      const tree = await this.treeOf(siteId, root);
      const changed = resolveTree(tree);
      await this.repo.updateEntryStates(changed);
      for (const e of [...tree, ...changed]) if (isPunchLike(e)) touch(e.workerId, e.effectiveAt);
    }
  }

  /** Recomputes the touched workers' days; returns how many punches that read. */
  private async recomputeTouched(siteId: string, touched: Touched): Promise<number> {
    let read = 0;
    let replacements: DayReplacement[] = [];
    for (const [workerId, span] of touched) {
      const { replacement, punches } = await this.recompute(siteId, workerId, span);
      replacements.push(replacement);
      read += punches;
      if (replacements.length === REPLACE_BATCH) {
        await this.repo.replaceDays(replacements);
        replacements = [];
      }
    }
    if (replacements.length > 0) await this.repo.replaceDays(replacements);
    return read;
  }

  /** The punch at the top of a correction's chain of targets. */
  private async rootOf(siteId: string, correction: TimesheetEntry): Promise<number | undefined> {
    let target = correction.targetSeq;
    for (let depth = 0; target !== undefined && depth < 10_000; depth++) {
      const [e] = await this.repo.findEntries(siteId, [target]);
      if (!e) return undefined;
      if (e.kind === 'punch') return e.seq;
      target = e.targetSeq;
    }
    return undefined;
  }

  private async treeOf(siteId: string, root: number): Promise<TimesheetEntry[]> {
    const tree = await this.repo.findEntries(siteId, [root]);
    for (let level = [root]; level.length > 0;) {
      const children = await this.repo.findCorrectionsOf(siteId, level);
      tree.push(...children);
      level = children.map((c) => c.seq);
    }
    return tree;
  }

  /** Recomputes the worker's days that entries at times in [span.min, span.max] can reach. */
  private async recompute(
    siteId: string,
    workerId: string,
    span: { min: number; max: number },
  ): Promise<{ replacement: DayReplacement; punches: number }> {
    const zone = await this.zoneOf(siteId);
    const fromDay = localDay(span.min - this.maxShiftMs, zone);
    const toDay = localDay(span.max + this.maxShiftMs, zone);
    const punches = await this.repo.listPunches(
      siteId,
      workerId,
      startOfLocalDay(fromDay, zone) - this.maxShiftMs,
      startOfLocalDay(nextDay(toDay), zone) + this.maxShiftMs,
    );
    const days = computeDays(siteId, workerId, punches, zone, this.maxShiftMs).filter(
      (d) => d.day >= fromDay && d.day <= toDay,
    );
    return { replacement: { siteId, workerId, fromDay, toDay, days }, punches: punches.length };
  }
}
