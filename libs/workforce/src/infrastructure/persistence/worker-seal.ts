import { Injectable, Logger } from '@nestjs/common';
import { LegacyTaggedSeal, RowRetag } from '@app/fraud';
import { LegacyTaggingRefusal } from '@app/persistence';
import { Worker, WorkerIntegrity } from '../../domain/workforce';
import { WorkforceError } from '../../workforce.errors';

/**
 * The store-MAC tags of workers (StoreMac, purpose 'worker-state'), made the way KioskSeal tags
 * a kiosk's state: written by the stores in the same write as the row (creation, a change of
 * name, phone or sites, a deactivation or reactivation), checked at every read.
 *
 * - The tag covers every field a decision reads: the id, name and phone (where the payroll
 *   pays), the sites (where the worker's punches are taken), the status and when it changed,
 *   the trust score, the sponsor and the end of the inherited trust, the creation time, and the
 *   id of the worker's newest event (none: null). A field changed in the database (an inactive
 *   worker set active, a site added, another phone, a higher trust score) reads `tampered`, and
 *   a tampered worker is refused wherever it is used: its phones' syncs and token refreshes,
 *   registrations and enrollment codes (403 `worker_tampered`), the payroll and CSV exports of
 *   its sites (503 `worker_tampered`), and an admin's change of it or a new enrollment code (403 `worker_tampered`).
 * - The state reads as the server's only when the event it names is the worker's newest as
 *   stored (by write order, not by date): a `deactivated` event deleted from under a row that
 *   names it, or an event inserted after it, reads `tampered` too.
 * - Not caught (docs/architecture.md): the row and its newest events put back whole as they
 *   were at an earlier time (a row saved while active, with the `deactivated` event after it
 *   deleted) verify; only a copy kept outside the database (a backup) tells it. The events'
 *   own fields (who, why, the sites before a change) carry no tag.
 * - Rows stored before the tags are tagged once, at the first start with them, over the same
 *   data prefixed with `"legacy"`, bound to the worker's newest event then (the fraud tags'
 *   rule and switch: FRAUD_LEGACY_TAGGING, the `worker_seal` marker; tagLegacyRowsOnceSqlite
 *   and tagLegacyRowsOnceMongo). They read `legacy` until the worker's next change.
 * - No API write repairs a tampered worker (each would vouch for fields nobody checked): the
 *   row is restored from a backup (`npm run backup`'s copy), which then verifies again.
 */
@Injectable()
export class WorkerSeal extends LegacyTaggedSeal {
  /** The tag of `worker` as written with `eventId` its newest event (null: none). */
  tag(worker: Worker, eventId: string | null, legacy = false): string {
    return this.mac.mac('worker-state', stateData(worker, eventId, legacy));
  }

  /**
   * Whether a stored worker is the server's: its tag verifies over its fields and the event it
   * names (`stored.eventId`), and that event is its newest as stored (`newestEventId`;
   * undefined: it has none).
   */
  integrity(
    worker: Worker,
    stored: WorkerStoredTag,
    newestEventId: string | undefined,
  ): WorkerIntegrity {
    const eventId = typeof stored.eventId === 'string' ? stored.eventId : null;
    if (eventId !== (newestEventId ?? null)) return 'tampered';
    const found = this.vouchedAs(worker, eventId, stored.tag);
    if (!found) return 'tampered';
    return found.legacy ? 'legacy' : 'verified';
  }

  /** The worker as read with its tag checked (`integrity` set; its fields as stored). */
  checked(worker: Worker, stored: WorkerStoredTag, newestEventId: string | undefined): Worker {
    worker.integrity = this.integrity(worker, stored, newestEventId);
    return worker;
  }

  /**
   * What `keys:retag` makes of one worker as stored (`integrity`: as a read checked it): the
   * same for both stores, which only read the row and write what it returns. Re-tagged under the
   * current key, in the form it verifies in (legacy stays legacy), when a held key other than
   * the current one vouches for it; a worker no held key vouches for (or that a read found
   * tampered) is `tampered`, never re-tagged (that would launder it); one that verifies only
   * under a key of `except` (a leaked key) is `suspect`, left as it is.
   */
  retagPlan(worker: Worker, stored: WorkerStoredTag, integrity: WorkerIntegrity): WorkerRetagPlan {
    const eventId = typeof stored.eventId === 'string' ? stored.eventId : null;
    const found =
      integrity === 'tampered' ? undefined : this.vouchedAs(worker, eventId, stored.tag);
    return this.retagRow('worker-state', found);
  }

