/**
 * The shapes the console reads, named for the pages. Every one is a schema of
 * docs/openapi.json (apps/console/src/api-types.ts is generated from it by `npm run openapi`),
 * so a changed contract fails the console's typecheck instead of drifting.
 */
import {
  ChallengeStateView,
  CheckpointView,
  ConnectedKiosksView,
  DayFlagView,
  DeviceTrustView,
  FraudEventDetailView,
  FraudEventView,
  FraudEventViewTypeValues,
  FraudReviewView,
  FraudReviewViewDecisionValues,
  GenerateChallengeResponse,
  KioskConnectionView,
  KioskEventView,
  KioskView,
  LedgerVerificationView,
  PayrollCloseView,
  PayrollClosesView,
  PayrollTotalsView,
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
  WorkerDetailView,
  WorkerDeviceDetailView,
  WorkerDeviceView,
  WorkerEnrollmentCodeResponse,
  WorkerEventView,
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
export type WorkerDetail = WorkerDetailView;
export type WorkerEvent = WorkerEventView;
export type WorkerEnrollmentCode = WorkerEnrollmentCodeResponse;
export type WorkerDevice = WorkerDeviceView;
export type WorkerDeviceDetail = WorkerDeviceDetailView;
export type TrustFactor = TrustFactorView;
export type DeviceTrust = DeviceTrustView;
export type FraudEvent = FraudEventView;
export type FraudEventDetail = FraudEventDetailView;
export type FraudReview = FraudReviewView;

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
export type PayrollTotals = PayrollTotalsView;
export type PayrollClose = PayrollCloseView;
export type PayrollCloses = PayrollClosesView;

/** Every fraud event type, for the filter (generated from the contract's enum). */
export const FRAUD_EVENT_TYPES = FraudEventViewTypeValues;
export const FRAUD_REVIEW_DECISIONS = FraudReviewViewDecisionValues;
