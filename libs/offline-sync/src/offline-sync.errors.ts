import { CodeOf, DomainError } from '@app/common';

/** What attendance sync and the ledger's proofs refuse with. */
export const OFFLINE_SYNC_ERRORS = {
  module: 'offline-sync',
  codes: {
    missing_token: 'no `Authorization: Bearer <offline token>` header',
    invalid_token:
      'the offline token is not valid; its reason is in the message: `malformed`, `bad_signature` (no key of ours signed it), `key_outside_window` (a retired key, after its window), `wrong_type`, `not_yet_valid`, `expired`, or `not_issued` (signed by a key of ours, but this server has no record of issuing it: a forgery)',
    token_expired:
      'the offline token expired more than OFFLINE_TOKEN_GRACE_DAYS ago; refresh it (POST /api/v5/device/token)',
    unknown_device: 'the device of the token is not registered',
    device_blocked:
      "the worker's phone is blocked (by an admin, or its trust score fell below TRUST_AUTO_BLOCK_FLOOR)",
    thekedar_device:
      "the token is a thekedar's phone's: attendance is the workers' own, recorded by their phones (a thekedar's phone onboards workers and reads its sites' timesheets with signed requests); the batch is refused whole, nothing stored, no fraud event (the phone's trust is untouched)",
    worker_inactive:
      "the phone's worker was deactivated (left): no packet is accepted, even under a token still valid, until an admin reactivates the worker",
    worker_tampered:
      "the phone's worker's stored record does not verify under the server's store-MAC tag (changed outside the server: its status, sites, trust score…, or its newest event deleted), or is missing (the row deleted outside the server: the server never deletes a worker): no packet is accepted until an operator restores the record from a backup",
    site_tampered:
      "a packet of the batch is for a site whose stored record (geofence, time zone) does not verify under the server's store-MAC tag (SiteSeal: changed outside the server): the fraud screen cannot check the geofence, so nothing of the batch is stored; the phone keeps its packets and retries until an operator restores the site's record from a backup (`errors` names the siteIds)",
    too_many_packets: 'the batch holds more packets than SYNC_MAX_PACKETS',
    invalid_signatures: 'no packet in the batch carries a valid device signature',
    sync_screen_unfinished:
      "the store failed after the batch's accepted packets were appended to the ledger, while its fraud events (its refusals and the pattern rules' flags, one write) were found or written: the accepted punches are recorded (no punch is lost) but the batch's screening is unfinished; send the same batch again: its accepted packets come back `duplicate` with their receipts (on MongoDB `accepted`: the batch's pending marker was released, so the re-send screens them) and its refused ones are refused again and their events recorded then (the failed write kept none of them); on SQLite the pattern rules are not run again on packets already in the ledger",
    checkpoint_unavailable:
      'the packets are stored but their checkpoint could not be signed; send the same batch again for receipts',
    ledger_unauthenticated_entry:
      "the site's ledger holds an entry past its last checkpoint that carries no valid server MAC (written straight into the database, with no MAC or with one copied from another link, or tagged under a signing key retired before it was sealed): the server signs no checkpoint over it and takes no append to the site until an operator runs `ledger:seal-foreign`; or a packet's key (deviceId, packetId) is found on a link whose hashed data names another key (its stored key copy changed in the database): the batch holding that packet is refused whole (none of its packets appended, nor answered as duplicates) until an operator restores the link from a backup; try again later",
    checkpoint_not_found: 'the site has no signed checkpoint yet',
    site_not_found: 'no site has this siteId',
    link_not_found: 'no ledger link of this site matches',
    invalid_proof_request:
      'the proof request names no entry, both, a packetId without its deviceId, or a tree size out of range',
  },
} as const;

export type OfflineSyncErrorCode = CodeOf<typeof OFFLINE_SYNC_ERRORS>;

export class OfflineSyncError extends DomainError<OfflineSyncErrorCode> {
  readonly module = OFFLINE_SYNC_ERRORS.module;
}
