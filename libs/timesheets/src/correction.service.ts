import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { actorOf, Clock, jcs } from '@app/common';
import { offlineTokenConfig, OfflineTokenSettings } from '@app/device-trust';
import { WorkforceService } from '@app/workforce';
import { AttendanceMeta, LedgerService } from '@app/offline-sync';
import { CorrectionAuthor, CorrectionData } from './domain/correction';
import { projectLink, TimesheetEntry } from './domain/timesheet-entry';
import { CorrectionResponse, CreateCorrectionDto } from './dto/timesheet.dto';
import { TimesheetRepository } from './infrastructure/persistence/timesheet.repository';
import { TimesheetActor } from './timesheet-access.guard';
import { TimesheetProjector } from './timesheet-projector.service';
import { timesheetsConfig, TimesheetsSettings } from './timesheets.config';
import { TimesheetsError } from './timesheets.errors';

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

  constructor(
    private readonly ledger: LedgerService,
    private readonly projector: TimesheetProjector,
    private readonly repo: TimesheetRepository,
    private readonly workforce: WorkforceService,
    private readonly clock: Clock,
    @Inject(timesheetsConfig.KEY) timesheetsSettings: TimesheetsSettings,
    @Inject(offlineTokenConfig.KEY) offlineTokenSettings: OfflineTokenSettings,
  ) {
    this.maxShiftMs = timesheetsSettings.maxShiftHours * 3_600_000;
    this.skewMs = offlineTokenSettings.maxClockSkewSeconds * 1000;
  }

  async correct(
    siteId: string,
    body: CreateCorrectionDto,
    actor: TimesheetActor,
  ): Promise<CorrectionResponse> {
    if (body.target.siteId !== siteId) {
      throw new TimesheetsError(
        'cross_site_correction',
        "A correction goes to the chain of its target's site: target.siteId must be this site",
      );
    }
    await this.projector.ensureCurrent(siteId);
    const [log] = await this.ledger.readChain(siteId, body.target.seq - 1, 1);
    const projected = log?.seq === body.target.seq ? projectLink(log) : undefined;
    if (!log || log.seq !== body.target.seq) {
      throw new TimesheetsError('entry_not_found', 'This site has no ledger entry with that seq');
    }
    if (!projected)
      throw new TimesheetsError('not_correctable', 'This entry is not a punch or a correction');
    const [target] = await this.repo.findEntries(siteId, [body.target.seq]);
    if (!target)
      throw new TimesheetsError(
        'timesheets_behind',
        'The timesheet read model is catching up; retry',
      );
    if (actor.kind === 'thekedar') {
      const crew = await this.workforce.workerIdsOfThekedar(actor.signed.thekedarId);
      if (!crew.includes(target.workerId)) {
        throw new TimesheetsError(
          'worker_not_in_crew',
          'A thekedar corrects only the workers it onboarded',
        );
      }
    }
    const now = this.clock.now();
    const at = this.checkAction(body, target, now);
    const correctionId = body.correctionId ?? randomUUID();
    const data: CorrectionData = {
      kind: 'timesheet_correction',
      packetId: correctionId,
      siteId,
      workerId: target.workerId,
      action: body.action,
      target: { siteId, seq: log.seq, recordHash: log.recordHash },
      ...(at !== undefined ? { at: new Date(at).toISOString() } : {}),
      reason: body.reason,
      by: authorOf(actor),
    };
    const meta: AttendanceMeta = {
      isOfflineSync: false,
      syncTimestamp: now.toISOString(),
      ...(actor.kind === 'thekedar' ? { deviceTrustScore: actor.signed.trustScore } : {}),
    };
    const [result] = await this.ledger.append([
      { siteId, packetId: correctionId, data: { ...data }, meta },
    ]);
    if (result.status === 'duplicate' && !sameCorrection(result.log.data, data)) {
      throw new TimesheetsError(
        'correction_id_conflict',
        'correctionId is already used by another entry',
      );
    }
    this.logger.log(
      { siteId, seq: result.log.seq, action: body.action, targetSeq: log.seq, by: data.by.kind },
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

  /** Checks the action against the target's current state; returns the time it sets (ms). */
  private checkAction(
    body: CreateCorrectionDto,
    target: TimesheetEntry,
    now: Date,
  ): number | undefined {
    const at = body.at !== undefined ? Date.parse(body.at) : undefined;
    if (at !== undefined && at > now.getTime() + this.skewMs) {
      throw new TimesheetsError('time_in_future', 'at is in the future');
    }
    switch (body.action) {
      case 'void':
        if (at !== undefined) throw new TimesheetsError('unexpected_time', 'void takes no at');
        if (target.voided)
          throw new TimesheetsError('already_voided', 'This entry is already voided');
        return undefined;
      case 'add_check_out':
        if (target.kind !== 'punch' || target.punchType !== 'check_in') {
          throw new TimesheetsError('not_a_check_in', 'add_check_out targets a check-in punch');
        }
        if (target.voided) throw new TimesheetsError('target_voided', 'This check-in is voided');
        if (at === undefined) throw new TimesheetsError('time_required', 'add_check_out needs at');
        if (at <= target.effectiveAt! || at - target.effectiveAt! > this.maxShiftMs) {
          throw new TimesheetsError(
            'check_out_out_of_range',
            'at must be after the check-in and within TIMESHEET_MAX_SHIFT_HOURS of it',
          );
        }
        return at;
      case 'move':
        if (target.punchType === undefined) {
          throw new TimesheetsError('not_a_punch', 'move targets a punch or an added check-out');
        }
        if (target.voided) throw new TimesheetsError('target_voided', 'This entry is voided');
        if (at === undefined) throw new TimesheetsError('time_required', 'move needs at');
        return at;
    }
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
  const { by: _a, ...a } = stored as CorrectionData;
  const { by: _b, ...b } = fresh;
  return jcs(a) === jcs(b);
}
