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

export type FraudFinding = Omit<FraudEvent, 'id' | 'at'>;

/**
 * A pattern rule (impossible travel, outside the geofence, rapid repeats, one device shared
 * by many workers): it looks at accepted packets and reports findings, which are recorded as
 * fraud events without rejecting the packet. The rules engine is issue 7; it provides rules
 * under PACKET_RULES.
 */
export abstract class PacketRule {
  abstract readonly name: string;
  abstract evaluate(packets: PacketObservation[]): Promise<FraudFinding[]>;
}

export const PACKET_RULES = Symbol('PACKET_RULES');
