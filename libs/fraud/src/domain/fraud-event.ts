/**
 * Why something looked like fraud. Sync rejections are recorded with their reason as the
 * type; the pattern rules (accepted but flagged packets) and assisted onboarding add theirs.
 */
export const FRAUD_EVENT_TYPES = [
  'invalid_token',
  'unknown_device',
  'device_blocked',
  'invalid_signature',
  'malformed_packet',
  'device_mismatch',
  'worker_mismatch',
  'site_not_allowed',
  'timestamp_in_future',
  'timestamp_too_old',
  'outside_token_window',
  'packet_id_conflict',
  // pattern rules: the packet is accepted and flagged
  'impossible_travel',
  'outside_geofence',
  'rapid_repeat',
  'shared_device',
  // assisted onboarding (thekedar-signed worker creation), refused
  'onboarding_signature_invalid',
  'onboarding_replay',
  'onboarding_stale_timestamp',
  // one device sent more than FRAUD_DEVICE_PER_MINUTE distinct signed packets a minute refused
  // for a reason of PACKET_FLOOD_TYPES (a bug of the app or a forger): one per device, type and
  // minute
  'packet_flood',
] as const;
export type FraudEventType = (typeof FRAUD_EVENT_TYPES)[number];

/**
 * The types a device's trust history reads (all but `device_blocked`, a sync refused while
 * blocked, which weighs nothing): the history is read per type, the newest of each.
 */
export const WEIGHING_EVENT_TYPES: readonly FraudEventType[] = FRAUD_EVENT_TYPES.filter(
  (t) => t !== 'device_blocked',
);

/**
 * The sync rejections a working app never sends in bulk (docs/phone-client.md: "a bug of the
 * app") of packets whose HMAC verified, so made by a holder of the device's signing secret: a
 * device over FRAUD_DEVICE_PER_MINUTE distinct packets of one of them in a minute gets a
 * `packet_flood` event (stored, weighed by the trust score), once per type and minute, besides
 * the rows of the budget. The rejections decided before or without the signature
 * (`malformed_packet`, `device_mismatch`, `invalid_signature`) are not among them (review: a
 * phone's bearer token alone, without its secret, blocked it; an app and server version skew
 * would make every queued packet `malformed_packet` and block the fleet): over the budget they
 * are counted only, as are the other types (a phone back from weeks offline may send hundreds
 * of `timestamp_too_old` packets, honestly).
 */
export const PACKET_FLOOD_TYPES: ReadonlySet<FraudEventType> = new Set<FraudEventType>([
  'worker_mismatch',
  'packet_id_conflict',
]);

/**
 * The sync rejections decided before or without a verified signature (OfflineSyncService.judge:
 * the packet's shape, then its deviceId against the token's, then its HMAC): whoever holds a
 * phone's bearer token sends them, without its signing secret, and so does an app the server
 * does not understand yet (its packets `malformed_packet`). They are recorded and listed as
 * every rejection, never make a `packet_flood` (PACKET_FLOOD_TYPES), and weigh on the trust
 * score together at most `unsignedPenaltyCap` (libs/device-trust: half of the device's baseline −
 * the auto-block floor, at most 30), never enough to block a device by themselves, and leaving it
 * half its margin for its own signed events.
 */
export const UNSIGNED_REJECTION_TYPES: ReadonlySet<FraudEventType> = new Set<FraudEventType>([
  'malformed_packet',
  'device_mismatch',
  'invalid_signature',
]);

/**
 * The refusals of an authentic punch: a packet well formed, signed with the device's secret
 * (its HMAC verified) and naming the token's own worker, refused for its site or its time. Its
 * fraud event records the punch (`FraudEvent.punch`: its type and claimed time; its site is the
 * event's `siteId`), so a payroll clerk can pay it from a paper register (the payroll's
 * `refusedPunches`). `worker_mismatch` names another worker (not this worker's punch) and
 * `packet_id_conflict` another packet's id: not among them, nor the refusals decided before the
 * signature (UNSIGNED_REJECTION_TYPES), whose content nobody vouches for.
 */
