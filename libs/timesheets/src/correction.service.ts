import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  actorOf,
  Clock,
  Counter,
  KeyedTurns,
  jcs,
  localDay,
  MetricsRegistry,
  nextDay,
  startOfLocalDay,
} from '@app/common';
import { offlineTokenConfig, OfflineTokenSettings } from '@app/device-trust';
import { WorkerStanding, WorkforceService } from '@app/workforce';
import { refuseTamperedSite } from './site-integrity';
import {
  AttendanceLog,
  AttendanceMeta,
  LedgerService,
  LINK_KEY_WAIT_MS,
  LinkKeyWaits,
  NO_DEVICE,
} from '@app/offline-sync';
import { acknowledgementsAmong } from './acknowledgements';
import { CorrectionAction, CorrectionAuthor, CorrectionData } from './domain/correction';
import {
  formatShiftLength,
  liveNeighbours,
  movePartnersLost,
  moveShiftsTooLong,
  moveWindow,
  overMaxHoursAcknowledgement,
  shiftOverlaps,
} from './domain/timesheet-day';
import { isAddedShift, projectLink, TimesheetEntry } from './domain/timesheet-entry';
import { CorrectionResponse, CreateCorrectionDto } from './dto/timesheet.dto';
import { PayrollCloseService } from './payroll-close/payroll-close.service';
import { TimesheetRepository } from './infrastructure/persistence/timesheet.repository';
import { TimesheetActor } from './timesheet-access.guard';
import { ReadBasis, TimesheetProjector } from './timesheet-projector.service';
import { timesheetsConfig, TimesheetsSettings } from './timesheets.config';
import { catchingUpError, TimesheetsError } from './timesheets.errors';

/**
 * Checks of one correction's rules, at most: each one after the first means an entry of the
 * corrected worker (a punch, a correction) was appended to the site's chain between the check
 * and the append, so a run of them is a worker corrected faster than a check lasts, answered
 * 503 `correction_contended`.
 */
const MAX_ATTEMPTS = 10;
/**
 * Appends of one correction moved to a newer head without a new check (the links in between
 * concern other workers only), at most, and for at most MOVE_ON_MS in all: a bound on a site
 * whose chain moves faster than an append round trip, never reached on a busy site (each
 * move is one read of the links in between and one conditional append). Beyond it the moves
 * count as checks (MAX_ATTEMPTS).
 */
const MAX_MOVES = 1000;
const MOVE_ON_MS = 20_000;
/** Links read at once while looking for the corrected worker's among those appended since. */
const MOVED_PAGE = 250;
/**
 * `Retry-After` of `timesheets_key_unavailable`: a rolling key rotation ends when every replica
 * has restarted with the new STORE_MAC_KEY (or the retry reaches one that has).
 */
const KEY_UNAVAILABLE_RETRY_SECONDS = 5;
/**
 * The least a correction waits for the read model, its deadline passed or not (at most
 * TIMESHEET_CORRECTION_WAIT_MS): the reads that find it current.
 */
const MIN_READ_WAIT_MS = 1000;

/**
 * Corrections are ledger entries, never edits: each names its target (same site, pinned by
 * recordHash), an action and a reason, and is appended to the site's chain through
 * LedgerService like any entry. The read model applies it through the append hook.
 */
@Injectable()
export class CorrectionService {
  private readonly logger = new Logger(CorrectionService.name);
  private readonly maxShiftMs: number;
  private readonly skewMs: number;
  /** TIMESHEET_BACKFILL_DAYS: how many of the site's calendar days back an add_shift may start. */
  private readonly backfillDays: number;

  /** The end of each site's last correction in this process (see `correct`). */
  private readonly siteTurns = new KeyedTurns();
  /** Corrections checked again because the site's chain moved between check and append. */
  private readonly retries?: Counter;
  private readonly maxLag: number;
  private readonly waitMs: number;
  /** Per site, the catch-up a correction refused 503 left running (one at a time). */
  private readonly catchingUp = new Map<string, Promise<void>>();
  /**
   * Targets tagged under a key id this server does not hold, waited for per (site, seq): 503
   * `timesheets_key_unavailable` for LINK_KEY_WAIT_MS from the first correction that met one,
   * then `timesheets_tampered` (review M3 of lv3mend: any made-up key id was answered 503
   * retryable for good). As the read model's wait (`LinkKeyWaits`): a rolling STORE_MAC_KEY
   * rotation ends well within it, the link sealed by its own replica then.
   */
  private readonly keyWaits = new LinkKeyWaits();

