import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { actorOf, Clock, localDay, Principal } from '@app/common';
import { LeafSource, StoreMac, tlogConfig, TlogSettings, TransparencyLogService } from '@app/tlog';
import { PayrollWorkerView } from '../dto/timesheet.dto';
import { TimesheetsError } from '../timesheets.errors';
import { TimesheetProjector } from '../timesheet-projector.service';
import { Scope, TimesheetsService } from '../timesheets.service';
import {
  CloseChain,
  ClosedWorkerTotals,
  CloseHead,
  CloseLink,
  CloseRetagOutcome,
  CloseRetagPlan,
  PayrollClose,
  PayrollCloseRepository,
  CloseSeal,
} from './payroll-close.repository';

/** A payroll summary with what changed since its period was closed, when it was. */
export interface PayrollWithClose {
  closed?: { from: string; to: string; at: string; by: string };
  overlapsClosed?: Array<{ from: string; to: string; at: string; by: string }>;
  workers: PayrollWorkerView[];
}

type Totals = Omit<ClosedWorkerTotals, 'workerId'>;

const NONE: Totals = { daysPresent: 0, hours: 0, workedSeconds: 0, flaggedDays: 0 };

/**
 * Payroll closes: an admin closes a site's period once it is paid, recording per worker the
 * totals the payroll showed (a tagged row, StoreMac purpose `payroll-close`). The payroll of a
 * closed period then names the close and, per worker, what changed since (`sinceClose`): a
 * late sync (never refused for a close: a punch is not lost) or an admin's correction is paid
 * as a difference in the next run. A thekedar's correction touching a closed day is refused
 * (409 `period_closed`).
 *
 * The closes of a site are a chain: each carries its `seq` (1, 2, … in the order recorded) and
 * the digest of the close before it, under its tag, and a tagged head per site holds the latest
 * `seq` and digest, written with it. A close deleted, moved or edited in the database (by one
 * without the store-MAC key) breaks the chain: the site's payroll reads, closes and thekedar
 * corrections answer 503 `payroll_close_chain_broken`, its listing says `chain: "broken"`.
 * On MongoDB a head left behind the closes (a replica stopped between a close and its head) is
 * rolled forward when the closes after it verify and follow on from it (`rollForward`).
 * Closes of an earlier release are linked at boot (in the order they were recorded).
 */
/**
 * How long a close the head does not yet name (a MongoDB replica between its insert and its head
 * move, milliseconds apart) is waited for before a new close is linked after it.
 */
export const UNCONFIRMED_TIP_MS = 60_000;

/** How many closes' first sightings a server keeps at most (waiting sites only). */
export const MAX_SIGHTINGS = 10_000;

/**
 * When this server first saw a close (by its own clock, never the close's `at`: another
 * server's clock, which a skew would move), kept in memory for a site that waits only: its
 * latest close while the head is one behind it (`tip`), and its closes of an earlier release
 * not linked yet (`unlinked`); forgotten once the site no longer waits. A close cannot be seen
 * before it is stored, so the age it gives is at most its true age: a skew never shortens the
 * wait, and no server waits more than `UNCONFIRMED_TIP_MS` after it first saw one (a server
 * just started waits that long for a close left so by a stopped one). An entry younger than
 * the minute is never evicted: when full of them a new sighting is not kept (age 0: seen now,
 * tried again at the next sight, kept once the oldest is a minute old); an entry older is
 * evicted oldest first (its site, if still waiting, waits a minute again), in O(1): the oldest
 * is the head of an age queue (the order first seen).
 */
export class Sightings {
  /** Per site, `<kind>|<key>` → its sighting. */
  private readonly seen = new Map<string, Map<string, Sighting>>();
  /**
   * Every sighting kept, in the order first seen (a Set keeps insertion order): the age queue
   * eviction reads from its head, O(1), where it used to scan every entry of every site for the
   * oldest a minute old (10,000 of them for each sighting refused while full of young ones).
   */
  private readonly byAge = new Set<Sighting>();

  constructor(private readonly max = MAX_SIGHTINGS) {}

  /** Milliseconds since this server first saw `key` as the site's close of kind `kind`. */
  ageOf(kind: 'tip' | 'unlinked', siteId: string, key: string, now: number): number {
    const id = `${kind}|${kind === 'unlinked' ? key : ''}`;
    const was = this.seen.get(siteId)?.get(id);
    if (was && was.key === key) return now - was.at;
    if (was) this.drop(was);
    if (this.byAge.size >= this.max && !this.evictOld(now)) return 0;
    // looked up after the eviction: it may have taken this site's last entry, and its map with
    // it (a sighting put in that map was out of reach and its room lost for good: review R6)
    let into = this.seen.get(siteId);
    if (!into) this.seen.set(siteId, (into = new Map<string, Sighting>()));
    const sighting = { siteId, id, key, at: now };
    into.set(id, sighting);
    this.byAge.add(sighting);
    return 0;
  }

  /** The site waits no more (kind `tip`: its latest close; `unlinked`: every one of them). */
  forget(kind: 'tip' | 'unlinked', siteId: string): void {
    const site = this.seen.get(siteId);
    if (!site) return;
    for (const sighting of [...site.values()]) {
      if (sighting.id.startsWith(`${kind}|`)) this.drop(sighting);
    }
  }

  /** How many sightings are kept. */
  get count(): number {
    return this.byAge.size;
  }

