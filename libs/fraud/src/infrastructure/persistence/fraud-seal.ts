import { Injectable, Logger } from '@nestjs/common';
import { LegacyTaggingRefusal } from '@app/persistence';
import { FraudEvent, FraudIntegrity, FraudReview } from '../../domain/fraud-event';
import type { FraudMetrics } from '../../fraud.metrics';
import { LegacyTaggedSeal } from './legacy-tagged-seal';

/**
 * What `keys:retag` does with one event and its review history, checked first as a read checks
 * them (FraudSeal.checkHistory, the stored times, the current review the history's last):
 * `tampered` (no held key vouches for it: left as it is, never re-tagged), `current` (every tag
 * made under the current key: left), or `retag` with the new tags (the event's, and every
 * review's in history order: the reviews from the first one under another key on, each chained
 * to the new tag of the one before) and the ids of the other keys the rows were tagged under;
 * or `suspect`: a row verifies only under a key the command was told not to trust
 * (`--except`, a leaked key, whose tags anyone holding it could have made): left as it is,
 * never re-tagged, `from` naming those keys.
 */
export type RetagPlan =
  | { kind: 'tampered' }
  | { kind: 'current' }
  | { kind: 'suspect'; from: string[] }
  | { kind: 'retag'; from: string[]; eventTag: string; reviewTags: string[] };

/**
 * The tags of fraud events and their reviews (StoreMac, purposes 'fraud-event' and
 * 'fraud-review'), written by the stores in the same write as the row and checked at every
 * read of rows.
 *
 * - An event's tag covers its every field (id, type, device, worker, site, packet, detail, time,
 *   the refused punch when it has one) and its current review (the copy the listing filters on), so a type, a severity (the type is
 *   the severity: it sets the weight), a time or a review decision changed in the database no
 *   longer verifies. A review rewrites it, in the same transaction.
 * - A review's tag covers the event's id, the review's place in the event's history (seq, from
 *   1), its id, decision, reason, actor and time, and the tag of the review before it: a review
 *   deleted, reordered or rewritten breaks the chain, and the event's current review must be the
 *   chain's last.
 * - Rows stored before the tags existed are tagged once, when the store is upgraded, over the same
 *   data prefixed with `"legacy"`: they read as `legacy` (never `verified`: nobody can vouch for
 *   what they held before the upgrade), and any change after the upgrade makes them `tampered`.
 */
@Injectable()
export class FraudSeal extends LegacyTaggedSeal {
  /**
   * Never forced (FRAUD_LEGACY_TAGGING only allows the tagging on a store with no marker and no
   * tagged row): with tagged fraud rows and no marker the tagging is refused whatever
   * FRAUD_LEGACY_TAGGING says (the marker is restored from a backup).
   */
  override readonly legacyTaggingForced = false;

  eventTag(e: FraudEvent, legacy = false): string {
    return this.mac.mac('fraud-event', eventData(e, legacy));
  }

  /** `verified`, `legacy` (tagged at the upgrade) or `tampered`. */
  eventIntegrity(e: FraudEvent, tag: unknown): FraudIntegrity {
    return this.formIntegrity('fraud-event', (legacy) => eventData(e, legacy), tag);
  }

  reviewTag(
    eventId: string,
    seq: number,
    r: FraudReview,
    previousTag: string | null,
    legacy = false,
  ): string {
    return this.mac.mac('fraud-review', reviewData(eventId, seq, r, previousTag, legacy));
  }

  reviewIntegrity(
    eventId: string,
    seq: number,
    r: FraudReview,
    previousTag: unknown,
    tag: unknown,
  ): FraudIntegrity {
    const prev = typeof previousTag === 'string' ? previousTag : null;
    const data = (legacy: boolean) => reviewData(eventId, seq, r, prev, legacy);
    return this.formIntegrity('fraud-review', data, tag);
  }

