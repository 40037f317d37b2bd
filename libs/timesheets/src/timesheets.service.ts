import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import {
  CommonError,
  DAY_PATTERN,
  daysBetween,
  localIso,
  nextDay,
  OBJECT_ID_PATTERN,
  startOfLocalDay,
} from '@app/common';
import { Worker, WorkforceService } from '@app/workforce';
import { refuseTamperedSite } from './site-integrity';
import { FraudService } from '@app/fraud';
import { LedgerService } from '@app/offline-sync';
import { CsvPerson } from './domain/timesheet-csv';
import { acknowledgementsAmong } from './acknowledgements';
import {
  Acknowledgement,
  acknowledgeOverMaxHours,
  DayFlag,
  isFlagged,
  overMaxHoursAcknowledgement,
  TimesheetDay,
} from './domain/timesheet-day';
import { PayrollWorkerView, TimesheetDayView } from './dto/timesheet.dto';
import { DayQuery, TimesheetRepository } from './infrastructure/persistence/timesheet.repository';
import { TimesheetActor } from './timesheet-access.guard';
import { ReadBasis, TimesheetProjector } from './timesheet-projector.service';
import { timesheetsConfig, TimesheetsSettings } from './timesheets.config';
import { TimesheetsError } from './timesheets.errors';

const PAGE = 500;

export interface PeriodRequest {
  siteId: string;
  from: string;
  to: string;
  workerId?: string;
}

/** A checked period: the site's zone and the workers the caller may see (all when absent). */
export interface Scope {
  siteId: string;
  timeZone: string;
  from: string;
  to: string;
  workerIds?: string[];
  /** The request's `workerId` filter (a page's cursor is bound to it, with the site and period). */
  workerId?: string;
  /** The read model's state the scope was checked at: every page read checks it again. */
  basis: ReadBasis;
  /**
   * The sites whose ids the caller may see in a flag's `detail` (`overlaps_other_site` names
   * the other site): a thekedar's own sites. Absent: every site (an admin or auditor key).
   */
  sitesShown?: ReadonlySet<string>;
}

/**
 * Reads of the timesheet read model: pages of worker-days, a streamed CSV and a payroll
 * summary. Fraud flags are joined per page from the fraud log (by the packets of the days),
 * so a flag raised after the punch was projected still shows.
 */
@Injectable()
export class TimesheetsService {
  private readonly maxPeriodDays: number;
  private readonly pageMaxWorkers: number;

  constructor(
    private readonly repo: TimesheetRepository,
    private readonly projector: TimesheetProjector,
    private readonly workforce: WorkforceService,
    private readonly fraud: FraudService,
    private readonly ledger: LedgerService,
    @Inject(timesheetsConfig.KEY) timesheetsSettings: TimesheetsSettings,
  ) {
    this.maxPeriodDays = timesheetsSettings.maxPeriodDays;
    this.pageMaxWorkers = timesheetsSettings.pageMaxWorkers;
  }