  /**
   * Evicts the oldest entry if it is a minute old or more (true: room made). The head of the
   * age queue is the oldest (each `at` is `now` when it was put in, by this server's clock):
   * when it is younger than the minute, so is every other one.
   */
  private evictOld(now: number): boolean {
    const oldest = this.byAge.values().next();
    if (oldest.done || now - oldest.value.at < UNCONFIRMED_TIP_MS) return false;
    this.drop(oldest.value);
    return true;
  }

  private drop(sighting: Sighting): void {
    this.byAge.delete(sighting);
    const site = this.seen.get(sighting.siteId);
    if (!site) return;
    site.delete(sighting.id);
    if (site.size === 0) this.seen.delete(sighting.siteId);
  }
}

/** One first sighting of a close (`Sightings`). */
interface Sighting {
  readonly siteId: string;
  /** `<kind>|<key>` (`tip|` for a site's latest close). */
  readonly id: string;
  readonly key: string;
  /** When this server first saw it (its clock, ms). */
  readonly at: number;
}

/** A site's closes as its transparency log's latest checkpoint counts them. */
interface SignedCounts {
  sealed: number;
}

@Injectable()
export class PayrollCloseService implements OnModuleInit {
  private readonly logger = new Logger(PayrollCloseService.name);
  private readonly sightings = new Sightings();
  /** Sites found broken by the sweep, by head (`siteId|digest`): alarmed once, not sealed. */
  private readonly brokenSeen = new Set<string>();
  private readonly originPrefix: string;

  constructor(
    private readonly repo: PayrollCloseRepository,
    private readonly timesheets: TimesheetsService,
    private readonly projector: TimesheetProjector,
    private readonly mac: StoreMac,
    private readonly clock: Clock,
    private readonly tlog: TransparencyLogService,
    @Inject(tlogConfig.KEY) tlogSettings: TlogSettings,
  ) {
    this.originPrefix = `${tlogSettings.origin}/payroll-closes/`;
  }

  /** The transparency-log origin of a site's closes (its leaves: each close's digest, by seq). */
  originOf(siteId: string): string {
    return `${this.originPrefix}${siteId}`;
  }

  /** The site of a payroll-closes origin, or undefined for another log's. */
  siteOfOrigin(origin: string): string | undefined {
    return origin.startsWith(this.originPrefix) && origin.length > this.originPrefix.length
      ? origin.slice(this.originPrefix.length)
      : undefined;
  }

  /** The leaves of a site's closes log: the hex digest of each close `fromSeq..toSeq`. */
  leavesOf(siteId: string): LeafSource {
    return async (fromSeq, toSeq) =>
      (await this.repo.closesAfter(siteId, fromSeq - 1))
        .filter((c) => c.seq <= toSeq)
        .map((c) => Buffer.from(digestOf(c), 'base64url').toString('hex'));
  }

  /**
   * Seals the site's closes up to `size` in the transparency log (a signed checkpoint over
   * their digests, its line in the witness file): a head that later vanishes or goes back with
   * the closes after it is caught against it (`refuseUnsealed`). A failed seal is logged and
   * left (the tlog retries it; the close is recorded): till sealed those closes are guarded by
   * their chain only.
   */
  private async sealCloses(siteId: string, size: number): Promise<void> {
    if (size <= 0) return;
    try {
      await this.tlog.seal(this.originOf(siteId), size, this.leavesOf(siteId), []);
    } catch (error) {
      this.logger.warn(
        { siteId, size, err: error },
        'Payroll closes not sealed in the transparency log (tried again later)',
      );
    }
  }

  /**
   * What a site's closes lack against the transparency log, or undefined: the log's latest
   * signed checkpoint of the site's closes counts more than the chain read holds (`held`: the
   * newest close's place, the head's when no close is stored). Every close of a site deleted
   * with its head, or a head put back from an older copy with the closes after it deleted,
   * leaves a chain whole in itself: only the signed log tells.
   */
  private unsealedLoss(held: number, signed: SignedCounts): string | undefined {
    return signed.sealed > held
      ? `the transparency log sealed ${signed.sealed} closes of the site, ${held} are stored`
      : undefined;
  }

  /**
   * How many closes of the site the log's latest signed checkpoint counts (`sealed` as the
   * caller read it, when given). Read before the chain a check compares it with: a close is
   * stored before it is sealed, so a count read first is never more than the chain read after
   * holds, whatever closes are recorded in between.
   */
  private async signedCounts(siteId: string, sealed?: number): Promise<SignedCounts> {
    return { sealed: sealed ?? (await this.tlog.latest(this.originOf(siteId)))?.size ?? 0 };
  }

  /** Closes the scope's period (an admin's, every worker): `created` false for a retry. */
  async close(
    scope: Scope,
    principal: Principal,
  ): Promise<{ created: boolean; close: PayrollClose }> {
    const today = localDay(this.clock.now(), scope.timeZone);
    if (scope.to >= today) {
      throw new TimesheetsError(
        'period_not_over',
        `A period is closed once its last day is over: ${scope.to} is not before ${today}, today at the site`,
      );
    }
    const payroll = await this.timesheets.payroll(scope);
    const workers = payroll
      .map((w) => ({
        workerId: w.workerId,
        daysPresent: w.daysPresent,
        hours: w.hours,
        workedSeconds: w.workedSeconds,
        flaggedDays: w.flaggedDays,
      }))
      .sort((a, b) => (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0));
    const draft = {
      siteId: scope.siteId,
      from: scope.from,
      to: scope.to,
      at: this.clock.now().getTime(),
      by: actorOf(principal),
      workers,
    };
    await this.refuseBrokenChain(scope.siteId);
    const result = await this.repo.record(draft, this.seal(draft));
    if (result.status === 'raced') {
      throw new TimesheetsError(
        'payroll_close_raced',
        'Another close of this site was recorded at the same moment (by another server): nothing was recorded; send the close again',
      );
    }
    if (result.status === 'overlaps') {
      throw new TimesheetsError(
        'period_overlaps_close',
        `The period overlaps the closed period ${result.close.from} to ${result.close.to} of this site: a day is closed once`,
      );
    }
    this.checked(result.close);
    if (result.status === 'closed') {
      await this.sealCloses(scope.siteId, result.close.seq);
      this.logger.log(
        { siteId: scope.siteId, from: scope.from, to: scope.to, workers: workers.length },
        'Payroll period closed',
      );
    }
    return { created: result.status === 'closed', close: result.close };
  }