  constructor(
    private readonly ledger: LedgerService,
    private readonly projector: TimesheetProjector,
    private readonly repo: TimesheetRepository,
    private readonly workforce: WorkforceService,
    private readonly clock: Clock,
    private readonly closes: PayrollCloseService,
    @Inject(timesheetsConfig.KEY) timesheetsSettings: TimesheetsSettings,
    @Inject(offlineTokenConfig.KEY) offlineTokenSettings: OfflineTokenSettings,
    @Optional() metrics?: MetricsRegistry,
  ) {
    if (metrics) {
      this.retries = new Counter({
        name: 'mdai_timesheet_correction_retries_total',
        help: "Timesheet corrections checked again because the site's chain moved between their check and their append (another replica's correction, a sync's punch)",
        registers: [metrics],
      });
    }
    this.maxShiftMs = timesheetsSettings.maxShiftHours * 3_600_000;
    this.skewMs = offlineTokenSettings.maxClockSkewSeconds * 1000;
    this.backfillDays = timesheetsSettings.backfillDays;
    this.maxLag = timesheetsSettings.correctionMaxLag;
    this.waitMs = timesheetsSettings.correctionWaitMs;
  }

  /**
   * Appends one correction to the site's chain. Across processes, the append is conditional on
   * the chain head its rules were checked at (`correctNow`), so two sent at once to two
   * replicas cannot both pass (two check-outs for one check-in). A site's corrections also run
   * one at a time in this process: each one's rules read the read model, which the one before
   * has reached by then, so two of one process never need a second check.
   */
  correct(
    siteId: string,
    body: CreateCorrectionDto,
    actor: TimesheetActor,
  ): Promise<CorrectionResponse> {
    // the wait for the read model is bounded from the request's arrival (the turns of the
    // site's earlier corrections included)
    const deadline = Date.now() + this.waitMs;
    return this.siteTurns.run(siteId, () => this.correctNow(siteId, body, actor, deadline));
  }

  private async correctNow(
    siteId: string,
    body: CreateCorrectionDto,
    actor: TimesheetActor,
    deadline: number,
  ): Promise<CorrectionResponse> {
    // the site first, as the timesheet reads check it: an unknown site is no one's chain
    const sites = await this.workforce.findSites([siteId]);
    if (sites.length === 0) {
      throw new TimesheetsError('site_not_found', 'No site has this siteId');
    }
    // its time zone decides the days a correction's rules read: 503 site_tampered
    refuseTamperedSite(this.workforce, sites, 'a timesheet correction');
    if (body.target && body.target.siteId !== siteId) {
      throw new TimesheetsError(
        'cross_site_correction',
        "A correction goes to the chain of its target's site: target.siteId must be this site",
      );
    }
    // the corrected entry (none for add_shift, which records a shift of its own) and worker
    let log: AttendanceLog | undefined;
    let workerId: string;
    if (body.target) {
      log = await this.checkedTarget(siteId, body.target.seq);
      const projected = projectLink(log);
      if (!projected)
        throw new TimesheetsError('not_correctable', 'This entry is not a punch or a correction');
      workerId = projected.workerId;
    } else {
      // add_shift: the DTO requires workerId (and refuses a target)
      workerId = body.workerId!;
    }
    if (actor.kind === 'thekedar') {
      const crew = await this.workforce.workerIdsOfThekedar(actor.signed.thekedarId);
      if (!crew.includes(workerId)) {
        throw new TimesheetsError(
          'worker_not_in_crew',
          'A thekedar corrects only the workers it onboarded',
        );
      }
    }
    const at = body.at !== undefined ? Date.parse(body.at) : undefined;
    const until = body.until !== undefined ? Date.parse(body.until) : undefined;
    const correctionId = body.correctionId ?? randomUUID();
    const data: CorrectionData = {
      kind: 'timesheet_correction',
      packetId: correctionId,
      siteId,
      workerId,
      action: body.action,
      ...(log ? { target: { siteId, seq: log.seq, recordHash: log.recordHash } } : {}),
      ...(at !== undefined ? { at: new Date(at).toISOString() } : {}),
      ...(until !== undefined ? { until: new Date(until).toISOString() } : {}),
      reason: body.reason,
      by: authorOf(actor),
    };
    // a retry is answered before the read model is waited for (it reads the ledger only): a
    // client whose first send was appended, its answer lost, gets its duplicate from a lagging
    // replica too, not a 503 saying nothing was appended
    const early = await this.retryOf(siteId, body.correctionId, data);
    if (early) return early;
    // after the retry: the backfill window moves with the clock, and a correction appended
    // inside it is still answered as a duplicate when its retry comes after the window passed it
    if (!log) await this.checkWorkerOfSite(siteId, workerId, at!);
    // 503 `timesheets_rebuilding` while a rebuild holds the site, `timesheets_catching_up` past
    // the correction's bounds: the rules read its read model
    let basis: ReadBasis = await this.readable(siteId, deadline);
    // The rules are checked against the read model at the chain's head `headSeq`, and the
    // append is refused by the store if any link was appended since (by this process or
    // another replica: a correction, or a sync's punch). The rules read only the corrected
    // worker's entries on this site (the target, its corrections, the worker's punches around
    // it): when the links appended since hold none of that worker's, the check still holds at
    // the new head and the append is tried there; otherwise the read model catches up and the
    // rules are checked again. Two corrections that would both pass at one head cannot both be
    // appended: the second one's append finds the first (an entry of its worker) in between.
    const started = Date.now();
    let moves = 0;
    for (let attempt = 1; ; attempt++) {
      let headSeq = basis.headSeq;
      // a retry is answered before the rules: the correction it repeats has changed the
      // target since (a retried void finds it voided, a retried add_check_out checked out);
      // the first attempt's was asked above
      if (attempt > 1) {
        const retried = await this.retryOf(siteId, body.correctionId, data);
        if (retried) return retried;
      }
      const [target] = log ? await this.repo.findEntries(siteId, [log.seq]) : [];
      if (log && !target) {
        // a rebuild that cleared the site since `basis` answers as the rebuild
        await this.projector.assertUnchanged(siteId, basis);
        throw new TimesheetsError(
          'timesheets_behind',
          'The timesheet read model is catching up; retry',
        );
      }
      const now = this.clock.now();
      // an acknowledgement records the day it acknowledges, as checked at this attempt's head
      let daySeqs: number[] | undefined;
      try {
        if (actor.kind === 'thekedar') await this.refuseClosed(siteId, body.action, target, at);
        if (target) daySeqs = await this.checkAction(body.action, at, target, now);
        else await this.checkShift(siteId, workerId, at, until, now);
      } catch (error) {
        // the same retry sent twice at once: the other one may have been appended since
        const late = await this.retryOf(siteId, body.correctionId, data);
        if (late) return late;
        // a refusal read from a model a rebuild cleared meanwhile is the rebuild's 503
        await this.projector.assertUnchanged(siteId, basis);
        throw error;
      }
      const meta: AttendanceMeta = {
        isOfflineSync: false,
        syncTimestamp: now.toISOString(),
        ...(actor.kind === 'thekedar' ? { deviceTrustScore: actor.signed.trustScore } : {}),
      };
      // the rules read the read model: a rebuild that cleared it since must not pass them
      await this.projector.assertUnchanged(siteId, basis);
      const entry: CorrectionData = daySeqs ? { ...data, daySeqs } : { ...data };
      let result = await this.ledger.appendAtHead(
        { siteId, packetId: correctionId, data: { ...entry }, meta },
        headSeq,
      );
      while (
        result.status === 'head_moved' &&
        moves < MAX_MOVES &&
        Date.now() - started < MOVE_ON_MS &&
        !(await this.workerMoved(siteId, data.workerId, headSeq, result.headSeq))
      ) {
        moves++;
        headSeq = result.headSeq;
        result = await this.ledger.appendAtHead(
          { siteId, packetId: correctionId, data: { ...entry }, meta },
          headSeq,
        );
      }
      if (result.status === 'duplicate') return this.duplicate(result.log, data);
      if (result.status === 'appended') {
        this.logger.log(
          {
            siteId,
            seq: result.log.seq,
            correctionId,
            action: body.action,
            ...(log ? { targetSeq: log.seq } : {}),
            by: data.by.kind,
            ...(attempt > 1 ? { attempts: attempt } : {}),
            ...(moves > 0 ? { moves } : {}),
          },
          'Timesheet correction appended',
        );
        return {
          correctionId,
          status: result.status,
          siteId,
          seq: result.log.seq,
          recordHash: result.log.recordHash,
        };
      }
      if (attempt === MAX_ATTEMPTS) {
        this.logger.warn(
          { siteId, correctionId, attempts: attempt, headSeq: result.headSeq },
          "Timesheet correction not appended: the site's chain kept moving",
        );
        throw new TimesheetsError(
          'correction_contended',
          "The worker's entries kept changing while the correction was checked; retry",
        );
      }
      this.retries?.inc();
      this.logger.debug(
        { siteId, correctionId, attempt, checkedAt: headSeq, headSeq: result.headSeq },
        "Timesheet correction checked again: the worker's entries changed",
      );
      basis = await this.readable(siteId, deadline);
    }
  }

