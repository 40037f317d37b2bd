import { newId } from '@app/common';
import { LegacyTaggingRefusal, LegacyTaggingState } from '@app/persistence';
import {
  EnrollmentCode,
  maskPhone,
  PhoneTaken,
  Site,
  Thekedar,
  Worker,
  WorkerEvent,
  WorkerEventAction,
  WorkerStatus,
} from '../../domain/workforce';
import { RecordRetagOutcome } from './site-seal';
import { WorkerRetagOutcome } from './worker-seal';

export interface WorkforcePage {
  limit: number;
  /** Keyset pagination: only records whose id sorts after this one. */
  afterId?: string;
}

/** What an operator may change of a worker (its status has its own write: setWorkerStatus). */
export type WorkerChanges = Partial<Pick<Worker, 'name' | 'phone' | 'siteIds'>>;

/** Who changes a worker, when (and why): the audit event of the change is made of it. */
export interface WorkerAudit {
  /** The event's id. */
  id: string;
  /** The id of the `phone_changed` event (the same change may record another): a new one if none. */
  phoneEventId?: string;
  actor: string;
  reason?: string;
  at: Date;
}

/**
 * The event `audit` records of `action` on a worker (`sites`, of a site change: its sites
 * after it and before it).
 */
export function workerEventOf(
  audit: WorkerAudit,
  workerId: string,
  action: WorkerEventAction,
  sites?: { after: string[]; before: string[] },
): WorkerEvent {
  return {
    id: audit.id,
    workerId,
    action,
    actor: audit.actor,
    ...(audit.reason !== undefined ? { reason: audit.reason } : {}),
    ...(sites ? { siteIds: [...sites.after], previousSiteIds: [...sites.before] } : {}),
    at: audit.at,
  };
}

/**
 * The `phone_changed` event of a change of the worker's phone from `before` to `after` (where
 * its pay goes), both masked; undefined when the number stays.
 */
export function phoneEventOf(
  audit: WorkerAudit,
  workerId: string,
  before: string,
  after: string | undefined,
): WorkerEvent | undefined {
  if (after === undefined || after === before) return undefined;
  return {
    id: audit.phoneEventId ?? newId(),
    workerId,
    action: 'phone_changed',
    actor: audit.actor,
    phone: maskPhone(after),
    previousPhone: maskPhone(before),
    at: audit.at,
  };
}

/** A workers' listing: with `siteId`, those assigned to it; with `status`, those in it. */
export type WorkerListing = WorkforcePage & { siteId?: string; status?: WorkerStatus };

/** What an operator may change of a site (not its time zone: it would move every worker-day). */
export type SiteChanges = Partial<Pick<Site, 'name' | 'geo' | 'radiusM'>>;

/** The records SiteSeal and ThekedarSeal tag. */
export type SealedRecordKind = 'site' | 'thekedar';