  /** The site's closes, newest period first (tampered ones marked, not refused). */
  async list(
    siteId: string,
    limit: number,
    before?: string,
  ): Promise<{
    closes: Array<PayrollClose & { integrity: 'verified' | 'tampered' }>;
    chain: 'verified' | 'broken';
  }> {
    const closes = await this.repo.list(siteId, limit, before);
    // before the chain is read (see `signedCounts`)
    const signed = await this.signedCounts(siteId);
    let chain = await this.repo.chain(siteId);
    const linked = linkedOnly(chain.closes);
    const unlinked = chain.closes.filter((c) => c.seq === 0);
    const tip = linked[linked.length - 1];
    this.noteWaiting(siteId, tip, chain.head, unlinked.length);
    let pending = false;
    if (unlinked.length > 0) {
      pending = this.pendingUnlinked(siteId, unlinked, tip, chain.head);
      if (!pending) {
        // a site that cannot be linked (its chain broken) lists broken below
        await this.linkOnRead(siteId).catch(() => undefined);
        chain = await this.repo.chain(siteId);
      }
    }
    // closes of an earlier release too new to link are left out of the check (as a read's)
    if (pending) chain = { ...chain, closes: linkedOnly(chain.closes) };
    const rolled = await this.rollForward(
      siteId,
      chain.closes[chain.closes.length - 1],
      chain.head,
    );
    if (rolled === 'rolled') {
      chain = await this.repo.chain(siteId);
      if (pending) chain = { ...chain, closes: linkedOnly(chain.closes) };
    }
    const linkedTip = linkedOnly(chain.closes).pop();
    const broken =
      (typeof rolled === 'object' ? rolled.broken : this.brokenLink(chain)) ??
      this.unsealedLoss(linkedTip?.seq ?? chain.head?.seq ?? 0, signed);
    if (broken) this.alarmBroken(siteId, broken);
    // every link checked: a head without its periods digest is given it (as a payroll read's)
    else if (chain.head && this.periodsOf(chain.head) === undefined) {
      await this.setPeriodsFrom(chain);
    }
    return {
      closes: closes.map((c) => ({ ...c, integrity: this.verifies(c) ? 'verified' : 'tampered' })),
      chain: broken ? 'broken' : 'verified',
    };
  }

  /** Links the closes of an earlier release at boot (every site's, in the order recorded). */
  async onModuleInit(): Promise<void> {
    const tried = new Set<string>();
    for (;;) {
      const sites = (await this.repo.unlinkedSiteIds(100)).filter((id) => !tried.has(id));
      if (sites.length === 0) return;
      for (const siteId of sites) {
        tried.add(siteId);
        // one site that cannot be linked (its chain broken, the store failing) is alarmed and
        // left: its reads answer payroll_close_chain_broken; the server still starts
        try {
          if (await this.repo.link(siteId, this.linkLegacy)) {
            // sealed by the unsealed-tail sweep, in the background once the server listens (a
            // seal's first witness read is no boot cost, per site)
            this.logger.log({ siteId }, 'Payroll closes of an earlier release linked');
          }
        } catch (error) {
          // after a close another replica is still recording: linked by a read a minute on
          if (isRaced(error)) continue;
          this.logger.error(
            { siteId, err: error },
            'Payroll closes of an earlier release not linked: the site reads broken until an operator restores its closes',
          );
        }
      }
    }
  }

  /**
   * A site's closes of an earlier release linked after its chain, in the order recorded, each
   * re-tagged under the current key over its place too, when every one verifies (under any key
   * held) as that release tagged it; one that does not leaves the site unlinked and broken (503
   * `payroll_close_chain_broken`: a fresh head over it would launder it).
   */
  private readonly linkLegacy: CloseLink = (unlinked, tip, head) => {
    const siteId = unlinked[0].siteId;
    this.refuseBrokenTip(siteId, tip, head);
    // as a close's seal: not linked after a close another replica is still recording
    this.refuseUnconfirmedTip(tip, head);
    // a close that fails its tag as an earlier release wrote it is not one of its closes: a
    // linked close whose place an editor unset (its head deleted), its period moved perhaps; a
    // fresh head over it would take the moved period for the truth (review R2)
    const forged = unlinked.find((c) => {
      const { tag, ...unsigned } = c;
      return this.mac.kidOf('payroll-close', closeTagData(unsigned), tag) === undefined;
    });
    if (forged) {
      this.chainBroken(
        siteId,
        `the close of ${forged.from} has no place and does not verify as a close of an earlier release: not linked`,
      );
    }
    let before = tip;
    const closes = unlinked.map((c) => {
      const { tag: _tag, ...unsigned } = c;
      const linked = {
        ...unsigned,
        seq: (before?.seq ?? 0) + 1,
        prev: before ? digestOf(before) : '',
      };
      const close = { ...linked, tag: this.tagOf(linked) };
      before = close;
      return close;
    });
    const periods = this.periodsAfter(this.periodsAt(tip, head), closes);
    return {
      closes,
      head: this.headOf(before!, periods),
      ...this.baseOf(unlinked[0].siteId, tip, head),
    };
  };