  /**
   * 409 `period_closed`: a thekedar's correction touching a day of a closed payroll period
   * (the target's recorded and moved times, those of the entry a corrected correction
   * targets, the new `at`; a check-out's shift may have begun the day before).
   */
  private async refuseClosed(
    siteId: string,
    action: CorrectionAction,
    target: TimesheetEntry | undefined,
    at: number | undefined,
  ): Promise<void> {
    const entries = target ? [target] : [];
    if (target?.targetSeq !== undefined) {
      entries.push(...(await this.repo.findEntries(siteId, [target.targetSeq])));
    }
    // a shift is on the local day of its check-in (an added shift's `at`; `until` is its end)
    const times = [at, ...entries.flatMap((e) => [e.at, e.effectiveAt])];
    const movesCheckOut = action === 'move' && target?.punchType === 'check_out';
    const checkOuts = [
      ...(action === 'add_check_out' || movesCheckOut ? [at] : []),
      ...entries.filter((e) => e.punchType === 'check_out').flatMap((e) => [e.at, e.effectiveAt]),
    ];
    await this.closes.refuseClosedForThekedar(siteId, times, checkOuts, this.maxShiftMs);
  }

  /**
   * The read model brought up to the chain's head for the rules (`ensureReadable`), within the
   * correction's bounds: a lag of more than TIMESHEET_CORRECTION_MAX_LAG links is refused at
   * once, and a wait past `deadline` (TIMESHEET_CORRECTION_WAIT_MS from its arrival: the
   * projection's queue, a slow store) is cut short, each as 503 `timesheets_catching_up` with
   * Retry-After. Nothing is appended then (the rules were not checked); the catch-up goes on in
   * the background (one per site), so the client's retry finds the model nearer. A correction
   * used to wait for the whole catch-up: over 300 s on a replica whose model lagged under load.
   */
  private async readable(siteId: string, deadline: number): Promise<ReadBasis> {
    const lag = await this.projector.lagOf(siteId);
    if (lag > this.maxLag) {
      // one catch-up queued per site, however many corrections are refused meanwhile
      if (!this.catchingUp.has(siteId)) {
        this.catchUpLater(siteId, this.projector.ensureReadable(siteId));
      }
      this.logger.warn(
        { siteId, lag, maxLag: this.maxLag },
        'Timesheet correction refused: the read model is too far behind the ledger',
      );
      // about a second a thousand links (SQLite's catch-up is faster; MongoDB's slower)
      throw catchingUpError(lag / 1000, `${lag} links behind`);
    }
    const ready = this.projector.ensureReadable(siteId);
    // a correction that waited its turn behind the site's earlier ones may be past its deadline
    // with the model current: it still gets a moment for the reads that tell so (on MongoDB
    // they are store round trips, which a zero wait would always lose)
    const waitMs = Math.max(deadline - Date.now(), Math.min(this.waitMs, MIN_READ_WAIT_MS));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), waitMs);
    });
    try {
      const basis = await Promise.race([ready, late]);
      if (basis !== 'late') return basis;
    } finally {
      clearTimeout(timer);
    }
    this.catchUpLater(siteId, ready);
    this.logger.warn(
      { siteId, lag, waitMs: this.waitMs },
      'Timesheet correction refused: the read model did not catch up in time',
    );
    // the lag read before the wait says how long the rest may take (about a second a thousand
    // links); a lag of a few links means the queue or the store was slow: retry soon
    throw catchingUpError(lag / 1000, `not within ${this.waitMs} ms`);
  }

  /** Keeps a catch-up a refused correction started (or cut short) running, one per site. */
  private catchUpLater(siteId: string, work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      (error: unknown) => {
        // a rebuild's 503 and the like: the next read or correction catches up again
        this.logger.warn(
          { err: error as Error, siteId },
          'Timesheet catch-up in the background failed',
        );
      },
    );
    if (this.catchingUp.has(siteId)) return;
    const done = settled.finally(() => this.catchingUp.delete(siteId));
    this.catchingUp.set(siteId, done);
  }

  /**
   * The target's ledger link, checked as the read model reads the chain
   * (`LedgerService.checkedLink`): hashed again from its stored texts, chained to the link before
   * it, and tagged (past the last checkpoint) or in the signed tree (before it). The correction
   * pins the target by this recordHash and decides on its data (`at`, its worker): a link
   * rewritten in the store (its time or worker changed, its recordHash recomputed) is refused
   * 503 `timesheets_tampered`, nothing appended by this request (a correction already appended
   * under its correctionId stays: the check comes before a retry is recognized), until an operator restores the store. A link
   * tagged under a store-MAC key this server does not hold (a rolling STORE_MAC_KEY rotation:
   * another replica tags under the new key) is 503 `timesheets_key_unavailable`, retryable, for
   * LINK_KEY_WAIT_MS from the first correction of that (site, seq) in this process (`keyWaits`),
   * then `timesheets_tampered` as any link that fails its check (a rotation's link is sealed by
   * then, and checked against the signed tree).
   * 404 `entry_not_found` when the site has no link at that seq. The check changes nothing: the
   * site's syncs are not refused over a correction's target, nor the read model's stop logged.
   */
  private async checkedTarget(siteId: string, seq: number): Promise<AttendanceLog> {
    const checked = await this.ledger.checkedLink(siteId, seq);
    if (!checked) {
      throw new TimesheetsError('entry_not_found', 'This site has no ledger entry with that seq');
    }
    // one entry per (site, seq): LinkKeyWaits keys its entries by the string it is given
    const waited = `${siteId}/${seq}`;
    if (checked.link) {
      this.keyWaits.passed(waited, seq);
      return checked.link;
    }
    const waits =
      checked.fault === 'retired_key' &&
      this.keyWaits.wait(waited, seq, this.clock.now().getTime()).waits;
    this.logger.warn(
      {
        siteId,
        targetSeq: seq,
        reason: checked.fault,
        ...(checked.fault === 'retired_key' && !waits ? { waitedMs: LINK_KEY_WAIT_MS } : {}),
      },
      "Timesheet correction refused: its target's ledger link fails its check",
    );
    if (waits) {
      const error = new TimesheetsError(
        'timesheets_key_unavailable',
        "The target's ledger entry is tagged under a store key this server does not hold (a key rotation in progress on another server): retry; this request appended nothing, and a correction already sent with this correctionId stays",
      );
      error.retryAfterSeconds = KEY_UNAVAILABLE_RETRY_SECONDS;
      throw error;
    }
    throw new TimesheetsError(
      'timesheets_tampered',
      "The target's ledger entry is not the one the server wrote (changed outside the server); this request appended nothing, and a correction already sent with this correctionId stays",
    );
  }

  /**
   * Whether any link of (fromSeq, toSeq] of the site's chain is an entry of the worker in the
   * timesheets (a punch, or a correction of one of its entries): what its rules read. Read
   * unchecked (`readChain`): it decides a re-check only. The acknowledgements' `daySeqs`
   * (`acknowledgementsAmong`) are read unchecked too: a known gap (docs/architecture.md).
   */
  private async workerMoved(
    siteId: string,
    workerId: string,
    fromSeq: number,
    toSeq: number,
  ): Promise<boolean> {
    for (let after = fromSeq; after < toSeq;) {
      const links = await this.ledger.readChain(siteId, after, Math.min(MOVED_PAGE, toSeq - after));
      if (links.length === 0) return true; // not readable yet: checked again, never assumed
      for (const link of links) {
        if (link.seq > toSeq) return false;
        if (projectLink(link)?.workerId === workerId) return true;
      }
      after = links[links.length - 1].seq;
    }
    return false;
  }

  /** The answer to a correctionId this site's chain holds already (undefined when none). */
  private async retryOf(
    siteId: string,
    correctionId: string | undefined,
    data: CorrectionData,
  ): Promise<CorrectionResponse | undefined> {
    if (correctionId === undefined) return undefined;
    // a correction is an entry no device made: its id is looked up among those only
    const stored = await this.ledger.findLink(siteId, {
      packetId: correctionId,
      deviceId: NO_DEVICE,
    });
    return stored ? this.duplicate(stored, data) : undefined;
  }

  /** 200 `duplicate` for the same correction sent again, 409 for its id reused for another. */
  private duplicate(stored: AttendanceLog, data: CorrectionData): CorrectionResponse {
    if (!sameCorrection(stored.data, data)) {
      throw new TimesheetsError(
        'correction_id_conflict',
        'correctionId is already used by another entry',
      );
    }
    this.logger.log(
      { siteId: stored.siteId, seq: stored.seq, correctionId: data.packetId, action: data.action },
      'Timesheet correction duplicate',
    );
    return {
      correctionId: data.packetId,
      status: 'duplicate',
      siteId: stored.siteId,
      seq: stored.seq,
      recordHash: stored.recordHash,
    };
  }

  /**
   * Checks the action and its time (epoch ms) against the target's current state. An
   * acknowledgement's check answers the seqs of the day it acknowledges (`daySeqs`).
   */
  private async checkAction(
    action: CorrectionAction,
    at: number | undefined,
    target: TimesheetEntry,
    now: Date,
  ): Promise<number[] | undefined> {
    if (at !== undefined && at > now.getTime() + this.skewMs) {
      throw new TimesheetsError('time_in_future', 'at is in the future');
    }
    switch (action) {
      case 'void':
        if (at !== undefined) throw new TimesheetsError('unexpected_time', 'void takes no at');
        if (target.voided)
          throw new TimesheetsError('already_voided', 'This entry is already voided');
        // a punch voided may re-pair its neighbours around an added shift (a void of a move
        // or of a void is not simulated here: a day it makes overlap is flagged)
        if (target.punchType === undefined) return undefined;
        await this.checkKeepsShiftsApart(
          target.siteId,
          target.workerId,
          target.effectiveAt!,
          target.effectiveAt!,
          (e) => (e.seq === target.seq ? { ...e, voided: true } : e),
        );
        return undefined;
      case 'add_check_out':
      case 'add_check_in':
        await this.checkAdded(action, at, target);
        return undefined;
      case 'move':
        if (target.punchType === undefined || isAddedShift(target)) {
          throw new TimesheetsError(
            'not_a_punch',
            'move targets a punch or an added check-out or check-in (an added shift is voided and added again)',
          );
        }
        if (target.voided) throw new TimesheetsError('target_voided', 'This entry is voided');
        if (at === undefined) throw new TimesheetsError('time_required', 'move needs at');
        // from the time recorded, not the current one: moves cannot walk a punch away
        if (Math.abs(at - target.at!) > this.maxShiftMs) {
          throw new TimesheetsError(
            'move_out_of_range',
            'at must be within TIMESHEET_MAX_SHIFT_HOURS of the time the entry was recorded at',
          );
        }
        await this.checkMoveKeepsShifts(target, at);
        await this.checkKeepsShiftsApart(
          target.siteId,
          target.workerId,
          target.effectiveAt!,
          at,
          (e) => (e.seq === target.seq ? { ...e, effectiveAt: at } : e),
        );
        return undefined;
      case 'acknowledge_over_max_hours':
        if (at !== undefined) {
          throw new TimesheetsError('unexpected_time', 'acknowledge_over_max_hours takes no at');
        }
        return this.checkAcknowledge(target);
      case 'add_shift':
        // a target given to add_shift is refused by the DTO
        throw new TimesheetsError('not_correctable', 'add_shift corrects no entry');
    }
  }

  /**
   * acknowledge_over_max_hours: the target is the entry its day's `over_max_hours` flag names
   * (the shift that takes the day past the longest shift: a check-in, an added check-in or an
   * added shift), as the read model holds the day now, and the flag is not acknowledged
   * already (`overMaxHoursAcknowledgement`: a live acknowledgement of the day as it is now).
   * 422 `not_over_max_hours`, 409 `already_acknowledged`. Answers the day's seqs, which the
   * acknowledgement records (`daySeqs`).
   */
  private async checkAcknowledge(target: TimesheetEntry): Promise<number[]> {
    const notFlagged = (named?: number) =>
      new TimesheetsError(
        'not_over_max_hours',
        named === undefined
          ? "This entry's day is not flagged over_max_hours: there is nothing to acknowledge"
          : `This entry does not name its day's over_max_hours flag: acknowledge seq ${named}, the shift that takes the day past TIMESHEET_MAX_SHIFT_HOURS`,
      );
    if (target.punchType === undefined || target.voided) throw notFlagged();
    const zone = await this.projector.zoneOf(target.siteId);
    const date = localDay(target.effectiveAt!, zone);
    const {
      days: [day],
    } = await this.projector.readDays({
      siteId: target.siteId,
      fromDay: date,
      toDay: date,
      workerIds: [target.workerId],
      limit: 1,
    });
    const flag = day?.flags.find((f) => f.type === 'over_max_hours');
    if (!flag || flag.seq !== target.seq) throw notFlagged(flag?.seq);
    const acks = await acknowledgementsAmong(
      this.ledger,
      target.siteId,
      await this.repo.findCorrectionsOf(target.siteId, [target.seq]),
    );
    if (overMaxHoursAcknowledgement(day, acks)) {
      throw new TimesheetsError(
        'already_acknowledged',
        "This day's over_max_hours is acknowledged already (void the acknowledgement to undo it)",
      );
    }
    return day.seqs;
  }

  /**
   * add_shift: the worker exists (404 worker_not_found), the shift begins on or after the
   * site's local day TIMESHEET_BACKFILL_DAYS before the clock's, from its start (422
   * shift_too_old: a mistyped year is not written into the immutable ledger; whole days, so
   * what one payroll read shows is recorded whatever the time of day), the worker was active then (as a synced punch is judged) and
   * the site is the worker's for that time as a record made afterwards is judged
   * (`WorkerStanding.backfillSiteAt`): a site it had then, or one given since (a site added
   * later reaches back as the sites of its creation do: the window bounds both); a site it was
   * moved off by then, or never had, is 422 worker_not_at_site.
   */
  private async checkWorkerOfSite(siteId: string, workerId: string, atMs: number): Promise<void> {
    const worker = await this.workforce.findWorker(workerId);
    if (!worker) throw new TimesheetsError('worker_not_found', 'No worker has this workerId');
    if (worker.integrity === 'tampered') {
      // its status and sites are not the server's: no shift is judged by them
      throw new TimesheetsError(
        'worker_tampered',
        "The worker's stored record was changed outside the server: no shift is added for it until an operator restores it",
      );
    }
    const zone = await this.projector.zoneOf(siteId);
    // calendar days in the site's zone: the clock less 62 × 24 h fell a day off across a DST
    // change within the hour of midnight (review LOW)
    const earliest = startOfLocalDay(
      nextDay(localDay(this.clock.now().getTime(), zone), -this.backfillDays),
      zone,
    );
    if (atMs < earliest) {
      throw new TimesheetsError(
        'shift_too_old',
        `The shift begins at ${new Date(atMs).toISOString()}, more than TIMESHEET_BACKFILL_DAYS (${this.backfillDays}) days ago: a shift is recorded from ${new Date(earliest).toISOString()} on (is the date mistyped?)`,
      );
    }
    const standing = WorkerStanding.of(
      { inactive: worker.status === 'inactive' },
      await this.workforce.eventsOf(worker.id),
    );
    if (!standing.activeAt(atMs)) {
      throw new TimesheetsError(
        'worker_not_at_site',
        'The worker was deactivated when this shift began: a shift is recorded while the worker was active',
      );
    }
    const site = standing.backfillSiteAt(siteId, atMs, worker.siteIds);
    if (site.kind === 'removed') {
      throw new TimesheetsError(
        'worker_not_at_site',
        `The worker was moved off this site at ${new Date(site.atMs).toISOString()}, before this shift began: a shift is recorded at a site of the worker`,
      );
    }
    if (site.kind === 'never') {
      throw new TimesheetsError(
        'worker_not_at_site',
        'The worker was never assigned to this site: a shift is recorded at a site of the worker (give the worker the site first)',
      );
    }
  }

  /** The longest shift, as the messages name it (`16 h`). */
  private maxShiftHoursText(): string {
    return formatShiftLength(this.maxShiftMs);
  }

  /**
   * What a manager does with a real shift longer than the longest shift: one knob, which moves
   * the pairing of punches, the overlap check and the recompute windows together.
   */
  private longerShiftAdvice(): string {
    return `A real shift longer than ${this.maxShiftHoursText()} is not recorded as one: if such shifts are real at this site, raise TIMESHEET_MAX_SHIFT_HOURS (up to 36; it moves the pairing of punches, the overlap check and the recompute windows together); else record it as two shifts, each at most ${this.maxShiftHoursText()}`;
  }

  /**
   * add_shift records a whole shift (a check-in `at` and a check-out `until`, epoch ms) of a
   * worker with no punch to attach it to: lost punches, a shift recorded on a wrong day (its
   * punches voided), history older than the offline limit or from a paper register. Bounded as
   * a shift of the day model is: the check-out after the check-in and at most the longest
   * shift after it, not in the future, and overlapping none of the worker's shifts or punches
   * at this site (`shift_overlap`: the hours would count twice; void those first).
   */
  private async checkShift(
    siteId: string,
    workerId: string,
    at: number | undefined,
    until: number | undefined,
    now: Date,
  ): Promise<void> {
    if (at === undefined || until === undefined) {
      throw new TimesheetsError('time_required', 'add_shift needs at and until');
    }
    if (until > now.getTime() + this.skewMs) {
      throw new TimesheetsError('time_in_future', 'until is in the future');
    }
    // at most the longest shift: the overlap check and the projection's recompute windows reach
    // back TIMESHEET_MAX_SHIFT_HOURS (a longer added shift would be paid twice, unflagged)
    if (until <= at || until - at > this.maxShiftMs) {
      throw new TimesheetsError(
        'shift_out_of_range',
        `until must be after at and at most TIMESHEET_MAX_SHIFT_HOURS (${this.maxShiftHoursText()}) after it. ${this.longerShiftAdvice()}`,
      );
    }
    const shift: TimesheetEntry = {
      siteId,
      seq: Number.MAX_SAFE_INTEGER,
      workerId,
      packetId: '',
      kind: 'correction',
      action: 'add_shift',
      punchType: 'shift',
      at,
      effectiveAt: at,
      outAt: until,
      voided: false,
      correctedBy: [],
      lowTrust: false,
    };
    await this.checkKeepsShiftsApart(siteId, workerId, at, until, undefined, shift);
  }

  /**
   * No correction may make an added shift overlap another shift or punch of the worker
   * (`shiftOverlaps`): an added shift pairs with no punch, so the overlap would count the same
   * hours twice. The worker's punch-like entries around the times the correction touches
   * (`fromAt`..`toAt`, either order) are read, changed by `change` and joined by `added`, and
   * any overlap the change makes that was not there before is refused (422 `shift_overlap`).
   * The margin is three longest shifts: the spans that can reach the change, and the pairing
   * of the punches that make them.
   */
  private async checkKeepsShiftsApart(
    siteId: string,
    workerId: string,
    fromAt: number,
    toAt: number,
    change?: (e: TimesheetEntry) => TimesheetEntry,
    added?: TimesheetEntry,
  ): Promise<void> {
    const margin = 3 * this.maxShiftMs;
    const near = await this.repo.listPunches(
      siteId,
      workerId,
      Math.min(fromAt, toAt) - margin,
      Math.max(fromAt, toAt) + margin + 1,
    );
    const key = ([a, b]: [number, number]) => `${a}:${b}`;
    const before = new Set(shiftOverlaps(near, this.maxShiftMs).map(key));
    const changed = change ? near.map(change) : near;
    const after = shiftOverlaps(added ? [...changed, added] : changed, this.maxShiftMs);
    const made = after.filter((pair) => !before.has(key(pair)));
    if (made.length === 0) return;
    const named = [...new Set(made.flat())]
      .filter((seq) => seq !== Number.MAX_SAFE_INTEGER)
      .sort((a, b) => a - b);
    throw new TimesheetsError(
      'shift_overlap',
      added
        ? `the shift overlaps the worker's shift or punch at seq ${named.join(', ')} at this site: void it first, or record the shift beside it`
        : `the correction would make an added shift overlap another shift or punch (seq ${named.join(', ')}): void the added shift first`,
    );
  }

  /**
   * A move may fix a punch's time but not take a shift from another punch: every punch of the
   * worker other than the moved one that has a partner (as the projection pairs them) keeps
   * one after the move (`movePartnersLost`): a check-out moved before its check-in, or a
   * check-in after its check-out, leaves the partner alone. A move may re-pair (a check-in
   * moved before an open check-in leaves it open and gives its check-out to the other) and
   * make pairs (a punch recorded at a wrong time moved next to its partner).
   */
  private async checkMoveKeepsShifts(target: TimesheetEntry, at: number): Promise<void> {
    const { fromMs, toMs } = moveWindow(target.effectiveAt!, at, this.maxShiftMs);
    const near = (await this.repo.listPunches(target.siteId, target.workerId, fromMs, toMs)).filter(
      (e) => !isAddedShift(e), // paired with nothing (checkKeepsShiftsApart)
    );
    const lost = movePartnersLost(near, target.seq, at, this.maxShiftMs);
    if (lost.length === 0) return;
    // a shift longer than the longest one is not paired: name the limit, not the order
    const tooLong = moveShiftsTooLong(near, target.seq, at, this.maxShiftMs, lost);
    const unordered = lost.filter((s) => !tooLong.some((t) => t.seq === s));
    const why = [
      ...tooLong.map(
        (t) =>
          `the shift from seq ${t.inSeq} to seq ${t.outSeq} would last ${formatShiftLength(t.ms)}, more than TIMESHEET_MAX_SHIFT_HOURS (${formatShiftLength(this.maxShiftMs)}), so its punches would no longer pair: keep the shift within ${formatShiftLength(this.maxShiftMs)}, and record the time beyond it as another shift (add_shift)`,
      ),
      ...(unordered.length > 0
        ? [
            `the move would leave ${unordered.length === 1 ? 'a punch' : `${unordered.length} punches`} (seq ${unordered.join(', ')}) without the partner it has: move a check-out after its check-in and a check-in before its check-out`,
          ]
        : []),
    ];
    throw new TimesheetsError('move_breaks_shift', why.join('; '));
  }

  /**
   * add_check_out closes a check-in, add_check_in opens a check-out. The target must be a live
   * punch of that type without a partner (as the projection pairs them: the live punch after
   * a check-in, before a check-out, of the other type and within the longest shift; or an
   * added one), and `at` must fall on its open side, within the longest shift and before the
   * worker's next live punch on that side, so that the projection pairs the two.
   */
  private async checkAdded(
    action: 'add_check_out' | 'add_check_in',
    at: number | undefined,
    target: TimesheetEntry,
  ): Promise<void> {
    const closing = action === 'add_check_out';
    if (target.kind !== 'punch' || target.punchType !== (closing ? 'check_in' : 'check_out')) {
      throw closing
        ? new TimesheetsError('not_a_check_in', 'add_check_out targets a check-in punch')
        : new TimesheetsError('not_a_check_out', 'add_check_in targets a check-out punch');
    }
    if (target.voided) throw new TimesheetsError('target_voided', 'This punch is voided');
    if (at === undefined) throw new TimesheetsError('time_required', `${action} needs at`);
    const t = target.effectiveAt!;
    const near = await this.repo.listPunches(
      target.siteId,
      target.workerId,
      t - this.maxShiftMs,
      t + this.maxShiftMs + 1,
    );
    const { before, after } = liveNeighbours(near, target.seq);
    const side = closing ? after : before;
    const paired =
      side !== undefined &&
      side.punchType !== target.punchType &&
      Math.abs(side.effectiveAt! - t) <= this.maxShiftMs;
    const added = (await this.repo.findCorrectionsOf(target.siteId, [target.seq])).some(
      (c) => c.action === action && !c.voided,
    );
    if (paired || added) {
      throw closing
        ? new TimesheetsError('already_checked_out', 'This check-in already has a check-out')
        : new TimesheetsError('already_checked_in', 'This check-out already has a check-in');
    }
    const span = closing ? at - t : t - at;
    const beforeSide =
      side === undefined || (closing ? at < side.effectiveAt! : at > side.effectiveAt!);
    if (span <= 0 || span > this.maxShiftMs || !beforeSide) {
      throw closing
        ? new TimesheetsError(
            'check_out_out_of_range',
            span > this.maxShiftMs
              ? `at is ${formatShiftLength(span)} after the check-in, more than TIMESHEET_MAX_SHIFT_HOURS (${this.maxShiftHoursText()}): punches do not pair that far apart. ${this.longerShiftAdvice()}`
              : `at must be after the check-in, within TIMESHEET_MAX_SHIFT_HOURS (${this.maxShiftHoursText()}) of it and before the next punch`,
          )
        : new TimesheetsError(
            'check_in_out_of_range',
            'at must be before the check-out, within TIMESHEET_MAX_SHIFT_HOURS of it and after the previous punch',
          );
    }
    const punch: TimesheetEntry = {
      ...target,
      seq: Number.MAX_SAFE_INTEGER,
      kind: 'correction',
      action,
      targetSeq: target.seq,
      punchType: closing ? 'check_out' : 'check_in',
      at,
      effectiveAt: at,
      voided: false,
      correctedBy: [],
    };
    await this.checkKeepsShiftsApart(target.siteId, target.workerId, t, at, undefined, punch);
  }
}

function authorOf(actor: TimesheetActor): CorrectionAuthor {
  if (actor.kind === 'key') return { kind: 'admin', actor: actorOf(actor.principal) };
  const s = actor.signed;
  return {
    kind: 'thekedar',
    thekedarId: s.thekedarId,
    deviceId: s.deviceId,
    requestTimestamp: s.timestamp,
    signature: s.signature,
  };
}

/** A retry of the same correction (its author's signature may differ). */
function sameCorrection(stored: unknown, fresh: CorrectionData): boolean {
  // `daySeqs` is derived by the server from the day when checked, not sent
  const { by: _a, daySeqs: _c, ...a } = stored as CorrectionData;
  const { by: _b, daySeqs: _d, ...b } = fresh;
  return jcs(a) === jcs(b);
}