  /** Checks the period, the site and the caller's scope; brings the read model up to date. */
  async scope(request: PeriodRequest, actor: TimesheetActor): Promise<Scope> {
    const span = daysBetween(request.from, request.to);
    // PeriodQuery refuses an inverted period (`@NotBefore`); a caller of its own is held to it too
    if (span < 0) throw new CommonError('invalid_period', 'to must not be before from');
    if (span + 1 > this.maxPeriodDays) {
      throw new TimesheetsError(
        'period_too_long',
        `A period covers at most ${this.maxPeriodDays} days (TIMESHEET_MAX_PERIOD_DAYS)`,
      );
    }
    const sites = await this.workforce.findSites([request.siteId]);
    if (sites.length === 0) {
      throw new TimesheetsError('site_not_found', 'No site has this siteId');
    }
    refuseTamperedSite(this.workforce, sites, 'a timesheet read');
    let workerIds = request.workerId ? [request.workerId] : undefined;
    let sitesShown: ReadonlySet<string> | undefined;
    if (actor.kind === 'thekedar') {
      const crew = await this.workforce.workerIdsOfThekedar(actor.signed.thekedarId);
      if (request.workerId && !crew.includes(request.workerId)) {
        throw new TimesheetsError(
          'worker_not_in_crew',
          'A thekedar sees only the workers it onboarded',
        );
      }
      workerIds ??= crew;
      // read now, as the guard read them: a site taken from the thekedar is hidden at once
      // (403 thekedar_tampered when its record, its sites, was changed outside the server)
      const thekedar = await this.workforce.actingThekedar(actor.signed.thekedarId);
      sitesShown = new Set(thekedar?.siteIds ?? []);
    }
    if (request.workerId) await this.refuseWorkerNotOfSite(request.siteId, request.workerId);
    // 503 `timesheets_rebuilding` while a rebuild holds the site (its read model is partial)
    const basis = await this.projector.ensureReadable(request.siteId);
    return {
      siteId: request.siteId,
      timeZone: await this.projector.zoneOf(request.siteId),
      from: request.from,
      to: request.to,
      workerIds,
      ...(request.workerId ? { workerId: request.workerId } : {}),
      basis,
      ...(sitesShown ? { sitesShown } : {}),
    };
  }

  /**
   * 404 `worker_not_found` for a `workerId` filter naming no worker, or a worker this site was
   * never one of (not among its sites now nor in any site change it went through): an answer
   * of no days read as "nobody worked" for a mistyped id or another site's worker. A worker
   * moved off the site keeps its days here and is read; so is one whose sites before its first
   * recorded change are unknown (a change written before `previousSiteIds` was kept), and one
   * whose record is tampered (its sites are not the server's; its days are the ledger's).
   */
  private async refuseWorkerNotOfSite(siteId: string, workerId: string): Promise<void> {
    const worker = await this.workforce.findWorker(workerId);
    if (!worker) throw new TimesheetsError('worker_not_found', 'No worker has this workerId');
    if (!(await this.everOfSite(worker, siteId))) {
      throw new TimesheetsError(
        'worker_not_found',
        'No worker of this site has this workerId (it was never assigned to the site)',
      );
    }
  }

  /**
   * Whether the site is one of the worker's, now or in any site change it went through (as
   * `refuseWorkerNotOfSite` reads it): a worker never assigned to the site is no row of its
   * payroll, even when its phone signed a punch for the site (refused `site_not_allowed`; the
   * fraud events keep that punch). A worker whose record is tampered is taken as of any site (its
   * sites are not the server's): the payroll then answers 503 `worker_tampered` naming it
   * (`peopleOfIds`) rather than leave out a worker of the site behind an editor's change.
   */
  private async everOfSite(worker: Worker, siteId: string): Promise<boolean> {
    if (worker.integrity === 'tampered' || worker.siteIds.includes(siteId)) return true;
    const changes = (await this.workforce.eventsOf(worker.id)).filter(
      (e) => e.action === 'sites_changed',
    );
    return (
      (changes.length > 0 && changes[0].previousSiteIds === undefined) ||
      changes.some((e) => e.siteIds?.includes(siteId) || e.previousSiteIds?.includes(siteId))
    );
  }

  async page(
    scope: Scope,
    limit: number,
    cursor?: string,
  ): Promise<{ days: TimesheetDayView[]; nextCursor?: string }> {
    const { days, next } = await this.projector.readDays({
      ...this.query(scope),
      after: decodeCursor(cursor, scope),
      limit,
    });
    // a rebuild that started since the scope was checked may have cleared what was just read
    await this.projector.assertUnchanged(scope.siteId, scope.basis);
    // a page may be short (even empty) and still have a next one: it stopped after visiting
    // the most workers a page visits (see TimesheetPageView.nextCursor)
    return {
      days: await this.views(scope, days),
      ...(next ? { nextCursor: encodeCursor(next.workerId, next.day, scope) } : {}),
    };
  }