  /** The close linked after the site's chain as read in the write, tagged, and its new head. */
  private seal(draft: Omit<PayrollClose, 'seq' | 'prev' | 'tag'>): CloseSeal {
    return (tip, head) => {
      this.refuseBrokenTip(draft.siteId, tip, head);
      this.refuseUnconfirmedTip(tip, head);
      const linked = { ...draft, seq: (tip?.seq ?? 0) + 1, prev: tip ? digestOf(tip) : '' };
      const close = { ...linked, tag: this.tagOf(linked) };
      const periods = this.periodsAfter(this.periodsAt(tip, head), [close]);
      return { close, head: this.headOf(close, periods), ...this.baseOf(draft.siteId, tip, head) };
    };
  }

  /**
   * A site's sightings kept while it waits only: its latest close while the head is behind it
   * (first seen from now), its closes of an earlier release while any are unlinked; forgotten
   * once it waits no more (the head names its latest close, none unlinked).
   */
  private noteWaiting(
    siteId: string,
    tip: PayrollClose | undefined,
    head: CloseHead | undefined,
    unlinked: number,
  ): void {
    if (tip && head && head.seq < tip.seq) this.tipAge(tip);
    else this.sightings.forget('tip', siteId);
    if (unlinked === 0) this.sightings.forget('unlinked', siteId);
  }

  /**
   * A tip its head does not name yet is a close another replica (MongoDB) is still recording:
   * building on it could outlive it (its replica removes it when its head move loses), so wait
   * (409 `payroll_close_raced`); one left so longer than UNCONFIRMED_TIP_MS is a crashed
   * replica's.
   */
  private refuseUnconfirmedTip(tip: PayrollClose | undefined, head: CloseHead | undefined): void {
    if (tip && head && head.seq === tip.seq - 1 && this.tipAge(tip) < UNCONFIRMED_TIP_MS) {
      throw new TimesheetsError(
        'payroll_close_raced',
        'Another close of this site is being recorded (by another server): nothing was recorded; send the close again',
      );
    }
  }

  /** How long this server has seen `tip` as its site's latest close (its own clock). */
  private tipAge(tip: PayrollClose): number {
    return this.sightings.ageOf(
      'tip',
      tip.siteId,
      `${tip.seq}|${tip.tag}`,
      this.clock.now().getTime(),
    );
  }

  /** For a site with no close nor head: the tagged head of its empty chain (`seq` 0). */
  private baseOf(
    siteId: string,
    tip: PayrollClose | undefined,
    head: CloseHead | undefined,
  ): { base?: CloseHead } {
    if (tip || head) return {};
    return {
      base: {
        siteId,
        seq: 0,
        digest: '',
        tag: this.mac.mac('payroll-close-head', headDataOf(siteId, 0, '')),
        ...this.periodsTagged(siteId, 0, '', ''),
      },
    };
  }

  /** The head naming `close`, with `periods` (the digest of the periods up to it) when known. */
  private headOf(close: PayrollClose, periods: string | undefined): CloseHead {
    const digest = digestOf(close);
    const data = headDataOf(close.siteId, close.seq, digest);
    return {
      siteId: close.siteId,
      seq: close.seq,
      digest,
      tag: this.mac.mac('payroll-close-head', data),
      ...(periods !== undefined
        ? this.periodsTagged(close.siteId, close.seq, digest, periods)
        : {}),
    };
  }

  private periodsTagged(
    siteId: string,
    seq: number,
    digest: string,
    periods: string,
  ): { periods: string; periodsTag: string } {
    return {
      periods,
      periodsTag: this.mac.mac(
        'payroll-close-periods',
        periodsDataOf(siteId, seq, digest, periods),
      ),
    };
  }

  /** The head's periods digest when it verifies (over its place and digest), else undefined. */
  private periodsOf(head: CloseHead): string | undefined {
    if (head.periods === undefined || head.periodsTag === undefined) return undefined;
    const data = periodsDataOf(head.siteId, head.seq, head.digest, head.periods);
    return this.mac.verify('payroll-close-periods', data, head.periodsTag)
      ? head.periods
      : undefined;
  }

  /**
   * The periods digest of the chain up to `tip` as read in a write (the head's, plus the tip's
   * when the head is one behind it and the tip verifies; `''` for a site with neither), or
   * undefined when the head carries none that verify (the next read's walk makes them).
   */
  private periodsAt(
    tip: PayrollClose | undefined,
    head: CloseHead | undefined,
  ): string | undefined {
    if (!head) return tip ? undefined : '';
    const periods = this.periodsOf(head);
    if (periods === undefined || !tip || head.seq === tip.seq) return periods;
    if (head.seq === tip.seq - 1 && this.verifies(tip)) return foldPeriods(periods, tip);
    return undefined;
  }

  private periodsAfter(
    periods: string | undefined,
    closes: ReadonlyArray<{ seq: number; from: string; to: string }>,
  ): string | undefined {
    return periods === undefined ? undefined : closes.reduce(foldPeriods, periods);
  }

