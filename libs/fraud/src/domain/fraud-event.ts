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
] as const;
export type FraudEventType = (typeof FRAUD_EVENT_TYPES)[number];

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
}

export interface FraudEventCriteria {
  type?: FraudEventType;
  deviceId?: string;
  workerId?: string;
  siteId?: string;
  from?: Date;
  to?: Date;
  limit: number;
  /** Keyset pagination: only events strictly older than this one in (at, id) order. */
  before?: { at: Date; id: string };
}
