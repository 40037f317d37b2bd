import { LegacyTaggingSwitch, legacyTaggingSwitch } from '@app/persistence';
import type { StoreMac, StoreMacPurpose } from '@app/tlog';
import type { RecordIntegrity } from '../../domain/workforce';
import type { WorkerRetagPlan } from './worker-seal';

/**
 * The small part a record seal with no event to bind to (SiteSeal, ThekedarSeal) shares: a
 * StoreMac tag of one purpose over the record's fields (`data`), in its current or its legacy
 * form (`["legacy", ...data]`: a row from before the tags, tagged once at the upgrade), checked
 * at every read and re-tagged by `keys:retag` as WorkerSeal's are (WorkerRetagPlan).
 */
export abstract class RecordSeal<T> implements LegacyTaggingSwitch {
  readonly legacyTaggingAllowed: boolean;
  readonly legacyTaggingForced: boolean;

  protected constructor(
    private readonly mac: StoreMac,
    private readonly purpose: StoreMacPurpose,
    settings?: { legacyTagging?: boolean; legacyTaggingExplicit?: boolean },
  ) {
    const rule = legacyTaggingSwitch(settings);
    this.legacyTaggingAllowed = rule.legacyTaggingAllowed;
    this.legacyTaggingForced = rule.legacyTaggingForced;
  }

  /** Every field of the record a decision reads, in a fixed order. */
  protected abstract data(record: T): unknown[];

  /** The record's tag (`legacy`: in the form the legacy tagging writes). */
  tag(record: T, legacy = false): string {
    return this.mac.mac(this.purpose, this.encode(record, legacy));
  }

  /** Whether `tag` (as stored: null, absent, anything) vouches for the record as read. */
  integrity(record: T, tag: unknown): RecordIntegrity {
    const found = this.vouched(record, tag);
    if (!found) return 'tampered';
    return found.legacy ? 'legacy' : 'verified';
  }

  /** The record as read with `integrity` set. */
  checked<R extends T & { integrity?: RecordIntegrity }>(record: R, tag: unknown): R {
    record.integrity = this.integrity(record, tag);
    return record;
  }

  /** What `keys:retag` makes of one record as stored: WorkerSeal.retagPlan's rule. */
  retagPlan(record: T, tag: unknown): WorkerRetagPlan {
    const found = this.vouched(record, tag);
    if (!found) return { result: 'tampered' };
    if (found.kid === this.mac.kid) return { result: 'current' };
    return { result: 'retagged', from: found.kid, tag: this.tag(record, found.legacy) };
  }

  private vouched(record: T, tag: unknown): { kid: string; legacy: boolean } | undefined {
    for (const legacy of [false, true]) {
      const kid = this.mac.kidOf(this.purpose, this.encode(record, legacy), tag);
      if (kid !== undefined) return { kid, legacy };
    }
    return undefined;
  }

  private encode(record: T, legacy: boolean): string {
    const data = this.data(record);
    return JSON.stringify(legacy ? ['legacy', ...data] : data);
  }
}

/** What `keys:retag` did with one site or thekedar (as WorkerRetagOutcome, by `id`). */
export interface RecordRetagOutcome {
  id: string;
  result: 'retagged' | 'current' | 'changed' | 'tampered' | 'suspect';
  from?: string;
}

/** The outcome of a plan, `except` (leaked keys) applied: a suspect one is not written. */
export function recordRetagOutcome(
  id: string,
  plan: WorkerRetagPlan,
  except: readonly string[],
): RecordRetagOutcome {
  if (plan.from !== undefined && except.includes(plan.from)) {
    return { id, result: 'suspect', from: plan.from };
  }
  return { id, result: plan.result, ...(plan.from !== undefined ? { from: plan.from } : {}) };
}

/** An instant as tagged (absent: null; an invalid date: 'invalid'). */
export function tagIso(at: Date | undefined): string | null {
  if (at === undefined) return null;
  return Number.isNaN(at.getTime()) ? 'invalid' : at.toISOString();
}