  /**
   * What breaks the site's chain, or undefined: a close not linked, a place missing or twice
   * (a close deleted, or moved), a close whose `prev` is not the digest of the one before
   * (edited, or put in another's place), a head that fails its tag, or names another latest
   * close than the stored one (ahead of the rows: the newest closes deleted; two or more behind
   * them). A head one behind, the newest close naming it, is a MongoDB close whose head is not
   * moved yet (on MongoDB one further behind is rolled forward first, `rollForward`).
   */
  private brokenLink(chain: CloseChain): string | undefined {
    const { closes, head } = chain;
    for (const [i, c] of closes.entries()) {
      if (c.seq === 0) return `the close of ${c.from} is not linked`;
      if (c.seq !== i + 1) return `close #${i + 1} is missing (the next stored is #${c.seq})`;
      if (c.prev !== (i === 0 ? '' : digestOf(closes[i - 1]))) {
        return `close #${c.seq} (${c.from}) does not follow the close stored before it`;
      }
    }
    return this.brokenHead(closes[closes.length - 1], head);
  }

  private brokenHead(
    tip: PayrollClose | undefined,
    head: CloseHead | undefined,
  ): string | undefined {
    // the head of the empty chain (MongoDB writes it before a site's first close)
    if (!tip) {
      return head && head.seq !== 0
        ? `the head names close #${head.seq}, and no close is stored`
        : undefined;
    }
    if (!head) return `${tip.seq} closes are stored and the head is missing`;
    if (!this.headVerifies(head)) return 'the head does not verify';
    if (head.seq === tip.seq && head.digest === digestOf(tip)) return undefined;
    // MongoDB: a close whose head is not moved yet (its replica about to, or stopped)
    if (head.seq === tip.seq - 1 && head.digest === tip.prev) return undefined;
    return `the head names close #${head.seq}, the latest stored is #${tip.seq}`;
  }

  private headVerifies(head: CloseHead): boolean {
    return this.mac.verify(
      'payroll-close-head',
      headDataOf(head.siteId, head.seq, head.digest),
      head.tag,
    );
  }

  /**
   * MongoDB: a head behind the site's newest closes (a replica that died between a close's
   * insert and the head's move, or lost the store there) rolled forward to the newest by a
   * compare-and-set, when it verifies and the closes after it each verify their tag and follow
   * on from it without a gap (the first's `prev` the head's digest, each next one's the digest
   * of the one before): `rolled`. A deletion leaves a place missing or the head ahead, never a
   * head behind closes that follow on from it (an editor without the key can tag no close): a
   * head ahead, a gap, a close that fails its tag or does not follow, reads `broken`. `missed`:
   * the head moved meanwhile (read again); `none`: not behind, or the newest close younger
   * than `UNCONFIRMED_TIP_MS` (its replica may still move the head, or remove it: a close
   * linked after it must not outlive it), or SQLite (the head is written with its close).
   */
  private async rollForward(
    siteId: string,
    tip: PayrollClose | undefined,
    head: CloseHead | undefined,
  ): Promise<'none' | 'rolled' | 'missed' | { broken: string }> {
    if (!this.repo.headMayTrail || !tip || !head || head.seq >= tip.seq) return 'none';
    if (this.tipAge(tip) < UNCONFIRMED_TIP_MS) return 'none';
    if (!this.headVerifies(head)) return { broken: 'the head does not verify' };
    const after = await this.repo.closesAfter(siteId, head.seq);
    let [seq, digest] = [head.seq, head.digest];
    for (const c of after) {
      if (c.seq !== seq + 1) return { broken: `close #${seq + 1} is missing after the head` };
      if (c.prev !== digest) {
        return {
          broken: `close #${c.seq} (${c.from}) does not follow the head or the close before it`,
        };
      }
      if (!this.verifies(c)) return { broken: `close #${c.seq} (${c.from}) does not verify` };
      [seq, digest] = [c.seq, digestOf(c)];
    }
    if (after.length === 0) return 'missed';
    const next = this.headOf(
      after[after.length - 1],
      this.periodsAfter(this.periodsOf(head), after),
    );
    if (!(await this.repo.rollHead(head, next))) return 'missed';
    this.logger.warn(
      { siteId, from: head.seq, to: next.seq },
      'The head of the payroll closes of a site was behind its closes (a server stopped between a close and its head): rolled forward',
    );
    return 'rolled';
  }

  private refuseBrokenTip(
    siteId: string,
    tip: PayrollClose | undefined,
    head: CloseHead | undefined,
  ): void {
    const broken = this.brokenHead(tip, head);
    if (broken) this.chainBroken(siteId, broken);
  }

