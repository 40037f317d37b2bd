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

/** Proof that a packet's link is in its site's log, against the batch's checkpoint of that site. */
export interface PacketReceipt {
  seq: number;
  leafIndex: number;
  leafHash: string;
  treeSize: number;
  inclusionProof: string[];
}

export type PacketResult =
  | {
      packetId: string;
      status: 'accepted' | 'duplicate';
      seq: number;
      recordHash: string;
      receipt?: PacketReceipt;
    }
  | { packetId: string; status: 'rejected'; reason: RejectionReason };

/** A signed checkpoint handed back with receipts (one per site the batch touched). */
export interface SyncCheckpoint {
  siteId: string;
  origin: string;
  treeSize: number;
  rootHash: string;
  note: string;
}

export interface SyncOutcome {
  results: PacketResult[];
  accepted: number;
  duplicates: number;
  rejected: number;
  checkpoints?: SyncCheckpoint[];
}