/** Sites, thekedars, workers and their single-use enrollment codes. */
export abstract class WorkforceRepository {
  /** Why this start refused the workers' legacy tagging (undefined when it did not). */
  legacyRefused?: LegacyTaggingRefusal;
  /** The workers' legacy tagging (WorkerSeal); `refused: false` and nothing else without tags. */
  abstract legacySeal(): Promise<LegacyTaggingState>;
  /**
   * `keys:retag`: the workers after `afterId` (by id, `limit` of them), each tag that verifies
   * under a held key other than the current one re-tagged under the current one (legacy stays
   * legacy), each only as read; never a tampered one, nor one under a key of `except`.
   */
  abstract retagPage(
    afterId: string,
    limit: number,
    except: readonly string[],
  ): Promise<WorkerRetagOutcome[]>;
  /** Why this start refused the sites' or the thekedars' legacy tagging (SiteSeal, ThekedarSeal). */
  recordsLegacyRefused: Partial<Record<SealedRecordKind, LegacyTaggingRefusal>> = {};
  /** The sites' or the thekedars' legacy tagging (markers `site_seal`, `thekedar_seal`). */
  abstract recordsLegacySeal(kind: SealedRecordKind): Promise<LegacyTaggingState>;
  /** `keys:retag` of sites or thekedars: `retagPage`'s rule, by id (none: not tagged here). */
  async retagRecordsPage(
    kind: SealedRecordKind,
    afterId: string,
    limit: number,
    except: readonly string[],
  ): Promise<RecordRetagOutcome[]> {
    const out: RecordRetagOutcome[] = [];
    for (const id of await this.retagRecordIds(kind, afterId, limit)) {
      const outcome = await this.retagRecord(kind, id, except);
      if (outcome) out.push(outcome);
    }
    return out;
  }
  /** retagRecordsPage's ids (by id, after `afterId`); none when this store does not tag `kind`. */
  protected abstract retagRecordIds(
    kind: SealedRecordKind,
    afterId: string,
    limit: number,
  ): Promise<string[]>;
  /** `keys:retag` of one site or thekedar as read, written only as read (undefined: gone). */
  protected abstract retagRecord(
    kind: SealedRecordKind,
    id: string,
    except: readonly string[],
  ): Promise<RecordRetagOutcome | undefined>;
  abstract createSite(site: Site): Promise<void>;
  /** Sites in id order (ids are time-ordered ObjectIds: oldest first). */
  abstract listSites(page: WorkforcePage): Promise<Site[]>;
  abstract listThekedars(page: WorkforcePage): Promise<Thekedar[]>;
  /** Workers in id order; with `siteId`, only those assigned to that site; with `status`, in it. */
  abstract listWorkers(page: WorkerListing): Promise<Worker[]>;
  /** The sites among `ids` that exist (any order). */
  abstract findSitesByIds(ids: string[]): Promise<Site[]>;
  /** Up to `limit` site ids greater than `afterId`, ascending (walking every site, e.g. a rebuild). */
  abstract listSiteIds(afterId: string, limit: number): Promise<string[]>;
  /** Ids (ascending) of the workers a thekedar onboarded (sponsor = that thekedar). */
  abstract listWorkerIdsOfThekedar(thekedarId: string): Promise<string[]>;
  /** Creates the thekedar and its enrollment code together. */
  abstract createThekedar(thekedar: Thekedar, enrollment: EnrollmentCode): Promise<void>;
  /**
   * Creates the worker and its enrollment code together, and claims its phone's
   * `phoneClaims` in the same write: when another worker holds one of them, nothing is stored
   * and that is the answer (exactly one of concurrent creations of one claim stores).
   */
  abstract createWorker(
    worker: Worker,
    enrollment: EnrollmentCode,
  ): Promise<PhoneTaken | undefined>;
  /** Whether a code of this worker was spent (a phone registered with it). */
  abstract hasSpentEnrollment(workerId: string): Promise<boolean>;
  abstract findWorkerById(id: string): Promise<Worker | undefined>;
  /** The workers among `ids` that exist (any order). */
  abstract findWorkersByIds(ids: string[]): Promise<Worker[]>;
  /**
   * Sets the given fields; the worker as it is then, undefined when no worker has this id. The
   * worker's claims follow in the same write: a new phone moves them all, new sites claim the
   * phone at each site added and release it at each site removed (an inactive worker holds
   * none: its record changes alone); PhoneTaken, and nothing changed, when another worker holds
   * one of them. Sites that change (as a set) are recorded as a `sites_changed` event of
   * `audit` in that write.
   */
  abstract updateWorker(
    id: string,
    changes: WorkerChanges,
    audit: WorkerAudit,
  ): Promise<Worker | PhoneTaken | undefined>;
  /**
   * Deactivates (`inactive`: its claims released) or reactivates (`active`: its claims taken
   * again) the worker, with its `deactivated` / `reactivated` event of `audit`, in one write.
   * PhoneTaken, and nothing changed, when another worker took one of its claims meanwhile; the
   * worker unchanged, and no event, when it is in `status` already; undefined when no worker
   * has this id.
   */
  abstract setWorkerStatus(
    id: string,
    status: WorkerStatus,
    audit: WorkerAudit,
  ): Promise<Worker | PhoneTaken | undefined>;
  /** A worker's events (status and site changes), oldest first. */
  abstract listWorkerEvents(workerId: string): Promise<WorkerEvent[]>;
  /** Sets the given fields; the site as it is then, undefined when no site has this id. */
  abstract updateSite(id: string, changes: SiteChanges): Promise<Site | undefined>;
  /**
   * Makes `enrollment` (of a worker or a thekedar: `personKind`) that person's only code that
   * can still be spent: its earlier unused codes stop working in the same write (spent ones are
   * kept: which device each registered). false, and nothing stored, when no person of that
   * kind has `enrollment.personId`.
   */
  abstract replaceEnrollment(enrollment: EnrollmentCode): Promise<boolean>;
  abstract findThekedarById(id: string): Promise<Thekedar | undefined>;
  /**
   * Sets the sites a thekedar works on (the caller checked that they exist); the thekedar as
   * it is then, undefined when no thekedar has this id. Its workers keep their sites.
   */
  abstract updateThekedarSites(id: string, siteIds: string[]): Promise<Thekedar | undefined>;
  abstract findEnrollment(codeHash: string): Promise<EnrollmentCode | undefined>;
  /**
   * Marks the code used by `deviceId` if it is unused and not expired at `at`, with `tag` (the
   * caller's tag of it spent). Exactly one of any number of concurrent calls for one code
   * returns true.
   */
  abstract markEnrollmentUsed(
    codeHash: string,
    deviceId: string,
    at: Date,
    tag: string,
  ): Promise<boolean>;
  /**
   * Undoes `markEnrollmentUsed` for a registration that failed after it (its device was not
   * stored): the code is unused again if `deviceId` used it and it is still the person's
   * latest code (none issued or used after it), with `tag` (the caller's tag of it unused).
   * true when it was released.
   */
  abstract releaseEnrollment(codeHash: string, deviceId: string, tag: string): Promise<boolean>;
}