  /**
   * 503 `payroll_close_chain_broken` unless the site's chain holds in brief (a payroll read's
   * check): every close in its place, 1 to n, none missing or twice, the head naming the latest,
   * and the periods of the closes the head names folding to the head's tagged periods digest
   * (a close's `from`/`to` or place edited: its period would read open). A close whose head is
   * not moved yet (one behind) is checked by its own tag. A head whose periods digest is absent
   * or does not verify (written by a server of an earlier release) is checked by a full walk of
   * the links, as the listing does, and given its periods digest. A close's other fields edited
   * fail its tag, refused by the reads of its period. `first`: the chain and the log's latest
   * size its caller has just read (the sweep's), checked on the first try instead of read again.
   */
  private async refuseBrokenChain(siteId: string, first?: SweptChain): Promise<void> {
    for (let tries = 1; ; tries++) {
      const given = tries === 1 ? first : undefined;
      // before the chain is read (see `signedCounts`); the sweep's chain was read before its
      // checkpoint: a loss seen then is read again
      const signed = given ? undefined : await this.signedCounts(siteId);
      const { places: all, tip, head } = given?.read ?? (await this.repo.chainPlaces(siteId));
      this.noteWaiting(siteId, tip, head, all.filter((p) => p.seq === 0).length);
      // closes of an earlier release (a server of it still running: a rolling upgrade) linked
      // here as at boot, once this server has seen them a minute (their server may still remove
      // one that lost an overlap); till then they are left out of the chain's check
      const unlinked = all.filter((p) => p.seq === 0);
      if (unlinked.length > 0 && !this.pendingUnlinked(siteId, unlinked, tip, head)) {
        if (tries < 3) {
          await this.linkOnRead(siteId);
          continue;
        }
        this.chainBroken(siteId, `the close of ${unlinked[0].from} is not linked`);
      }
      const places = linkedOnly(all);
      const at = places.findIndex((p, i) => p.seq !== i + 1);
      if (at >= 0) {
        this.chainBroken(
          siteId,
          `close #${at + 1} is missing or not linked (stored there: #${places[at].seq})`,
        );
      }
      const rolled = await this.rollForward(siteId, tip, head);
      if (typeof rolled === 'object') this.chainBroken(siteId, rolled.broken);
      // the head moved (rolled by this read, or meanwhile by another): read again
      if ((rolled === 'rolled' || rolled === 'missed') && tries < 3) continue;
      const broken = this.brokenHead(tip, head);
      if (broken) this.chainBroken(siteId, broken);
      // a chain whole in itself may still lack closes the signed log counted (all deleted with
      // the head, or a head put back with the closes after it deleted)
      const lost = this.unsealedLoss(
        tip?.seq ?? head?.seq ?? 0,
        signed ?? (await this.signedCounts(siteId, given?.sealed)),
      );
      if (lost && given) continue;
      if (lost) this.chainBroken(siteId, lost);
      if (!head) return;
      const periods = this.periodsOf(head);
      if (periods === undefined) {
        // given (the links walked): the close the head does not name is still checked below
        if (!(await this.givePeriods(siteId)) && tries < 3) continue;
      } else if (places.slice(0, head.seq).reduce(foldPeriods, '') !== periods) {
        this.chainBroken(siteId, 'the period or place of a close was changed');
      }
      // a close whose head is not moved yet: its period is under its own tag
      if (tip && tip.seq > head.seq && !this.verifies(tip)) {
        this.chainBroken(siteId, `close #${tip.seq} (${tip.from}) does not verify`);
      }
      return;
    }
  }

  /**
   * Whether a site's closes of an earlier release are still too new to link: one this server
   * first saw less than `UNCONFIRMED_TIP_MS` ago (its server may still remove it, the later of
   * two overlapping closes), or a latest close its head does not name yet as new (a close is
   * not linked after it: the unconfirmed-tip rule of a close).
   */
  private pendingUnlinked(
    siteId: string,
    unlinked: ReadonlyArray<{ from: string }>,
    tip: PayrollClose | undefined,
    head: CloseHead | undefined,
  ): boolean {
    const now = this.clock.now().getTime();
    const young = unlinked
      .map((p) => this.sightings.ageOf('unlinked', siteId, p.from, now))
      .some((age) => age < UNCONFIRMED_TIP_MS);
    return (
      young ||
      (tip !== undefined &&
        head !== undefined &&
        head.seq === tip.seq - 1 &&
        this.tipAge(tip) < UNCONFIRMED_TIP_MS)
    );
  }

  /**
   * The unsealed-tail sweep's pass over payroll closes: each site whose head names more closes
   * than the transparency log's latest signed checkpoint of them counts (closed under an
   * earlier release, linked at boot, a seal that failed, a server stopped between a close and
   * its seal) is sealed up to its head once its chain checks as a close's does (a broken one is
   * alarmed once per head, not sealed). Returns how many sites were found behind their log.
   */
  async sealUnsealedCloses(): Promise<number> {
    let found = 0;
    for (let after = ''; ;) {
      const ids = await this.repo.retagHeadIds(after, 500);
      if (ids.length === 0) return found;
      // the page's checkpoints in one read (as the ledger's sweep), not one per site
      const latest = await this.tlog.latestOfEach(ids.map((id) => this.originOf(id)));
      for (const siteId of ids) {
        const read = await this.repo.chainPlaces(siteId);
        const { head } = read;
        let sealed = latest.get(this.originOf(siteId))?.size ?? 0;
        // the page's read is older than this head: a site behind it is read again (sealed since?)
        if (head && head.seq > sealed)
          sealed = (await this.tlog.latest(this.originOf(siteId)))?.size ?? 0;
        if (!head || head.seq <= sealed) continue;
        found++;
        const seen = `${siteId}|${head.digest}`;
        if (this.brokenSeen.has(seen)) continue;
        try {
          await this.refuseBrokenChain(siteId, { read, sealed });
        } catch (error) {
          // alarmed by the check; not sealed (the log would vouch for the broken chain)
          if (error instanceof TimesheetsError && error.code === 'payroll_close_chain_broken')
            this.brokenSeen.add(seen);
          continue;
        }
        await this.sealCloses(siteId, head.seq);
      }
      after = ids[ids.length - 1];
    }
  }

  /** The closes a link gave places sealed, up to the head it wrote. */
  private async sealLinked(siteId: string): Promise<void> {
    await this.sealCloses(siteId, (await this.repo.chainPlaces(siteId)).head?.seq ?? 0);
  }

  /** A read's link of a site's closes of an earlier release (as at boot): logged when linked. */
  private async linkOnRead(siteId: string): Promise<void> {
    // after a close another replica is still recording: not linked this time (the read goes on)
    const linked = await this.repo.link(siteId, this.linkLegacy).catch((error: unknown) => {
      if (isRaced(error)) return false;
      throw error;
    });
    if (linked) {
      await this.sealLinked(siteId);
      this.logger.log({ siteId }, 'Payroll closes of an earlier release linked on read');
    }
  }

