/**
 * Why something looked like fraud. Sync rejections are recorded with their reason as the
 * type; pattern rules (impossible travel, geofence, rapid repeats, shared devices) add their
 * own types when the rules engine lands (issue 7).
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
}
