import { FraudEventType } from '@app/fraud';

/** Why a packet was not accepted. Each reason is also recorded as a fraud event of that type. */
export type RejectionReason =
  | Extract<
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
    >
  | 'worker_inactive';

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
  | {
      packetId: string;
      status: 'rejected';
      reason: RejectionReason;
      /**
       * For a rejection caused by the packet's own form (`malformed_packet`, `invalid_signature`):
       * what is wrong, for the phone's developer. Never a value the packet or the server holds.
       */
      detail?: string;
    };

/** Every rejection reason, as the sync result lists them (OpenAPI's enum). */
export const REJECTION_REASONS: readonly RejectionReason[] = [
  'malformed_packet',
  'device_mismatch',
  'invalid_signature',
  'worker_mismatch',
  'site_not_allowed',
  'timestamp_in_future',
  'timestamp_too_old',
  'outside_token_window',
  'packet_id_conflict',
  'worker_inactive',
];

/** What the sender is told of an `invalid_signature`: that it does not verify, nothing more. */
export const INVALID_SIGNATURE_DETAIL =
  'signature does not verify: it must be the HMAC-SHA256 of JCS(payload) under the device secret';

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