  /**
   * A head without a periods digest that verifies (a head of an earlier release, or one an
   * earlier release's server moved): every link checked, as the listing does, and the digest of
   * the periods of the closes it names set by a compare-and-set. true: set (or broken: thrown);
   * false: the head moved meanwhile.
   */
  private async givePeriods(siteId: string): Promise<boolean> {
    // closes of an earlier release too new to link (a rolling upgrade) left out, as the listing
    const read = await this.repo.chain(siteId);
    const chain = { ...read, closes: linkedOnly(read.closes) };
    const broken = this.brokenLink(chain);
    if (broken) this.chainBroken(siteId, broken);
    return this.setPeriodsFrom(chain);
  }

  /** A chain whose every link held: its head given the periods digest of the closes it names. */
  private async setPeriodsFrom(chain: CloseChain): Promise<boolean> {
    const head = chain.head!;
    const periods = chain.closes.slice(0, head.seq).reduce(foldPeriods, '');
    const tagged = this.periodsTagged(head.siteId, head.seq, head.digest, periods);
    if (!(await this.repo.setPeriods(head, tagged.periods, tagged.periodsTag))) return false;
    this.logger.log(
      { siteId: head.siteId, seq: head.seq },
      'Payroll close head given its periods digest',
    );
    return true;
  }

  private chainBroken(siteId: string, broken: string): never {
    this.alarmBroken(siteId, broken);
    throw new TimesheetsError(
      'payroll_close_chain_broken',
      'The closes of this site were deleted, reordered or changed outside the server: which periods were paid cannot be trusted until an operator restores them',
    );
  }

  private alarmBroken(siteId: string, broken: string): void {
    this.logger.error(
      { siteId, broken },
      'ALARM: the chain of payroll closes of a site is broken (changed outside the server)',
    );
  }

  /**
   * The payroll of the scope with its close: a read of exactly a closed period carries
   * `closed` and, per worker, the totals at the close and the change since (a worker whose
   * days are all gone since shows with zeros); a read overlapping closes otherwise names them.
   */
  async withClose(scope: Scope, workers: PayrollWorkerView[]): Promise<PayrollWithClose> {
    const closes = await this.repo.overlapping(scope.siteId, scope.from, scope.to);
    closes.forEach((c) => this.checked(c));
    // a close deleted would read as an open period
    await this.refuseBrokenChain(scope.siteId);
    if (closes.length === 0) return { workers };
    const exact = closes.find((c) => c.from === scope.from && c.to === scope.to);
    if (!exact) return { overlapsClosed: closes.map(headOf), workers };
    const inScope = (id: string) => scope.workerIds === undefined || scope.workerIds.includes(id);
    const recorded = new Map(
      exact.workers.filter((w) => inScope(w.workerId)).map((w) => [w.workerId, w]),
    );
    const gone = [...recorded.keys()].filter((id) => !workers.some((w) => w.workerId === id));
    const people = await this.timesheets.peopleOfIds(gone);
    const all: PayrollWorkerView[] = [
      ...workers,
      ...gone.map((id) => ({
        workerId: id,
        ...(people.get(id) ?? {}),
        ...NONE,
        correctedDays: 0,
        refusedPunches: 0,
      })),
    ].sort((a, b) => (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0));
    return {
      closed: headOf(exact),
      workers: all.map((w) => {
        const atClose: Totals = recorded.get(w.workerId) ?? NONE;
        const seconds = w.workedSeconds - atClose.workedSeconds;
        return {
          ...w,
          atClose: {
            daysPresent: atClose.daysPresent,
            hours: atClose.hours,
            workedSeconds: atClose.workedSeconds,
            flaggedDays: atClose.flaggedDays,
          },
          sinceClose: {
            daysPresent: w.daysPresent - atClose.daysPresent,
            hours: Math.round((w.hours - atClose.hours) * 100) / 100,
            workedSeconds: seconds,
            flaggedDays: w.flaggedDays - atClose.flaggedDays,
          },
        };
      }),
    };
  }

  /**
   * 409 `period_closed` when a thekedar's correction touches a closed day of the site: the
   * local day of any of `times` (the target's recorded and moved times, the new `at` and
   * `until`), or of a check-out's time less the longest shift (the shift it ends may have
   * begun the day before). A close whose tag fails counts as a close.
   */
  async refuseClosedForThekedar(
    siteId: string,
    times: ReadonlyArray<number | undefined>,
    checkOutTimes: ReadonlyArray<number | undefined>,
    maxShiftMs: number,
  ): Promise<void> {
    const zone = await this.projector.zoneOf(siteId);
    const days = [
      ...times.filter((t): t is number => t !== undefined),
      ...checkOutTimes.filter((t): t is number => t !== undefined).map((t) => t - maxShiftMs),
    ].map((t) => localDay(t, zone));
    if (days.length === 0) return;
    const sorted = [...days].sort();
    await this.refuseBrokenChain(siteId);
    const closes = await this.repo.overlapping(siteId, sorted[0], sorted[sorted.length - 1]);
    const hit = closes.find((c) => days.some((d) => d >= c.from && d <= c.to));
    if (!hit) return;
    throw new TimesheetsError(
      'period_closed',
      `The correction touches ${days.find((d) => d >= hit.from && d <= hit.to)}, in the payroll period ${hit.from} to ${hit.to} closed by an admin: ask an admin to correct it (an admin's correction shows in the payroll as a change since the close)`,
    );
  }