  /**
   * Every day of the scope, a page at a time (memory bounded by the page, not the period),
   * following each page's `next`: a short page is not the last unless it has none.
   */
  async *walk(scope: Scope): AsyncGenerator<TimesheetDayView[]> {
    let after: DayQuery['after'];
    do {
      const page = await this.projector.readDays({ ...this.query(scope), after, limit: PAGE });
      // before the page is used: a CSV already streaming is cut off (no partial numbers)
      await this.projector.assertUnchanged(scope.siteId, scope.basis);
      if (page.days.length > 0) yield this.views(scope, page.days);
      after = page.next;
    } while (after);
  }

  /**
   * Name and phone of the workers of a page of days (one read per page: the days come in
   * worker order, so a page holds few workers), for the CSV's columns and the payroll's rows.
   */
  async peopleOf(days: TimesheetDayView[]): Promise<Map<string, CsvPerson>> {
    return this.peopleOfIds([...new Set(days.map((d) => d.workerId))]);
  }

  /** Name and phone of workers (503 `worker_tampered` as an export's page). */
  async peopleOfIds(ids: string[]): Promise<Map<string, CsvPerson>> {
    if (ids.length === 0) return new Map();
    const workers = await this.workforce.findWorkers(ids);
    refuseTampered(workers, ids);
    return new Map(workers.map((w) => [w.id, { name: w.name, phone: w.phone }]));
  }

  /**
   * The period per worker, with each worker's name and phone as its record says now (as the
   * CSV's): one read of the workers new to each page of days, never one read per worker.
   */
  async payroll(scope: Scope): Promise<PayrollWorkerView[]> {
    const byWorker = new Map<string, PayrollWorkerView>();
    const row = (workerId: string, person?: CsvPerson): PayrollWorkerView => ({
      workerId,
      ...(person ? { name: person.name, phone: person.phone } : {}),
      daysPresent: 0,
      hours: 0,
      workedSeconds: 0,
      flaggedDays: 0,
      correctedDays: 0,
      refusedPunches: 0,
    });
    for await (const page of this.walk(scope)) {
      const newcomers = page.filter((d) => !byWorker.has(d.workerId));
      const people =
        newcomers.length > 0 ? await this.peopleOf(newcomers) : new Map<string, CsvPerson>();
      for (const d of page) {
        let w = byWorker.get(d.workerId);
        if (!w) {
          w = row(d.workerId, people.get(d.workerId));
          byWorker.set(d.workerId, w);
        }
        if (d.shifts.length > 0) w.daysPresent += 1;
        w.workedSeconds += d.workedSeconds;
        if (d.flagged) w.flaggedDays += 1;
        if (d.corrected) w.correctedDays += 1;
      }
    }
    const refused = await this.refusedPunchesOf(scope);
    const unseen = [...refused.keys()].filter((id) => !byWorker.has(id));
    // a worker whose every punch of the period was refused has no day: a row of its own (a
    // thekedar's phone's punches are refused too, but a thekedar is no worker of the payroll),
    // when the site is or was one of its sites: a phone of a worker never assigned to the site
    // that signs a punch for it (refused `site_not_allowed`) does not put a stranger into the
    // site's payroll (its fraud event names the punch). One read of the workers' changes per
    // such worker only, none for the workers with days.
    const newcomers: string[] = [];
    for (const w of unseen.length > 0 ? await this.workforce.findWorkers(unseen) : []) {
      if (await this.everOfSite(w, scope.siteId)) newcomers.push(w.id);
    }
    const people = await this.peopleOfIds(newcomers);
    for (const id of newcomers) byWorker.set(id, row(id, people.get(id)));
    for (const [id, count] of refused) {
      const w = byWorker.get(id);
      if (w) w.refusedPunches = count;
    }
    return [...byWorker.values()]
      .sort((a, b) => (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0))
      .map((w) => ({ ...w, hours: hoursOf(w.workedSeconds) }));
  }

