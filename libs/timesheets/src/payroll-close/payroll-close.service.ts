import { Injectable, Logger } from '@nestjs/common';
import { actorOf, Clock, localDay, Principal } from '@app/common';
import { StoreMac } from '@app/tlog';
import { PayrollWorkerView } from '../dto/timesheet.dto';
import { TimesheetsError } from '../timesheets.errors';
import { TimesheetProjector } from '../timesheet-projector.service';
import { Scope, TimesheetsService } from '../timesheets.service';
import {
  ClosedWorkerTotals,
  CloseRetagOutcome,
  CloseRetagPlan,
  PayrollClose,
  PayrollCloseRepository,
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
 */
@Injectable()
export class PayrollCloseService {
  private readonly logger = new Logger(PayrollCloseService.name);

  constructor(
    private readonly repo: PayrollCloseRepository,
    private readonly timesheets: TimesheetsService,
    private readonly projector: TimesheetProjector,
    private readonly mac: StoreMac,
    private readonly clock: Clock,
  ) {}

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
    const unsigned = {
      siteId: scope.siteId,
      from: scope.from,
      to: scope.to,
      at: this.clock.now().getTime(),
      by: actorOf(principal),
      workers,
    };
    const result = await this.repo.record({ ...unsigned, tag: this.tagOf(unsigned) });
    if (result.status === 'overlaps') {
      throw new TimesheetsError(
        'period_overlaps_close',
        `The period overlaps the closed period ${result.close.from} to ${result.close.to} of this site: a day is closed once`,
      );
    }
    this.checked(result.close);
    if (result.status === 'closed') {
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
  ): Promise<Array<PayrollClose & { integrity: 'verified' | 'tampered' }>> {
    const closes = await this.repo.list(siteId, limit, before);
    return closes.map((c) => ({ ...c, integrity: this.verifies(c) ? 'verified' : 'tampered' }));
  }

  /**
   * The payroll of the scope with its close: a read of exactly a closed period carries
   * `closed` and, per worker, the totals at the close and the change since (a worker whose
   * days are all gone since shows with zeros); a read overlapping closes otherwise names them.
   */
  async withClose(scope: Scope, workers: PayrollWorkerView[]): Promise<PayrollWithClose> {
    const closes = await this.repo.overlapping(scope.siteId, scope.from, scope.to);
    if (closes.length === 0) return { workers };
    closes.forEach((c) => this.checked(c));
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

  private retagPlan(close: PayrollClose, except: readonly string[]): CloseRetagPlan {
    const { tag, ...unsigned } = close;
    const data = dataOf(unsigned);
    const kid = this.mac.kidOf('payroll-close', data, tag);
    if (kid === undefined) return { result: 'tampered' };
    if (kid === this.mac.kid) return { result: 'current' };
    if (except.includes(kid)) return { result: 'suspect', from: kid };
    return { result: 'retagged', from: kid, tag: this.mac.mac('payroll-close', data) };
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
    return this.mac.verify('payroll-close', dataOf(unsigned), tag);
  }

  private tagOf(close: Omit<PayrollClose, 'tag'>): string {
    return this.mac.mac('payroll-close', dataOf(close));
  }
}

/** What a close's tag covers: every stored field, in one fixed order. */
function dataOf(c: Omit<PayrollClose, 'tag'>): string {
  return JSON.stringify([
    c.siteId,
    c.from,
    c.to,
    c.at,
    c.by,
    c.workers.map((w) => [w.workerId, w.daysPresent, w.hours, w.workedSeconds, w.flaggedDays]),
  ]);
}

function headOf(c: PayrollClose): { from: string; to: string; at: string; by: string } {
  return { from: c.from, to: c.to, at: new Date(c.at).toISOString(), by: c.by };
}
