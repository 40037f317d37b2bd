/** The shapes the console reads (see docs/openapi.json). */
export type Role = 'admin' | 'provisioner' | 'auditor' | 'mobile' | 'hardware';

export interface WhoAmI {
  roles: Role[];
  keyId: string;
}

export interface Kiosk {
  device_id: string;
  key_fingerprint: string;
  status: 'active' | 'blocked';
  created_at: string;
  updated_at: string;
}

export interface KioskEvent {
  action: string;
  actor: string;
  reason?: string;
  key_fingerprint?: string;
  previous_key_fingerprint?: string;
  at: string;
}

export interface GeneratedChallenge {
  qr_payload: { bson_id: string; challenge: string };
  expires_at: string;
  qr_url: string;
}

export interface ChallengeState {
  bson_id: string;
  device_id: string;
  wifi_ssid: string;
  state: 'waiting' | 'used' | 'locked' | 'expired';
  wrong_attempts: number;
  max_attempts: number;
  expires_at: string;
  used_at?: string;
}

export interface Site {
  siteId: string;
  name: string;
  geo: { lat: number; lng: number };
  radiusM: number;
  timeZone?: string;
  createdAt: string;
}

export interface Thekedar {
  thekedarId: string;
  name: string;
  phone: string;
  trustScore: number;
  createdAt: string;
}

export interface Worker {
  workerId: string;
  name: string;
  phone: string;
  siteIds: string[];
  trustScore: number;
  sponsorKind: 'admin' | 'thekedar';
  thekedarId?: string;
  trustInheritedUntil?: string;
  createdAt: string;
}

export interface WorkerDevice {
  deviceId: string;
  user: { kind: 'worker' | 'thekedar'; id: string };
  siteIds: string[];
  fingerprint: { os: string; model: string; simHash: string };
  trustScore: number;
  isBlocked: boolean;
  lastSeen?: string;
  createdAt: string;
  events?: Array<{ action: string; actor: string; reason?: string; at: string }>;
}

export interface TrustFactor {
  name: string;
  effect: number;
  detail: string;
}

export interface DeviceTrust {
  deviceId: string;
  score: number;
  factors: TrustFactor[];
  computedAt: string;
}

export interface FraudEvent {
  id: string;
  type: string;
  deviceId?: string;
  workerId?: string;
  siteId?: string;
  packetId?: string;
  detail: string;
  at: string;
}

export interface LedgerVerification {
  ok: boolean;
  length: number;
  headHash: string;
  brokenAtSeq?: number;
  reason?: string;
  checkpointsChecked: number;
}

export interface LedgerCheckpoint {
  siteId: string;
  seq: number;
  headHash: string;
  signedAt: string;
  kid: string;
}

export interface VaultAuditRecord {
  seq: number;
  fileId: string;
  actor: string;
  role: string;
  ip: string;
  purpose: string;
  action: string;
  result: string;
  reason?: string;
  at: string;
  recordHash: string;
}

export interface VaultAuditVerification {
  ok: boolean;
  length: number;
  headHash: string;
  brokenAtSeq?: number;
}

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
  'impossible_travel',
  'outside_geofence',
  'rapid_repeat',
  'shared_device',
  'onboarding_signature_invalid',
  'onboarding_replay',
  'onboarding_stale_timestamp',
] as const;

export interface TimesheetFlag {
  type:
    | 'open_shift'
    | 'check_out_without_check_in'
    | 'low_trust'
    | 'corrected'
    | 'voided_punch'
    | 'fraud';
  seq: number;
  detail?: string;
}

export interface TimesheetPunch {
  seq: number;
  at: string;
  local: string;
}

export interface TimesheetShift {
  in: TimesheetPunch;
  out?: TimesheetPunch;
  seconds: number;
}

export interface TimesheetDay {
  workerId: string;
  date: string;
  firstIn?: string;
  lastOut?: string;
  hours: number;
  workedSeconds: number;
  shifts: TimesheetShift[];
  flags: TimesheetFlag[];
  flagged: boolean;
  corrected: boolean;
  seqs: number[];
}

export interface TimesheetPage {
  siteId: string;
  timeZone: string;
  from: string;
  to: string;
  days: TimesheetDay[];
  nextCursor?: string;
}

export interface PayrollWorker {
  workerId: string;
  daysPresent: number;
  hours: number;
  workedSeconds: number;
  flaggedDays: number;
  correctedDays: number;
}

export interface Payroll {
  siteId: string;
  timeZone: string;
  from: string;
  to: string;
  workers: PayrollWorker[];
}

export interface KioskConnection {
  deviceId: string;
  connected: boolean;
}

export interface ConnectedKiosks {
  kiosks: KioskConnection[];
}