  /**
   * Per worker of the scope, its punches at the site refused at sync whose claimed time is in
   * the period (the site's local days `from` to `to`): the fraud events that name a refused
   * punch (PUNCH_REFUSAL_TYPES), one range read of an index of those alone. Only events whose
   * tag verifies count: one written or changed outside the server is not a punch of the
   * worker's (the read notes it for /health, the metric and the log, as every fraud read does).
   * A review does not change the count: a refused punch stays unpaid whatever the decision.
   * A punch counts once (its device and packetId), however often and for whatever reasons it
   * was refused, and not at all once its packet is in the ledger (accepted when sent again).
   */
  private async refusedPunchesOf(scope: Scope): Promise<Map<string, number>> {
    const from = new Date(startOfLocalDay(scope.from, scope.timeZone));
    const to = new Date(startOfLocalDay(nextDay(scope.to), scope.timeZone));
    const inScope = (id: string) => scope.workerIds === undefined || scope.workerIds.includes(id);
    // one punch is one packet (its device and packetId): refused twice, for two reasons or
    // not, it counts once
    const punches = new Map<string, { workerId: string; deviceId: string; packetId: string }>();
    for (const e of await this.fraud.refusedPunches(scope.siteId, from, to)) {
      if (e.integrity !== 'verified' || e.workerId === undefined || !inScope(e.workerId)) continue;
      if (e.deviceId === undefined || e.packetId === undefined) continue;
      const key = `${e.deviceId}\u0000${e.packetId}`;
      if (!punches.has(key))
        punches.set(key, { workerId: e.workerId, deviceId: e.deviceId, packetId: e.packetId });
    }
    const refused = [...punches.values()];
    // a refusal that is not final (timestamp_in_future: sent again once the server's clock
    // caught up) whose packet the ledger holds since is a punch in the hours: one read for all
    const links = await this.ledger.linksOf(
      refused.map((r) => ({ deviceId: r.deviceId, packetId: r.packetId })),
    );
    const counts = new Map<string, number>();
    refused.forEach((r, i) => {
      if (links[i] !== undefined) return;
      counts.set(r.workerId, (counts.get(r.workerId) ?? 0) + 1);
    });
    return counts;
  }

  /**
   * The `acknowledge_over_max_hours` corrections (voided too) of the entries that the days'
   * `over_max_hours` flags name, read when the days are read (as fraud flags are): stored days
   * need no recompute for them. Undefined when no day has such a flag (no read).
   */
  private async acknowledgementsOf(
    siteId: string,
    days: TimesheetDay[],
  ): Promise<Acknowledgement[] | undefined> {
    const named = days.flatMap((d) =>
      d.flags.filter((f) => f.type === 'over_max_hours').map((f) => f.seq),
    );
    if (named.length === 0) return undefined;
    // with the day each live one acknowledged (one ledger read for all)
    return acknowledgementsAmong(
      this.ledger,
      siteId,
      await this.repo.findCorrectionsOf(siteId, named),
    );
  }

  private query(scope: Scope): Omit<DayQuery, 'limit' | 'after'> {
    return {
      siteId: scope.siteId,
      fromDay: scope.from,
      toDay: scope.to,
      workerIds: scope.workerIds,
      maxWorkers: this.pageMaxWorkers,
    };
  }

