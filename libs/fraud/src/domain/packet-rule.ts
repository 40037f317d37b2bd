import { FraudEvent } from './fraud-event';

/** An accepted attendance packet, as the pattern rules see it. */
export interface PacketObservation {
  packetId: string;
  deviceId: string;
  workerId: string;
  siteId: string;
  type: 'check_in' | 'check_out';
  timestamp: Date;
  geo: { lat: number; lng: number; accuracyM: number };
}

/** A site's geofence: a circle of radiusM metres around its centre. */
export interface SiteGeofence {
  siteId: string;
  geo: { lat: number; lng: number };
  radiusM: number;
}

/**
 * What was accepted before, as the caller knows it. OfflineSync passes its LedgerService
 * (an exported service), so the rules never reach another module's repository, and Fraud
 * does not depend on OfflineSync.
 */
export interface AttendanceHistory {
  /**
   * For each packet, the worker's accepted packet just before it in time (timestamp, then
   * packetId), in the order of `packets`: one lookup for a whole batch.
   */
  previousOfEach(packets: PacketObservation[]): Promise<(PacketObservation | undefined)[]>;
  /** Distinct workers with accepted packets from the device timestamped within [from, to]. */
  workersOnDevice(deviceId: string, from: Date, to: Date): Promise<string[]>;
  /** The phone's first registration (same SIM hash, registered earliest) that `deviceId` shares. */
  establishedDeviceOf(deviceId: string): Promise<string>;
}

/** What a rule asks of the past: FraudService answers `previousOf` from one batched lookup. */
export interface RuleHistory extends Omit<AttendanceHistory, 'previousOfEach'> {
  /**
   * The worker's accepted packet just before this one in time (timestamp, then packetId). An
   * answer in hand (every screened packet's: one lookup before the rules run) is given as it
   * is, a lookup still to make as a promise: a rule awaits only a promise, so a batch's ~1,000
   * asks cost no promise, microtask and async-hooks bookkeeping each.
   */
  previousOf(packet: PacketObservation): MaybeAnswer<PacketObservation | undefined>;
}

/** An answer in hand, or a promise of one. */
export type MaybeAnswer<T> = T | Promise<T>;

/** Whether an answer is still to come (a thenable), not in hand. */
export function isPending<T>(asked: MaybeAnswer<T>): asked is Promise<T> {
  return typeof (asked as { then?: unknown } | undefined)?.then === 'function';
}

export interface ScreeningContext {
  history: AttendanceHistory;
  /** The geofences of the sites the packets name (a site missing here is not checked). */
  sites: ReadonlyMap<string, SiteGeofence>;
}

/** What each rule is given: the screening context, the history asked packet by packet. */
export interface RuleContext {
  history: RuleHistory;
  sites: ReadonlyMap<string, SiteGeofence>;
}

export type FraudFinding = Omit<FraudEvent, 'id' | 'at'>;

/**
 * A pattern rule (impossible travel, outside the geofence, rapid repeats, one device shared
 * by many workers): it looks at packets that were accepted (already in the ledger) and
 * reports findings, which are recorded as fraud events without rejecting the packet.
 * Rules are provided under PACKET_RULES.
 */
export abstract class PacketRule {
  abstract readonly name: string;
  abstract evaluate(packets: PacketObservation[], context: RuleContext): Promise<FraudFinding[]>;
}

export const PACKET_RULES = Symbol('PACKET_RULES');