  /**
   * `keys:retag`'s page of closes (every site's, by `<siteId>|<from>` after `afterId`): each
   * re-tagged under the current key when it verifies under a retired one held here, left when
   * under no held key (`tampered`: re-tagging it would launder a changed close) or only under a
   * key of `except` (`suspect`: a leaked key vouches for nothing).
   */
  async retagPage(
    afterId: string,
    limit: number,
    except: readonly string[],
  ): Promise<CloseRetagOutcome[]> {
    const out: CloseRetagOutcome[] = [];
    for (const id of await this.repo.retagIds(afterId, limit)) {
      out.push(await this.repo.retag(id, (close) => this.retagPlan(close, except)));
    }
    return out;
  }

  /**
   * `keys:retag`'s page of the heads of the sites' chains of closes (by site id after `afterId`),
   * each re-tagged as a close is.
   */
  async retagHeadPage(
    afterId: string,
    limit: number,
    except: readonly string[],
  ): Promise<CloseRetagOutcome[]> {
    const out: CloseRetagOutcome[] = [];
    for (const id of await this.repo.retagHeadIds(afterId, limit)) {
      out.push(
        await this.repo.retagHead(id, (head) => {
          const plan = this.planOf(
            'payroll-close-head',
            headDataOf(head.siteId, head.seq, head.digest),
            head.tag,
            except,
          );
          if (plan.result !== 'retagged' || head.periods === undefined) return plan;
          // its periods with it: re-tagged when they verify under a key held and not excepted,
          // else cleared (the next read's walk makes them again; never laundered)
          const data = periodsDataOf(head.siteId, head.seq, head.digest, head.periods);
          const periods = this.planOf('payroll-close-periods', data, head.periodsTag ?? '', except);
          const periodsTag = periods.result === 'current' ? head.periodsTag : periods.tag;
          return { ...plan, ...(periodsTag !== undefined ? { periodsTag } : {}) };
        }),
      );
    }
    return out;
  }

  private retagPlan(close: PayrollClose, except: readonly string[]): CloseRetagPlan {
    const { tag, ...unsigned } = close;
    return this.planOf('payroll-close', closeTagData(unsigned), tag, except);
  }

  private planOf(
    purpose: 'payroll-close' | 'payroll-close-head' | 'payroll-close-periods',
    data: string,
    tag: string,
    except: readonly string[],
  ): CloseRetagPlan {
    const kid = this.mac.kidOf(purpose, data, tag);
    if (kid === undefined) return { result: 'tampered' };
    if (kid === this.mac.kid) return { result: 'current' };
    if (except.includes(kid)) return { result: 'suspect', from: kid };
    return { result: 'retagged', from: kid, tag: this.mac.mac(purpose, data) };
  }

  private checked(close: PayrollClose): PayrollClose {
    if (this.verifies(close)) return close;
    this.logger.error(
      { siteId: close.siteId, from: close.from, to: close.to },
      'ALARM: a payroll close does not verify (changed outside the server)',
    );
    throw new TimesheetsError(
      'payroll_close_tampered',
      `The close of ${close.from} to ${close.to} of this site was changed outside the server: the totals it was paid on cannot be trusted until an operator restores it`,
    );
  }

  private verifies(close: PayrollClose): boolean {
    const { tag, ...unsigned } = close;
    return this.mac.verify('payroll-close', closeTagData(unsigned), tag);
  }

  private tagOf(close: Omit<PayrollClose, 'tag'>): string {
    return this.mac.mac('payroll-close', closeTagData(close));
  }
}

/**
 * What a close's tag covers: every stored field, in one fixed order (a close of an earlier
 * release, not linked yet, `seq` 0: every field it had).
 */
export function closeTagData(c: Omit<PayrollClose, 'tag'>): string {
  const fields = [
    c.siteId,
    c.from,
    c.to,
    c.at,
    c.by,
    c.workers.map((w) => [w.workerId, w.daysPresent, w.hours, w.workedSeconds, w.flaggedDays]),
  ];
  return JSON.stringify(c.seq === 0 ? fields : [...fields, c.seq, c.prev]);
}

/** A close's digest, as the next one and the head name it: SHA-256 of what its tag covers (no key). */
function digestOf(c: PayrollClose): string {
  const { tag: _tag, ...unsigned } = c;
  return createHash('sha256').update(closeTagData(unsigned)).digest('base64url');
}

/**
 * The periods digest of a chain after `c`: SHA-256 of `[periods before, seq, from, to]`
 * (base64url; `''` for the empty chain).
 */
export function foldPeriods(periods: string, c: { seq: number; from: string; to: string }): string {
  return createHash('sha256')
    .update(JSON.stringify([periods, c.seq, c.from, c.to]))
    .digest('base64url');
}

/** What a head's periods tag covers. */
function periodsDataOf(siteId: string, seq: number, digest: string, periods: string): string {
  return JSON.stringify([siteId, seq, digest, periods]);
}

function isRaced(error: unknown): boolean {
  return error instanceof TimesheetsError && error.code === 'payroll_close_raced';
}

/** What a head's tag covers. */
function headDataOf(siteId: string, seq: number, digest: string): string {
  return JSON.stringify([siteId, seq, digest]);
}

function headOf(c: PayrollClose): { from: string; to: string; at: string; by: string } {
  return { from: c.from, to: c.to, at: new Date(c.at).toISOString(), by: c.by };
}

/** A site's chain in brief and its log's latest sealed size, as the sweep read them. */
interface SweptChain {
  read: Awaited<ReturnType<PayrollCloseRepository['chainPlaces']>>;
  sealed: number;
}

/** The closes (or places) linked into the chain: seq 0 is an earlier release's, not linked yet. */
function linkedOnly<T extends { seq: number }>(closes: readonly T[]): T[] {
  return closes.filter((c) => c.seq !== 0);
}
