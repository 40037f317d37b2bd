/**
 * The shapes the console reads, named for the pages. Every one is a schema of
 * docs/openapi.json (apps/console/src/api-types.ts is generated from it by `npm run openapi`),
 * so a changed contract fails the console's typecheck instead of drifting.
 */
import type {
  ChallengeStateView,
  CheckpointView,
  ConnectedKiosksView,
  DayFlagView,
  DeviceTrustView,
  FraudEventView,
  GenerateChallengeResponse,
  KioskConnectionView,
  KioskEventView,
  KioskView,
  LedgerVerificationView,
  PayrollView,
  PayrollWorkerView,
  PunchView,
  ShiftView,
  SiteView,
  ThekedarView,
  TimesheetDayView,
  TimesheetPageView,
  TrustFactorView,
  VaultAuditRecordView,
  VaultAuditVerificationView,
  WhoAmIView,
  WorkerDeviceDetailView,
  WorkerDeviceView,
  WorkerView,
} from './api-types';

export type WhoAmI = WhoAmIView;
export type Role = WhoAmIView['roles'][number];

export type Kiosk = KioskView;
export type KioskEvent = KioskEventView;
export type KioskConnection = KioskConnectionView;
export type ConnectedKiosks = ConnectedKiosksView;
export type GeneratedChallenge = GenerateChallengeResponse;
export type ChallengeState = ChallengeStateView;

export type Site = SiteView;
export type Thekedar = ThekedarView;
export type Worker = WorkerView;
export type WorkerDevice = WorkerDeviceView;
export type WorkerDeviceDetail = WorkerDeviceDetailView;
export type TrustFactor = TrustFactorView;
export type DeviceTrust = DeviceTrustView;
export type FraudEvent = FraudEventView;

export type LedgerVerification = LedgerVerificationView;
export type LedgerCheckpoint = CheckpointView;
export type VaultAuditRecord = VaultAuditRecordView;
export type VaultAuditVerification = VaultAuditVerificationView;

export type TimesheetFlag = DayFlagView;
export type TimesheetPunch = PunchView;
export type TimesheetShift = ShiftView;
export type TimesheetDay = TimesheetDayView;
export type TimesheetPage = TimesheetPageView;
export type PayrollWorker = PayrollWorkerView;
export type Payroll = PayrollView;

/** Every fraud event type, for the filter (checked against the contract's enum). */
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
] as const satisfies ReadonlyArray<FraudEvent['type']>;

/** Compile-time: the list above names every type the contract has (a new one fails here). */
type Missing = Exclude<FraudEvent['type'], (typeof FRAUD_EVENT_TYPES)[number]>;
export const FRAUD_TYPES_COMPLETE: [Missing] extends [never] ? true : Missing = true;
