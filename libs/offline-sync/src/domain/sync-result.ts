import { FraudEventType } from '@app/fraud';

/** Why a packet was not accepted. Each reason is also recorded as a fraud event of that type. */
export type RejectionReason = Extract<
  FraudEventType,
  | 'malformed_packet'
  | 'device_mismatch'
  | 'invalid_signature'
  | 'worker_mismatch'
  | 'site_not_allowed'
  | 'timestamp_in_future'
  | 'timestamp_too_old'
  | 'outside_token_window'
  | 'packet_id_conflict'
>;

export type PacketResult =
  | { packetId: string; status: 'accepted' | 'duplicate'; seq: number; recordHash: string }
  | { packetId: string; status: 'rejected'; reason: RejectionReason };

export interface SyncOutcome {
  results: PacketResult[];
  accepted: number;
  duplicates: number;
  rejected: number;
}