export const PUNCH_REFUSAL_TYPES: ReadonlySet<FraudEventType> = new Set<FraudEventType>([
  'site_not_allowed',
  'timestamp_in_future',
  'timestamp_too_old',
  'outside_token_window',
]);

/** The punch a refusal of PUNCH_REFUSAL_TYPES names, as the phone signed it. */
export interface RefusedPunch {
  type: 'check_in' | 'check_out';
  /** The time the phone claimed (the packet's `timestamp`). */
  at: Date;
}

/** What an admin decides about an event: a false positive (dismissed) or a real one (confirmed). */
export const FRAUD_REVIEW_DECISIONS = ['dismissed', 'confirmed'] as const;
export type FraudReviewDecision = (typeof FRAUD_REVIEW_DECISIONS)[number];

/** An event's review state, as the listing filters it: no review yet, or its latest decision. */
export const FRAUD_REVIEW_STATES = ['unreviewed', ...FRAUD_REVIEW_DECISIONS] as const;
export type FraudReviewState = (typeof FRAUD_REVIEW_STATES)[number];

/**
 * What a stored event or review's tag (FraudSeal) says of it: written by this server as it is
 * (`verified`), stored before tags existed and tagged at the upgrade, unchanged since
 * (`legacy`: what it held before the upgrade nobody can vouch for), or changed outside the
 * server (`tampered`: its tag does not verify, or its review history has a gap). Absent when the
 * store was built without the tags (a contract spec).
 */
export const FRAUD_INTEGRITY_STATES = ['verified', 'legacy', 'tampered'] as const;
export type FraudIntegrity = (typeof FRAUD_INTEGRITY_STATES)[number];

/**
 * One admin review of a fraud event. Every review is kept (the event's review history, oldest
 * first); the latest is the event's current review. A dismissed event no longer weighs on the
 * device's trust score.
 */
export interface FraudReview {
  id: string;
  decision: FraudReviewDecision;
  reason: string;
  /** `<role>:<key id>` of the API key that reviewed (as kiosk and device events record it). */
  by: string;
  at: Date;
  /** Whether its tag verifies, in the history it belongs to (FraudSeal.checkHistory). */
  integrity?: FraudIntegrity;
}

export interface FraudEvent {
  id: string;
  type: FraudEventType;
  deviceId?: string;
  workerId?: string;
  siteId?: string;
  packetId?: string;
  /** For humans; never a secret, token or signature. */
  detail: string;
  at: Date;
  /**
   * The refused punch (PUNCH_REFUSAL_TYPES only; absent on every other event and on events
   * recorded before it was kept): covered by the event's tag.
   */
  punch?: RefusedPunch;
  /** The latest review, absent while the event is unreviewed. */
  review?: FraudReview;
  /** Whether its tag verifies (and, read with its reviews, whether their history holds). */
  integrity?: FraudIntegrity;
}

/** What weighs on a trust score of one event: its type and time (not dismissed). */
export interface FraudWeight {
  type: FraudEventType;
  at: Date;
}

/**
 * A weighing event as the trust history reads it: its type and time, its id, and whether its
 * tag verifies (absent from a store built without the tags: counted as nothing).
 */
export interface CheckedFraudWeight extends FraudWeight {
  id: string;
  integrity?: FraudIntegrity;
}

export interface FraudEventCriteria {
  type?: FraudEventType;
  deviceId?: string;
  workerId?: string;
  siteId?: string;
  from?: Date;
  to?: Date;
  review?: FraudReviewState;
  /** Leaves dismissed events out (what weighs on a device's trust score). */
  excludeDismissed?: boolean;
  limit: number;
  /** Keyset pagination: only events strictly older than this one in (at, id) order. */
  before?: { at: Date; id: string };
}