  private async views(scope: Scope, days: TimesheetDay[]): Promise<TimesheetDayView[]> {
    // a packetId is unique per device, not across the ledger: another worker's packet (or
    // rejected packet) with the same packetId is not this punch, nor is the same worker's
    // packet from another device (a new phone). An event is matched by its worker and
    // packetId, and when it names its device (its device and worker are the sender's) to the
    // one link of that (device, packetId): the punch at that seq only
    const punchSeqs = new Map<string, number[]>();
    const packetIds = new Set<string>();
    for (const d of days) {
      for (const [p, seq] of d.packets) {
        packetIds.add(p);
        const key = workerPacketKey(d.workerId, p);
        const seqs = punchSeqs.get(key);
        if (seqs) seqs.push(seq);
        else punchSeqs.set(key, [seq]);
      }
    }
    // an event whose tag verifies (`verified`, or `legacy`: tagged at the upgrade to the tags)
    // is the worker's fraud flag; one changed or inserted outside the server is no fraud of the
    // worker's (review M4; `ofPackets` noted it for /health and the metric), its stored type
    // not shown, but its day is flagged `fraud_tampered`: a dismissal written into the store
    // (which breaks the event's tag) must not clear the day's flag
    const events = (await this.fraud.ofPackets([...packetIds])).filter(
      (e) => e.siteId === scope.siteId && e.workerId !== undefined,
    );
    const keyed = events.filter((e) => e.deviceId !== undefined);
    const links = await this.ledger.linksOf(
      keyed.map((e) => ({ deviceId: e.deviceId!, packetId: e.packetId! })),
    );
    const linkOf = new Map(keyed.map((e, i) => [e, links[i]]));
    const fraudBySeq = new Map<number, DayFlag[]>();
    for (const e of events) {
      const link = linkOf.get(e);
      for (const seq of punchSeqs.get(workerPacketKey(e.workerId!, e.packetId!)) ?? []) {
        // an event of a device: only the punch that device's packet is (none: a rejected one)
        if (e.deviceId !== undefined && (link?.siteId !== scope.siteId || link.seq !== seq))
          continue;
        // the event's review decides (its current review is covered by the event's tag): a
        // dismissed one is shown as such and no longer flags the day; a legacy row (tagged at
        // the upgrade, its review not the server's to vouch for) or a confirmed or unreviewed
        // one still flags it
        const dismissed = e.integrity === 'verified' && e.review?.decision === 'dismissed';
        const flag: DayFlag =
          e.integrity === 'verified' || e.integrity === 'legacy'
            ? { type: dismissed ? 'fraud_dismissed' : 'fraud', seq, detail: e.type }
            : { type: 'fraud_tampered', seq };
        fraudBySeq.set(seq, [...(fraudBySeq.get(seq) ?? []), flag]);
      }
    }
    // the acknowledgements of the days past the longest shift (few days have one): one read
    const acksOf = await this.acknowledgementsOf(scope.siteId, days);
    const zone = scope.timeZone;
    const punch = (seq: number, at: number) => ({
      seq,
      at: new Date(at).toISOString(),
      local: localIso(at, zone),
    });
    return days.map((d) => {
      let flags = shownFlags(d.flags, scope.sitesShown);
      const ack = acksOf && overMaxHoursAcknowledgement(d, acksOf);
      if (ack) flags = acknowledgeOverMaxHours(flags, ack);
      for (const [, seq] of d.packets) {
        const seen = new Set<string>();
        for (const f of fraudBySeq.get(seq) ?? []) {
          // one flag per type and review state: two events of one type say it once
          if (seen.has(`${f.type}:${f.detail ?? ''}`)) continue;
          seen.add(`${f.type}:${f.detail ?? ''}`);
          flags.push(f);
        }
      }
      flags.sort((a, b) => a.seq - b.seq || (a.type < b.type ? -1 : 1));
      return {
        workerId: d.workerId,
        date: d.day,
        ...(d.firstIn !== undefined ? { firstIn: localIso(d.firstIn, zone) } : {}),
        ...(d.lastOut !== undefined ? { lastOut: localIso(d.lastOut, zone) } : {}),
        hours: hoursOf(d.workedSeconds),
        workedSeconds: d.workedSeconds,
        shifts: d.shifts.map((s) => ({
          in: punch(s.inSeq, s.in),
          ...(s.outSeq !== undefined ? { out: punch(s.outSeq, s.out!) } : {}),
          seconds: s.seconds,
          ...(s.added ? { added: true } : {}),
        })),
        flags,
        flagged: isFlagged({ flags }),
        corrected: d.corrected,
        seqs: d.seqs,
      };
    });
  }
}