  /**
   * The re-tagging of an event already checked as a read checks it (`integrity` set on it and
   * on its reviews by the store's read and `checkHistory`), `eventTag` and `reviewTags` as
   * stored. A row is re-tagged only under the form it verifies in (legacy stays legacy), and
   * only when a held key vouches for it: a tampered event is never re-tagged (that would
   * launder it), nor one with a tag that verifies only under a key of `except` (`suspect`).
   */
  retagPlan(
    event: FraudEvent,
    eventTag: unknown,
    reviews: FraudReview[],
    reviewTags: unknown[],
    except: readonly string[] = [],
  ): RetagPlan {
    if (event.integrity !== 'verified' && event.integrity !== 'legacy') return { kind: 'tampered' };
    const current = this.mac.kid;
    const from = new Set<string>();
    const eventLegacy = event.integrity === 'legacy';
    const eventKid = this.mac.kidOf('fraud-event', eventData(event, eventLegacy), eventTag);
    if (eventKid === undefined) return { kind: 'tampered' };
    if (eventKid !== current) from.add(eventKid);
    const newReviewTags: string[] = [];
    let chainChanged = false;
    for (let i = 0; i < reviews.length; i++) {
      const r = reviews[i];
      if (r.integrity !== 'verified' && r.integrity !== 'legacy') return { kind: 'tampered' };
      const legacy = r.integrity === 'legacy';
      const oldPrevious = i > 0 ? (reviewTags[i - 1] as string) : null;
      const kid = this.mac.kidOf(
        'fraud-review',
        reviewData(event.id, i + 1, r, oldPrevious, legacy),
        reviewTags[i],
      );
      if (kid === undefined) return { kind: 'tampered' };
      if (kid !== current) from.add(kid);
      if (kid !== current || chainChanged) {
        const previous = i > 0 ? newReviewTags[i - 1] : null;
        newReviewTags.push(this.reviewTag(event.id, i + 1, r, previous, legacy));
        chainChanged = true;
      } else {
        newReviewTags.push(reviewTags[i] as string);
      }
    }
    const suspect = [...from].filter((kid) => except.includes(kid));
    if (suspect.length > 0) return { kind: 'suspect', from: suspect };
    if (from.size === 0) return { kind: 'current' };
    return {
      kind: 'retag',
      from: [...from],
      eventTag: eventKid === current ? (eventTag as string) : this.eventTag(event, eventLegacy),
      reviewTags: newReviewTags,
    };
  }

  /**
   * An event's review history checked: each review against its tag, its place (seqs 1..n, no
   * gap) and the review before it, and the last against the event's current review. Sets each
   * review's `integrity`; the event's becomes `tampered` when the history does not hold together
   * (a review deleted, moved or rewritten). `seqs`, `tags` and `timesCanonical` (each stored
   * time in the spelling the server writes) are in the order of `reviews`.
   */
  checkHistory(
    event: FraudEvent,
    reviews: FraudReview[],
    seqs: unknown[],
    tags: unknown[],
    timesCanonical: boolean[],
  ): void {
    let broken = false;
    for (let i = 0; i < reviews.length; i++) {
      const integrity =
        seqs[i] === i + 1 && timesCanonical[i]
          ? this.reviewIntegrity(event.id, i + 1, reviews[i], i > 0 ? tags[i - 1] : null, tags[i])
          : 'tampered';
      reviews[i].integrity = integrity;
      if (integrity === 'tampered') broken = true;
    }
    const last = reviews[reviews.length - 1];
    if ((last?.id ?? null) !== (event.review?.id ?? null)) broken = true;
    if (broken) event.integrity = 'tampered';
  }
}

/**
 * The legacy tagging refused at a start (`fraud_seal`'s marker gone while rows carry tags):
 * logged as an alarm and counted in `mdai_fraud_events_tampered_total` (its alert pages).
 */
export function alarmLegacyRefused(
  logger: Logger,
  metrics?: FraudMetrics,
  reason: LegacyRefusal = 'tagged_rows',
): void {
  metrics?.tamperedFound(1);
  logger.error(LEGACY_REFUSALS[reason]);
}

/** Why a start refused the legacy tagging. */
export type LegacyRefusal = LegacyTaggingRefusal;

/** What the log and /health say of each refusal. */
export const LEGACY_REFUSALS: Record<LegacyRefusal, string> = {
  tagged_rows:
    'ALARM: the fraud_seal marker is gone but fraud rows already carry tags: the legacy tagging was not run (it would mark rows written outside the server as legacy); untagged rows read as tampered. Restore fraud_seal from a backup',
  not_allowed:
    'ALARM: untagged fraud rows, no fraud_seal marker and no tagged row, and FRAUD_LEGACY_TAGGING is off: the legacy tagging was not run; untagged rows read as tampered. If this start upgrades a store from a version without fraud tags, restart once with FRAUD_LEGACY_TAGGING=1; otherwise every tagged fraud row and the marker were deleted outside the server: restore them from a backup',
};

/** An ISO time, or what a stored value that is not a date reads as (it then fails its tag). */
function iso(at: Date): string {
  return Number.isNaN(at.getTime()) ? 'invalid' : at.toISOString();
}

function eventData(e: FraudEvent, legacy: boolean): string {
  const r = e.review;
  const data: unknown[] = [
    e.id,
    e.type,
    e.deviceId ?? null,
    e.workerId ?? null,
    e.siteId ?? null,
    e.packetId ?? null,
    e.detail,
    iso(e.at),
    r ? [r.id, r.decision, r.reason, r.by, iso(r.at)] : null,
  ];
  // the refused punch, only when the event has one: an event without (every one recorded before
  // it was kept) is tagged over the same data as before, so its tag still verifies
  if (e.punch) data.push(['punch', e.punch.type, iso(e.punch.at)]);
  return JSON.stringify(legacy ? ['legacy', ...data] : data);
}

function reviewData(
  eventId: string,
  seq: number,
  r: FraudReview,
  previousTag: string | null,
  legacy: boolean,
): string {
  const data = [eventId, seq, r.id, r.decision, r.reason, r.by, iso(r.at), previousTag];
  return JSON.stringify(legacy ? ['legacy', ...data] : data);
}