  /**
   * `keys:retag` of one worker as a store read it (`worker` mapped from its row, `stored` its tag
   * and the event it names, `newestEventId` its newest event as stored): checked as a read checks
   * it, planned (retagPlan), `except` applied (workerRetagOutcome). Both stores write `plan.tag`
   * when the outcome is `retagged`.
   */
  retag(
    worker: Worker,
    stored: WorkerStoredTag,
    newestEventId: string | undefined,
    except: readonly string[],
  ): { plan: WorkerRetagPlan; outcome: WorkerRetagOutcome } {
    const plan = this.retagPlan(worker, stored, this.integrity(worker, stored, newestEventId));
    return { plan, outcome: workerRetagOutcome(worker.id, plan, except) };
  }

  /** The held key the tag verifies under, and in which form (undefined: none). */
  private vouchedAs(worker: Worker, eventId: string | null, tag: unknown) {
    return this.vouched('worker-state', (legacy) => stateData(worker, eventId, legacy), tag);
  }
}

/** A worker's tag as stored, with the event it names (absent: none). */
export interface WorkerStoredTag {
  tag: unknown;
  eventId: unknown;
}

/**
 * What `keys:retag` writes for one worker (WorkerSeal.retagPlan): never `suspect` (its `except`
 * is applied by workerRetagOutcome).
 */
export type WorkerRetagPlan = RowRetag;

/**
 * What `keys:retag` did with one worker: `from` the key it was under (re-tagged; suspect: the
 * excepted key it verifies under, left; changed: a server changed it meanwhile, left: run again).
 */
export interface WorkerRetagOutcome {
  workerId: string;
  result: 'retagged' | 'current' | 'changed' | 'tampered' | 'suspect';
  from?: string;
}

/** The outcome of a plan, `except` (`--except`, leaked keys) applied: a suspect one is not written. */
export function workerRetagOutcome(
  workerId: string,
  plan: WorkerRetagPlan,
  except: readonly string[],
): WorkerRetagOutcome {
  if (plan.from !== undefined && except.includes(plan.from)) {
    return { workerId, result: 'suspect', from: plan.from };
  }
  return { workerId, result: plan.result, ...(plan.from !== undefined ? { from: plan.from } : {}) };
}

/** 403 `worker_tampered`: an admin's change of a worker whose stored record is not the server's. */
export function workerTampered(): WorkforceError {
  return new WorkforceError(
    'worker_tampered',
    "The worker's stored record was changed outside the server: it is refused until restored from a backup",
  );
}

export const WORKER_LEGACY_REFUSALS: Record<LegacyTaggingRefusal, string> = {
  tagged_rows:
    'ALARM: no worker_seal marker but workers already carry tags: the legacy tagging was not run (it would mark rows written outside the server as legacy); untagged workers read as tampered (refused: worker_tampered). If this is an upgrade first started without FRAUD_LEGACY_TAGGING=1 (workers created since), restart once with FRAUD_LEGACY_TAGGING=1 set explicitly; otherwise restore the workers and worker_seal from a backup',
  not_allowed:
    'ALARM: untagged workers, no worker_seal marker and no tagged row, and FRAUD_LEGACY_TAGGING is off: the legacy tagging was not run; untagged workers read as tampered (refused: worker_tampered). If this start upgrades a store from a version without worker tags, restart once with FRAUD_LEGACY_TAGGING=1',
};

export function alarmWorkerLegacyRefused(logger: Logger, reason: LegacyTaggingRefusal): void {
  logger.error(WORKER_LEGACY_REFUSALS[reason]);
}

function iso(at: Date | undefined): string | null {
  if (at === undefined) return null;
  return Number.isNaN(at.getTime()) ? 'invalid' : at.toISOString();
}

function stateData(w: Worker, eventId: string | null, legacy: boolean): string {
  const sponsor =
    w.sponsor.kind === 'thekedar'
      ? [w.sponsor.kind, w.sponsor.thekedarId]
      : [w.sponsor.kind, w.sponsor.actor];
  const data = [
    w.id,
    w.name,
    w.phone,
    w.siteIds,
    w.status,
    iso(w.statusChangedAt),
    w.trustScore,
    sponsor,
    iso(w.trustInheritedUntil),
    iso(w.createdAt),
    eventId,
  ];
  return JSON.stringify(legacy ? ['legacy', ...data] : data);
}