/**
 * A day's flags as the caller may see them: an `overlaps_other_site` flag names the other
 * site only to a caller entitled to it (a key, or a thekedar that works there too); to a
 * thekedar of this site alone it says "another site" (no `detail`), once per span however
 * many such sites there are. A site id is no secret by itself, but a thekedar has no business
 * learning which sites exist beyond its own, nor where its workers also work (an admin
 * assigns them): its other reads never show one either (`site_not_allowed` answers an unknown
 * site and another's alike).
 */
function shownFlags(flags: DayFlag[], sitesShown: ReadonlySet<string> | undefined): DayFlag[] {
  if (sitesShown === undefined) return [...flags];
  const shown: DayFlag[] = [];
  const hidden = new Set<number>();
  for (const f of flags) {
    if (f.type !== 'overlaps_other_site' || f.detail === undefined || sitesShown.has(f.detail)) {
      shown.push(f);
    } else if (!hidden.has(f.seq)) {
      hidden.add(f.seq);
      shown.push({ type: f.type, seq: f.seq });
    }
  }
  return shown;
}

/** A punch's worker and packetId as one map key. */
function workerPacketKey(workerId: string, packetId: string): string {
  return `${workerId}\u0000${packetId}`;
}

/** Hours to two decimals (payroll precision). */
function hoursOf(seconds: number): number {
  return Math.round((seconds / 3600) * 100) / 100;
}

/**
 * A page's cursor: its place in (workerId, day) order and the listing it is a place in (the
 * site, the period and the workerId filter, as a digest), so a cursor handed to another site,
 * period or filter is refused (400 `invalid_cursor`) rather than read as a place in that one's
 * order (it would skip or repeat days without a word). Opaque to clients, not a secret: a
 * crafted cursor only starts the caller's own listing somewhere.
 */
function encodeCursor(workerId: string, day: string, scope: Scope): string {
  return Buffer.from(`${workerId}|${day}|${listingOf(scope)}`).toString('base64url');
}

function decodeCursor(cursor: string | undefined, scope: Scope): DayQuery['after'] {
  if (cursor === undefined) return undefined;
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const [workerId, day, listing] = parts;
  if (parts.length !== 3 || !OBJECT_ID_PATTERN.test(workerId) || !DAY_PATTERN.test(day)) {
    throw new TimesheetsError('invalid_cursor', 'cursor is not a cursor this endpoint gave');
  }
  if (listing !== listingOf(scope)) {
    throw new TimesheetsError(
      'invalid_cursor',
      'cursor is from a listing of another site, period or workerId: pass it with the query it came with',
    );
  }
  return { workerId, day };
}

/** The listing a cursor belongs to: 16 bytes of SHA-256 over its site, period and filter. */
function listingOf(scope: Scope): string {
  return createHash('sha256')
    .update(`${scope.siteId}|${scope.from}|${scope.to}|${scope.workerId ?? ''}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

/**
 * 503 `worker_tampered` when a worker of an export's page (`ids`) does not verify (WorkerSeal):
 * its name or phone, where its pay goes, may be a database writer's; or has no record at all
 * (deleted outside the server: the server never deletes a worker, and its hours would be paid
 * with no name or phone). The export is refused, not paid.
 */
function refuseTampered(workers: readonly Worker[], ids: readonly string[]): void {
  const found = new Set(workers.map((w) => w.id));
  const tampered = [
    ...workers.filter((w) => w.integrity === 'tampered').map((w) => w.id),
    ...ids.filter((id) => !found.has(id)),
  ];
  if (tampered.length === 0) return;
  throw new TimesheetsError(
    'worker_tampered',
    'Workers of this export have a stored record changed outside the server (their name or phone may not be the ones the server wrote): nothing is exported until an operator restores them',
    tampered.sort().map((workerId) => ({ field: 'workerId', message: workerId })),
  );
}
